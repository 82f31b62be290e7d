#!/bin/bash
# The business rules against the emulator: send-as and manual aliases,
# the blocklist, internal and bulk mail, plus addressing and Gmail dots,
# retention, erasure (disconnect --purge) and mailsync-config itself.
# Each setting is switched on and off with a match after each change.
. "$MS_SRC/tests/lib.sh"
EMU_DATA=$MS_SRC/tests/data/rules.json
. "$MS_SRC/tests/lib-emu.sh"
export MAILSYNC_DB="$T/data/mailsync.db"
emu_start
# on CLIENT: the subjects on a client's Emails list, sorted, "|"-joined.
on() { mailsync-show --tsv "$1" | cut -f6 | sort | paste -sd '|'; }
# is CLIENT WANT DESCRIPTION: the client's subjects are WANT.
is() {
	got=$(on "$1")
	if [ "$got" = "$2" ]; then ok "$3"; else
		not_ok "$3"
		echo "# $1: got  '$got'"
		echo "# $1: want '$2'"
	fi
}
set_() {
	run mailsync-config set "$1" "$2"
	[ "$rc" -eq 0 ] || { echo "Bail out! config set $1 $2: $(cat "$T/err")"; exit 1; }
}
match() {
	run mailsync-match
	[ "$rc" -eq 0 ] || { echo "Bail out! match failed: $(cat "$T/err")"; exit 1; }
}
dir() { q "SELECT direction FROM emails WHERE message_id = '<$1@rules.test>'"; }

ACME='Auto-Submitted no is a person|From my phone|Hi Carol|Offer, with Jane|Old renewal|Quote from sales|Renewal|Weekly digest|Your invoice is ready'
ACMEF='Auto-Submitted no is a person|Folded sender|From my phone|Hi Carol|Offer, with Jane|Old renewal|Quote from sales|Renewal|Weekly digest|Your invoice is ready'

# Setup: apps, two Gmail accounts and one Outlook account.
setup_apps
connect_mailboxes gmail:alice gmail:bob outlook:carol

# 1. Send-as aliases are read at connect: verified ones only.
run mailsync-config aliases
expect_rc "aliases" 0
expect_out "connect read alice's verified send-as alias, not the pending one nor the primary" \
	< <(printf 'sales@firm.example\tgmail\talice@firm.example\tprovider\n')
run mailsync-config aliases --json
grep_out "aliases --json" '^\{"alias":"sales@firm.example","provider":"gmail","account":"alice@firm.example","origin":"provider"\}$'

# 2. A client record listing a team address gets a warning at import.
cat >"$T/clients.jsonl" <<'J'
{"id": "acme", "email": "ops@acme.example", "contacts": [{"name": "Jane", "email": "jane@acme.example"}]}
{"id": "teamy", "email": "boss@teamy.example", "contacts": [{"name": "Our sales", "email": "sales@firm.example"}]}
{"id": "colleague", "email": "dan@firm.example"}
{"id": "newsco", "email": "news@acme-news.example"}
{"id": "dotty", "email": "john.doe@gmail.com"}
{"id": "plus", "email": "pat@plus.example"}
{"id": "blocky", "email": "promo@spam.example", "contacts": [{"name": "X", "email": "x@mail.spam.example"}]}
{"id": "homey", "email": "alice.private@home.example"}
J
run mailsync-clients import "$T/clients.jsonl"
expect_rc "client import" 0
grep_err "a warning names the client and the team address" \
	"warning: client teamy lists sales@firm.example, an address of the business's own"
check "one warning only" test "$(grep -c warning "$T/err")" = 1

run mailsync-pull -q
expect_rc "pull" 0
match
check "no body text reaches the database" \
	test "$(q "SELECT count(*) FROM emails WHERE snippet LIKE '%BODY-MARKER%' OR body LIKE '%BODY-MARKER%'")" = 0
check "bulk flags from List-Unsubscribe (Gmail and Outlook), Auto-Submitted, Precedence; not Auto-Submitted: no" \
	test "$(q "SELECT group_concat(message_id, ' ') FROM (SELECT message_id FROM emails WHERE bulk ORDER BY 1)")" = "<auto@rules.test> <list@rules.test> <news@rules.test> <outlook-news@rules.test>"

# 3. Defaults: aliases are outbound and never match; internal mail off.
is acme "$ACME" "acme has its emails, the alias's one included"
check "mail from the send-as alias is outbound" test "$(dir sales)" = out
is teamy "" "a team address on a client record makes nothing match"
is colleague "" "exclude.internal (default on): mail among the team is on no profile"
is newsco "Acme newsletter #12|Acme newsletter #13" "newsletters are on profiles while exclude.bulk is off"
is dotty "" "match.gmail_dots off: johndoe@gmail.com is not john.doe@gmail.com"
is plus "" "match.plus_addressing off: pat+crm@ is not pat@"
is blocky "Big offer|Offer, with Jane" "blocky before any block"
is homey "From my phone" "homey before alice's home address is an alias"
run mailsync-match
grep_err "a second match with nothing new changes nothing" "matched 0 emails: 0 new links"

# 4. exclude.internal off and on again.
set_ exclude.internal off
match
is colleague "Lunch?" "exclude.internal off: the internal thread reaches a colleague's record"
set_ exclude.internal on
match
is colleague "" "exclude.internal on again: gone"

# 5. exclude.bulk on and off.
set_ exclude.bulk on
match
grep_err "match says it re-evaluated everything and removed links" "rules changed since the last match"
grep_err "and how many links it removed" "removed [1-9][0-9]* links"
is newsco "" "exclude.bulk on: no newsletter on any profile (Gmail and Outlook)"
is acme "Auto-Submitted no is a person|From my phone|Hi Carol|Offer, with Jane|Old renewal|Quote from sales|Renewal" \
	"exclude.bulk on: automated and list mail leave acme, a person's mail stays"
set_ exclude.bulk off
match
is newsco "Acme newsletter #12|Acme newsletter #13" "exclude.bulk off: they are back"
is acme "$ACME" "exclude.bulk off: acme whole again"

# 6. Normalisation, on both sides of the comparison.
set_ match.gmail_dots on
match
is dotty "Hello from John|Old address" "match.gmail_dots on: johndoe@gmail.com and j.o.h.n.doe@googlemail.com match john.doe@gmail.com"
set_ match.gmail_dots off
match
is dotty "" "match.gmail_dots off again"
printf '{"id": "plus2", "email": "sam+billing@plus2.example"}\n' >"$T/plus2.jsonl"
mailsync-clients -q import "$T/plus2.jsonl"
emu POST /_emu/mailboxes/$B/messages '{"message_id": "<plus-rev@rules.test>", "date": "2026-11-16T09:00:00Z", "from": "bob@firm.example", "to": "sam@plus2.example", "subject": "To plain sam", "body": "x", "labels": ["SENT"]}' >/dev/null ||
	{ echo "Bail out! the emulator refused a message"; exit 1; }
mailsync-pull -q
set_ match.plus_addressing on
match
is plus "Plus addressed" "match.plus_addressing on: pat+crm@ matches a client's pat@"
is plus2 "To plain sam" "and a client's sam+billing@ matches sam@"
emu POST /_emu/mailboxes/$A/messages '{"message_id": "<alice-plus@rules.test>", "date": "2026-11-17T09:00:00Z", "from": "alice+quotes@firm.example", "to": "ops@acme.example", "subject": "Folded sender", "body": "x", "labels": ["SENT"]}' >/dev/null
mailsync-pull -q
match
check "a new email from alice+quotes@ is outbound once matched, as folding says" test "$(dir alice-plus)" = out
set_ match.plus_addressing off
match
is plus "" "match.plus_addressing off again"
is plus2 "" "for both sides"

# 7. The blocklist: past emails leave at the next match, and come back.
run mailsync-config block @Spam.Example
expect_rc "block a domain" 0
match
is blocky "" "a blocked domain covers its subdomains: blocky's emails are gone"
is acme "$ACMEF" "an email with a blocked sender but a client participant stays on that client"
run mailsync-config block jane@acme.example
match
is acme "Auto-Submitted no is a person|Folded sender|From my phone|Quote from sales|Weekly digest|Your invoice is ready" \
	"a blocked address takes the emails it alone matched off acme"
run mailsync-config blocklist
expect_out "blocklist lists the normalised patterns, sorted" < <(printf '@spam.example\njane@acme.example\n')
run mailsync-config unblock @spam.example jane@acme.example
expect_rc "unblock both" 0
match
is blocky "Big offer|Offer, with Jane" "unblocking restores blocky"
is acme "$ACMEF" "and acme"
run mailsync-config unblock jane@acme.example
expect_rc "unblocking what is not blocked" 66
one_line_err "unblocking what is not blocked: says so in one line"

# 8. A manual alias: outbound, and no longer matching a client.
check "before: alice's home address is inbound" test "$(dir home)" = in
run mailsync-config alias $A Alice.Private@home.example
expect_rc "alias" 0
match
check "a manual alias makes its mail outbound at the next match" test "$(dir home)" = out
is homey "" "and never matches a client"
is acme "$ACMEF" "acme keeps the email through ops@"
run mailsync-config unalias $A sales@firm.example
expect_rc "unalias of a provider alias" 66
run mailsync-config unalias $A alice.private@home.example
expect_rc "unalias" 0
match
check "unalias: inbound again" test "$(dir home)" = in
is homey "From my phone" "and on homey again"

# 9. Send-as aliases are read again once a day, with one request.
emu POST /_emu/mailboxes/$A/sendas '{"send_as": [{"sendAsEmail": "alice@firm.example", "isPrimary": true}, {"sendAsEmail": "support@firm.example", "isPrimary": false, "verificationStatus": "accepted"}]}' >/dev/null
emu DELETE /_emu/log >/dev/null
run mailsync-pull -q
check "a pull within the day does not read them" \
	test "$(mailsync-config aliases | cut -f1 | paste -sd ' ')" = "sales@firm.example"
check "and makes one request per account (Outlook's folders in one \$batch)" \
	test "$(emu GET /_emu/log | python3 -c 'import json,sys; print(len([e for e in json.load(sys.stdin)["entries"] if e["path"].startswith(("/gmail/", "/v1.0/")) and "batch" not in e]))')" = 3
q "UPDATE accounts SET aliases_read = aliases_read - 90000"
emu DELETE /_emu/log >/dev/null
run mailsync-pull -q
expect_rc "a pull a day later" 0
check "reads the send-as addresses again: support@ in, sales@ out" \
	test "$(mailsync-config aliases | cut -f1 | paste -sd ' ')" = "support@firm.example"
check "with one settings/sendAs request per Gmail account" \
	test "$(emu GET /_emu/log | python3 -c 'import json,sys; print(sorted(e["mailbox"] for e in json.load(sys.stdin)["entries"] if e["path"].endswith("/settings/sendAs")))')" = "['alice@firm.example', 'bob@firm.example']"
match
check "sales@ is a customer-facing address again: its mail is inbound" test "$(dir sales)" = in
is teamy "Quote from sales" "and it matches the client that lists it"

# 10. Retention: old unmatched synced mail goes, matched and CRM mail stay.
printf 'Message-ID: <crm-old@rules.test>\nDate: Fri, 10 Jan 2025 10:00:00 +0000\nFrom: alice@firm.example\nTo: nobody@nowhere.example\nSubject: Old CRM mail\n\nkept\n' |
	mailsync-record -q >/dev/null
before=$(q "SELECT count(*) FROM emails")
set_ retention.unmatched_days 30
match
check "retention: the old unmatched synced email is deleted" \
	test "$(q "SELECT count(*) FROM emails WHERE message_id = '<old-personal@rules.test>'")" = 0
check "retention: exactly that one" \
	test "$(q "SELECT count(*) FROM emails")" = $((before - 1))
check "retention keeps old matched mail, recent unmatched mail and CRM mail" \
	test "$(q "SELECT count(*) FROM emails WHERE message_id IN ('<old-jane@rules.test>', '<recent-unmatched@rules.test>', '<crm-old@rules.test>')")" = 3
printf '{"id": "prospect", "email": "newlead@prospect.example"}\n' >"$T/p.jsonl"
mailsync-clients -q import "$T/p.jsonl"
match
is prospect "Interested in a quote" "a client added later still finds its recent history"
set_ retention.unmatched_days 0

# 11. Erasure: disconnect --purge.
shared_before=$(q "SELECT count(*) FROM emails WHERE message_id = '<internal@rules.test>'")
only_bob=$(q "SELECT count(*) FROM emails e WHERE e.source <> 'crm' AND EXISTS (SELECT 1 FROM email_accounts x JOIN accounts a ON a.id = x.account_id WHERE x.email_id = e.id AND a.address = '$B') AND NOT EXISTS (SELECT 1 FROM email_accounts x JOIN accounts a ON a.id = x.account_id WHERE x.email_id = e.id AND a.address <> '$B')")
total=$(q "SELECT count(*) FROM emails")
run mailsync-disconnect --purge $B </dev/null
expect_rc "--purge without a terminal and without --yes" 64
one_line_err "--purge without --yes: says so in one line"
check "and changes nothing" test "$(q "SELECT count(*) FROM emails")/$(q "SELECT status FROM accounts WHERE address = '$B'")" = "$total/active"
if command -v script >/dev/null; then
	rc=0
	echo n | script -qec "mailsync-disconnect --purge $B" /dev/null >"$T/out" 2>&1 || rc=$?
	check "on a terminal it asks; answering n changes nothing (exit 1)" \
		test "$rc/$(q "SELECT count(*) FROM emails")" = "1/$total"
	grep_out "the question names the account" "Delete the account $B and the $only_bob synced emails"
fi
run mailsync-disconnect --purge --yes $B
expect_rc "--purge --yes" 0
expect_out "it says what it deleted" < <(printf 'disconnected gmail %s\npurged gmail %s: %s emails deleted\n' $B $B "$only_bob")
check "the emails only bob synced are gone, the others stay" \
	test "$(q "SELECT count(*) FROM emails")" = $((total - only_bob))
check "the email bob shared with alice stays" \
	test "$(q "SELECT count(*) FROM emails WHERE message_id = '<internal@rules.test>'")" = "$shared_before"
check "the account, its tokens, cursors and links are gone" \
	test "$(q "SELECT (SELECT count(*) FROM accounts WHERE address = '$B') + (SELECT count(*) FROM tokens t LEFT JOIN accounts a ON a.id = t.account_id WHERE a.id IS NULL) + (SELECT count(*) FROM email_accounts x LEFT JOIN accounts a ON a.id = x.account_id WHERE a.id IS NULL)")" = 0
check "the database is sound" test "$(q "PRAGMA integrity_check")/$(q "PRAGMA foreign_key_check")" = "ok/"
run mailsync-disconnect $A
expect_rc "a plain disconnect" 0
check "keeps everything" test "$(q "SELECT count(*) FROM emails")" = $((total - only_bob))

# 12. mailsync-config: checked on set, nothing changed on a bad one.
run mailsync-config set exclude.bulk maybe
expect_rc "a bad value" 65
one_line_err "one line"
run mailsync-config set no.such.key 1
expect_rc "an unknown key" 64
grep_err "names the key" 'no setting "no.such.key"'
run mailsync-config set -- retention.unmatched_days -3
expect_rc "a negative retention" 65
run mailsync-config get exclude.bulk
expect_out "nothing was changed by the bad ones" < <(printf 'off\n')
run mailsync-config set sync.since 2026-01-01
run mailsync-config list
grep_out "list shows the stored value" '^sync\.since=2026-01-01$'
grep_out "and the defaults" '^exclude\.internal=on$'
check "list hides the internal state keys" bash -c "! grep -q '^state\.' '$T/out'"
run mailsync-config unset sync.since
run mailsync-config get sync.since
expect_out "unset: back to the default (empty)" < <(printf '\n')
run mailsync-config list --json
check "list --json: one object per setting, with key, value, default, doc" \
	python3 -c 'import json,sys; L=[json.loads(l) for l in open(sys.argv[1])]; sys.exit(not (len(L) >= 10 and all(set(o) == {"key","value","default","doc"} for o in L)))' "$T/out"
run mailsync-config get
expect_rc "get without a key" 64
run mailsync-config frobnicate
expect_rc "an unknown command" 64

done_testing

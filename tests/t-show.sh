#!/bin/bash
# mailsync-show: the Emails list for people and scripts, --view and
# --accounts.
. "$MS_SRC/tests/lib.sh"
EMU_DATA=$MS_SRC/tests/data/show-emu.json
. "$MS_SRC/tests/lib-emu.sh"
export MAILSYNC_DB="$T/db"
crm="$MS_SRC/share/sample/crm"

# The fixture, made by the tools: the sample clients, three CRM emails
# recorded, and what the emulator's mailboxes (tests/data/show-emu.json)
# hold pulled: a Gmail email that alice and bob both hold, with HTML's
# characters in its subject and a tab and a newline in its snippet, and
# an Outlook one of bob's. carol connects and never syncs.
mailsync-clients -q import "$MS_SRC/share/sample/clients.jsonl"
for m in "$crm"/0[124]*.eml; do mailsync-record -q "$m" >/dev/null; done
emu_start
setup_apps
connect_mailbox gmail alice@firm.example alice
connect_mailbox outlook bob@firm.example bob
# alice first: the email both hold is stored from her Gmail copy.
mailsync-pull -q --account alice@firm.example &&
	mailsync-pull -q --account bob@firm.example ||
	{ echo "Bail out! the fixture's pull failed"; exit 1; }
connect_mailbox outlook carol@firm.example carol
mailsync-match -q
g=$(q "SELECT id FROM emails WHERE message_id = '<g1@acme.example>'")
o=$(q "SELECT id FROM emails WHERE message_id = '<o1@acme.example>'")

# The clock: health is how long ago an account synced, so rather than
# wait, these tests move an account's times back.
last_synced_at() { q "UPDATE accounts SET last_sync = $2 WHERE address = '$1'"; }
connected_at() { q "UPDATE accounts SET created = $2 WHERE address = '$1'"; }

# The table for people: newest first, arrows, badges, attachment mark;
# nothing cut when stdout is not a terminal and COLUMNS is unset.
run env -u COLUMNS mailsync-show c-17
expect_rc "show a client" 0
expect_out "the table: newest first; arrow, badge, date, 📎, the sender (in) or first recipient (out), subject — snippet, white space flattened" <<'EOF'
↑ CRM     2026-11-24 07:15    Raj Patel                Re: Welcome to Firm, Acme! — Raj, Jane -- the review moved to Wednesday 10:00. See you then.
↓ Outlook 2026-11-17 23:06    Jane Doe                 Question — Quick question about the contract
↑ CRM     2026-11-16 08:30    Doe, Jane                Welcome to Firm, Acme! — Hi Jane, Welcome aboard. Your client portal is ready at https://portal.firm.example and your first review is booked for next Tuesday. Best, Alice
↓ Gmail   2026-11-16 04:26 📎 Jane Doe                 Renewal <b>&</b> — Hi Alice, tab and newline
EOF
check "no colour when stdout is not a terminal" \
	bash -c "! grep -q $'\033' '$T/out'"

run mailsync-show --color always c-17
grep_out "--color always: blue down arrow for inbound" $'\033\\[34m↓'
grep_out "green up arrow for outbound" $'\033\\[32m↑'
grep_out "green CRM badge" $'\033\\[32mCRM'
grep_out "red Gmail badge" $'\033\\[31mGmail'
grep_out "blue Outlook badge" $'\033\\[34mOutlook'
run mailsync-show --color never c-17
check "--color never: no colour" bash -c "! grep -q $'\033' '$T/out'"
run mailsync-show --color sometimes c-17
expect_rc "a bad --color" 64

# On a terminal: colour, unless NO_COLOR.
if command -v script >/dev/null; then
	script -qec "mailsync-show c-17" /dev/null >"$T/tty" 2>&1
	check "on a terminal the table is coloured" grep -q $'\033\\[' "$T/tty"
	NO_COLOR=1 script -qec "mailsync-show c-17" /dev/null >"$T/tty" 2>&1
	check "NO_COLOR turns colour off on a terminal" \
		bash -c "! grep -q $'\033\\\\[3' '$T/tty'"
	COLUMNS=60 script -qec "stty cols 60; mailsync-show c-17" /dev/null >"$T/tty" 2>&1
	check "on a terminal lines are cut to its width" \
		test "$(tr -d '\r' <"$T/tty" | sed 's/\x1b\[[0-9;]*m//g' | wc -L)" -le 60
else
	ok "# SKIP script(1) not installed"
fi

# --json and --tsv: the contract's fields, types and values, in the
# golden files (share/json/email.md is the JSON's reference).
run mailsync-show --json c-17
expect_rc "--json" 0
expect_golden "--json: one JSON object per line, newest first, with the contract's fields" \
	show-c17.jsonl
run mailsync-show --tsv c-17
expect_golden "--tsv: id, date, direction, source, from, subject, attachments; seven fields a line" \
	show-c17.tsv

# --html: everything escaped.
run mailsync-show --html c-17
grep_out "--html: a table" '^<table class="ms-emails-table">'
grep_out "--html escapes subjects" 'Renewal &lt;b&gt;&amp;&lt;/b&gt;'
check "--html: no raw tag from the data" bash -c "! grep -q '<b>' '$T/out'"

# --html: a standalone page; --fragment: the table alone.
check "--html: a complete HTML5 page" \
	bash -c "head -1 '$T/out' | grep -qx '<!DOCTYPE html>' && tail -1 '$T/out' | grep -qx '</html>'"
check "--html: UTF-8, no script, nothing loaded from elsewhere" \
	bash -c "grep -q '<meta charset=\"utf-8\">' '$T/out' && ! grep -qiE '<script|<link|src=|@import' '$T/out'"
grep_out "--html: a CRM email has a View control with its body" \
	'<details class="ms-view"><summary>View'
check "--html: the page parses, every element closed" python3 - "$T/out" <<'PY'
import sys
from html.parser import HTMLParser
void = {"meta", "br", "hr", "img", "input", "link"}
class P(HTMLParser):
    def __init__(self):
        super().__init__(); self.stack = []
    def handle_starttag(self, t, a):
        if t not in void: self.stack.append(t)
    def handle_endtag(self, t):
        assert self.stack and self.stack[-1] == t, (t, self.stack)
        self.stack.pop()
p = P(); p.feed(open(sys.argv[1], encoding="utf-8").read()); p.close()
assert p.stack == [], p.stack
PY
run mailsync-show --html --fragment c-17
expect_rc "--html --fragment" 0
check "--fragment: only the tab, one element" \
	bash -c "head -1 '$T/out' | grep -q '^<section class=\"ms-tab ms-emails\"' && tail -1 '$T/out' | grep -qx '</section>' && ! grep -q '<html' '$T/out'"
run mailsync-show --html --accounts
grep_out "--accounts --html: an accounts table" '^<table class="ms-accounts-table">'
run mailsync-show --view 2 --html --fragment
grep_out "--view --html: the email as an article" '^<article class="ms-email">'

# Options that do not go together: exit 64, one line.
for args in "--json --tsv c-17" "--tsv --html c-17" "--view 2 --json" \
    "--view 2 --tsv" "--accounts --check --json" "--accounts --check --html" \
    "--fragment c-17" "--accounts --limit 2" "--view 2 --since 2026-01-01"; do
	run mailsync-show $args
	expect_rc "mailsync-show $args" 64
	one_line_err "mailsync-show $args: one line"
done
run mailsync-clients list --json --tsv
expect_rc "mailsync-clients list --json --tsv" 64

# Filters.
check "--limit 2 keeps the newest two" \
	test "$(mailsync-show --tsv --limit 2 c-17 | cut -f1 | tr "\n" " ")" = "3 $o "
check "--since keeps emails from that date on" \
	test "$(mailsync-show --tsv --since 2026-11-17 c-17 | cut -f1 | tr "\n" " ")" = "3 $o "
check "--since takes a date-time with offset" \
	test "$(mailsync-show --tsv --since 2026-11-17T23:00:00-01:00 c-17 | cut -f1 | tr '\n' ' ')" = "3 "
check "--source gmail" test "$(mailsync-show --tsv --source gmail c-17 | cut -f1)" = "$g"
check "--source crm" test "$(mailsync-show --tsv -S crm c-17 | cut -f1 | tr "\n" " ")" = "3 1 "
run mailsync-show --since yesterday c-17
expect_rc "a bad --since" 64
run mailsync-show --source yahoo c-17
expect_rc "a bad --source" 64
run mailsync-show --source imap c-17
expect_rc "--source imap: a source, with no email here" 0
run mailsync-show --limit -1 c-17
expect_rc "a bad --limit" 64

# The client named by any address on its record, any case.
mailsync-show --tsv c-17 >"$T/byid"
for a in ops@acme.example Portal@Acme.Example jane@ACME.example; do
	mailsync-show --tsv "$a" >"$T/byaddr"
	check "client named by $a" cmp -s "$T/byid" "$T/byaddr"
done
run mailsync-show nobody@nowhere.example
expect_rc "an unknown client" 66
one_line_err "the unknown client error is one line"
run mailsync-show
expect_rc "no client" 64

# --view: CRM emails in full, synced ones only as a snippet.
run mailsync-show --view 2
expect_rc "--view a CRM email" 0
grep_out "--view prints decoded headers" "^Subject: Invoice 2026-114 – November$"
grep_out "--view prints the sender" "^From: Firm Billing <billing@firm.example>$"
grep_out "--view prints the body" "due within 30 days of receipt"
run mailsync-show --view "$g"
expect_rc "--view a synced email" 65
grep_err "it says only the snippet is stored" "only its snippet is stored"
grep_out "and prints the snippet" "^Hi Alice"
run mailsync-show --view 999
expect_rc "--view an unknown email" 66
run mailsync-show --view abc
expect_rc "--view a bad id" 64

# --accounts: alice last synced on 2026-11-18, carol connected then and
# never synced since, bob synced just now.
last_synced_at alice@firm.example 1794992000
connected_at carol@firm.example 1794992000
run mailsync-show --accounts --json
expect_rc "--accounts --json" 0
check "--accounts --json: the contract's fields" python3 - "$T/out" <<'PY'
import json, sys, time
from datetime import datetime
rows = [json.loads(l) for l in open(sys.argv[1])]
bob = rows[1]["last_sync"] or ""
# bob's Outlook folders, as the emulator's mailbox names them.
FOLDERS = rows[1]["folders"]
assert "Inbox" in FOLDERS and "Sent Items" in FOLDERS, FOLDERS
assert abs(datetime.fromisoformat(bob.replace("Z", "+00:00")).timestamp() - time.time()) < 600, bob
assert rows == [
 {"provider": "gmail", "address": "alice@firm.example", "member": "alice",
  "status": "active", "last_sync": "2026-11-18T08:53:20Z",
  "last_error": None, "emails": 1, "stale": True, "shared": False,
  "folders": []},
 {"provider": "outlook", "address": "bob@firm.example", "member": "bob",
  "status": "active", "last_sync": bob, "last_error": None, "emails": 2,
  "stale": False, "shared": False, "folders": FOLDERS},
 {"provider": "outlook", "address": "carol@firm.example", "member": "carol",
  "status": "active", "last_sync": None, "last_error": None, "emails": 0,
  "stale": True, "shared": False, "folders": []}], rows
PY
run mailsync-show --accounts
grep_out "--accounts table has a header" "^PROVIDER +ADDRESS +MEMBER +STATUS +LAST SYNC +EMAILS +FOLDERS +LAST ERROR"
grep_out "and a row per account, stale when it has not synced for long" "^outlook +carol@firm.example +carol +active \(stale\) +never +0 +- +-$"
grep_out "a fresh account is not marked stale" "^outlook +bob@firm.example +bob +active +([a-z0-9 ]+ago|just now) +2 +[0-9]+ +-$"

# --accounts --check: for monitoring.
run mailsync-show --accounts --check
expect_rc "--check with stale accounts" 1
check "one line per unhealthy account" test "$(wc -l <"$T/out")" = 2
grep_out "says how long since the last sync" "^gmail alice@firm.example: no successful sync for [0-9]+h[0-9]{2}m$"
grep_out "and when an account never synced" "^outlook carol@firm.example: never synced since it was connected$"
run mailsync-pull -q
expect_rc "a pull of every account" 0
run mailsync-show --accounts --check
expect_rc "--check with every account healthy" 0
check "--check prints nothing when every account is healthy" test ! -s "$T/out"
# alice's grant revoked at Google: the next pull finds it.
emu POST /_emu/grants/revoke '{"mailbox": "alice@firm.example"}' >/dev/null
emu POST /_emu/tokens/expire '{"mailbox": "alice@firm.example"}' >/dev/null
run mailsync-pull -q
expect_rc "a pull after alice's grant was revoked" 77
run mailsync-show --accounts --check
expect_rc "--check with an account that needs re-authorization" 1
expect_out "names it and why" <<<"gmail alice@firm.example: needs re-authorization (mailsync-connect): Gmail token endpoint: HTTP 400 invalid_grant: Token has been expired or revoked."
run mailsync-disconnect alice@firm.example
expect_rc "disconnect alice" 0
run mailsync-show --accounts --check
expect_rc "a disconnected account is not checked" 0
last_synced_at bob@firm.example "$(($(date +%s) - 1800))"
mailsync-config -q set health.stale_minutes 20
run mailsync-show --accounts --check
expect_rc "health.stale_minutes sets the threshold" 1
run mailsync-show --check c-17
expect_rc "--check without --accounts" 64
mailsync-clients --db "$T/empty.db" import /dev/null
run env MAILSYNC_DB="$T/empty.db" mailsync-show --accounts
expect_rc "--accounts with no accounts" 0
check "--accounts prints nothing when there are none" test ! -s "$T/out"

done_testing

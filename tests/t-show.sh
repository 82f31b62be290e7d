#!/bin/bash
# mailsync-show: the Emails list for people and scripts, --view and
# --accounts.
. "$MS_SRC/tests/lib.sh"
export MAILSYNC_DB="$T/db"
crm="$MS_SRC/share/sample/crm"
q() { sqlite3 "$MAILSYNC_DB" "$1"; }

mailsync-clients -q import "$MS_SRC/share/sample/clients.jsonl"
for m in "$crm"/0[124]*.eml; do mailsync-record -q "$m" >/dev/null; done

# Synced emails arrive with mailsync-pull; until the provider emulator
# drives it, these tests insert them as pull stores them.
q "INSERT INTO accounts (id, provider, address, member, created, last_sync)
     VALUES (1, 'gmail', 'alice@firm.example', 'alice', 0, 1794992000),
            (2, 'outlook', 'bob@firm.example', 'bob', 0, NULL);
   INSERT OR IGNORE INTO addresses (email) VALUES ('jane@acme.example'),
     ('alice@firm.example'), ('bob@firm.example');
   INSERT INTO emails (id, message_id, source, direction, date, subject,
       snippet, has_attachments)
     VALUES (10, '<g1@acme.example>', 'gmail', 'in', 1794803200,
             'Renewal <b>&</b>', 'Hi Alice,	tab and
newline', 1),
            (11, '<o1@acme.example>', 'outlook', 'in', 1794956800,
             'Question', 'Quick question about the contract', 0);
   INSERT INTO email_addrs (email_id, role, pos, address_id, name)
     SELECT 10, 0, 0, id, 'Jane Doe' FROM addresses WHERE email = 'jane@acme.example'
     UNION ALL SELECT 10, 1, 0, id, '' FROM addresses WHERE email = 'alice@firm.example'
     UNION ALL SELECT 11, 0, 0, id, 'Jane Doe' FROM addresses WHERE email = 'jane@acme.example'
     UNION ALL SELECT 11, 1, 0, id, 'Bob' FROM addresses WHERE email = 'bob@firm.example';
   INSERT INTO email_accounts VALUES (10, 1, '18c1'), (10, 2, 'AAMk1'),
     (11, 2, 'AAMk2');"
mailsync-match -q

# The table for people: newest first, arrows, badges, attachment mark.
run mailsync-show c-17
expect_rc "show a client" 0
check "the list is ordered newest first" \
	test "$(mailsync-show --tsv c-17 | cut -f2 | tr '\n' ' ')" = \
	"2026-11-24T07:15:00Z 2026-11-17T23:06:40Z 2026-11-16T08:30:00Z 2026-11-16T04:26:40Z "
grep_out "an inbound Gmail email: down arrow, badge, attachment mark, sender" \
	"^↓ Gmail   2026-11-16 04:26 📎 Jane Doe +Renewal <b>&</b> — Hi Alice, tab and newline$"
grep_out "an outbound CRM email: up arrow, badge, first recipient" \
	"^↑ CRM     2026-11-24 07:15    Raj Patel +Re: Welcome to Firm, Acme!"
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

# --json: the contract's fields, types and values.
run mailsync-show --json c-17
expect_rc "--json" 0
check "--json: one JSON object per line, with the contract's fields" python3 - "$T/out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
want = ["id", "date", "direction", "source", "from", "to", "cc", "subject",
        "snippet", "has_attachments", "message_id", "accounts", "viewable"]
assert len(rows) == 4, rows
for r in rows:
    assert all(k in r for k in want), r
g = next(r for r in rows if r["source"] == "gmail")
assert g == {**g, "id": 10, "date": "2026-11-16T04:26:40Z", "direction": "in",
             "from": {"name": "Jane Doe", "email": "jane@acme.example"},
             "to": [{"name": "", "email": "alice@firm.example"}], "cc": [],
             "subject": "Renewal <b>&</b>", "has_attachments": True,
             "message_id": "<g1@acme.example>",
             "accounts": ["alice@firm.example", "bob@firm.example"],
             "viewable": False}, g
c = rows[0]
assert c["source"] == "crm" and c["direction"] == "out" and c["viewable"] is True
assert c["accounts"] == [] and c["to"][0] == {"name": "Raj Patel", "email": "raj@acme.example"}
assert [r["date"] for r in rows] == sorted((r["date"] for r in rows), reverse=True)
PY

# --tsv: seven fields, tabs and newlines flattened.
run mailsync-show --tsv c-17
check "--tsv: seven tab-separated fields per line" \
	test "$(awk -F'\t' '{print NF}' "$T/out" | sort -u)" = 7
grep_out "--tsv: id, date, direction, source, from, subject, attachments" \
	$'^10\t2026-11-16T04:26:40Z\tin\tgmail\tjane@acme.example\tRenewal <b>&</b>\t1$'

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
	test "$(mailsync-show --tsv --limit 2 c-17 | cut -f1 | tr "\n" " ")" = "3 11 "
check "--since keeps emails from that date on" \
	test "$(mailsync-show --tsv --since 2026-11-17 c-17 | cut -f1 | tr "\n" " ")" = "3 11 "
check "--since takes a date-time with offset" \
	test "$(mailsync-show --tsv --since 2026-11-17T23:00:00-01:00 c-17 | cut -f1 | tr '\n' ' ')" = "3 "
check "--source gmail" test "$(mailsync-show --tsv --source gmail c-17 | cut -f1)" = 10
check "--source crm" test "$(mailsync-show --tsv -S crm c-17 | cut -f1 | tr "\n" " ")" = "3 1 "
run mailsync-show --since yesterday c-17
expect_rc "a bad --since" 64
run mailsync-show --source imap c-17
expect_rc "a bad --source" 64
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
run mailsync-show --view 10
expect_rc "--view a synced email" 65
grep_err "it says only the snippet is stored" "only its snippet is stored"
grep_out "and prints the snippet" "^Hi Alice"
run mailsync-show --view 999
expect_rc "--view an unknown email" 66
run mailsync-show --view abc
expect_rc "--view a bad id" 64

# --accounts
run mailsync-show --accounts --json
expect_rc "--accounts --json" 0
check "--accounts --json: the contract's fields" python3 - "$T/out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert rows == [
 {"provider": "gmail", "address": "alice@firm.example", "member": "alice",
  "status": "active", "last_sync": "2026-11-18T08:53:20Z",
  "last_error": None, "emails": 1, "stale": True},
 {"provider": "outlook", "address": "bob@firm.example", "member": "bob",
  "status": "active", "last_sync": None, "last_error": None, "emails": 2,
  "stale": True}], rows
PY
run mailsync-show --accounts
grep_out "--accounts table has a header" "^PROVIDER +ADDRESS +MEMBER +STATUS +LAST SYNC +EMAILS +LAST ERROR"
grep_out "and a row per account, stale when it has not synced for long" "^outlook +bob@firm.example +bob +active \(stale\) +never +2 +-$"

# --accounts --check: for monitoring.
run mailsync-show --accounts --check
expect_rc "--check with stale accounts" 1
check "one line per unhealthy account" test "$(wc -l <"$T/out")" = 2
grep_out "says how long since the last sync" "^gmail alice@firm.example: no successful sync for [0-9]+h[0-9]{2}m$"
grep_out "and when an account never synced" "^outlook bob@firm.example: never synced since it was connected$"
q "UPDATE accounts SET last_sync = unixepoch()"
run mailsync-show --accounts --check
expect_rc "--check with every account healthy" 0
check "prints nothing" test ! -s "$T/out"
q "UPDATE accounts SET status = 'needs-reauth', last_error = 'Gmail token endpoint: HTTP 400 invalid_grant' WHERE id = 1"
run mailsync-show --accounts --check
expect_rc "--check with an account that needs re-authorization" 1
expect_out "names it and why" <<<"gmail alice@firm.example: needs re-authorization (mailsync-connect): Gmail token endpoint: HTTP 400 invalid_grant"
q "UPDATE accounts SET status = 'disconnected' WHERE id = 1"
run mailsync-show --accounts --check
expect_rc "a disconnected account is not checked" 0
q "UPDATE accounts SET last_sync = unixepoch() - 1800 WHERE id = 2"
q "INSERT INTO settings VALUES ('health.stale_minutes', '20')"
run mailsync-show --accounts --check
expect_rc "health.stale_minutes sets the threshold" 1
run mailsync-show --check c-17
expect_rc "--check without --accounts" 64
mailsync-clients --db "$T/empty.db" import /dev/null
run env MAILSYNC_DB="$T/empty.db" mailsync-show --accounts
expect_rc "--accounts with no accounts" 0
check "prints nothing" test ! -s "$T/out"

done_testing

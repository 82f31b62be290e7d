#!/bin/bash
# mailsync-match: the contract's matching rule, many clients per email,
# idempotent, incremental, --rematch.
. "$MS_SRC/tests/lib.sh"
export MAILSYNC_DB="$T/db"

n=0
# mail FROM TO CC [EXTRA-HEADER]: record a CRM email, print its id.
mail() {
	n=$((n + 1))
	{
		printf 'Message-ID: <m%d@test.example>\n' "$n"
		printf 'Date: Tue, %d Nov 2026 10:00:00 +0000\n' "$n"
		printf 'From: %s\nTo: %s\n' "$1" "$2"
		[ -n "$3" ] && printf 'Cc: %s\n' "$3"
		[ -n "${4:-}" ] && printf '%s\n' "$4"
		printf 'Subject: mail %d\n\nbody %d\n' "$n" "$n"
	} | mailsync-record -q
}
# subjects CLIENT: the subjects on a client's list, newest first.
subjects() { mailsync-show --tsv "$1" | cut -f6 | tr '\n' ' ' | sed 's/ $//'; }

cat >"$T/clients.jsonl" <<'J'
{"id": "acme", "email": "ops@acme.example", "portal_email": "portal@acme.example", "contacts": [{"name": "Jane", "email": "jane@acme.example"}]}
{"id": "globex", "email": "finance@globex.example"}
{"id": "initech", "email": "billing@initech.example"}
J
mailsync-clients -q import "$T/clients.jsonl"

mail "Alice <alice@firm.example>" "OPS@Acme.Example" "" >/dev/null        # 1: main, any case
mail "alice@firm.example" "someone@else.example" "Portal@ACME.example" >/dev/null  # 2: portal in Cc
mail "Jane <jane@acme.example>" "alice@firm.example" "" >/dev/null        # 3: contact in From
mail "alice@firm.example" "jane@acme.example, finance@globex.example" "" >/dev/null  # 4: two clients
mail "alice@firm.example" "nobody@nowhere.example" "" >/dev/null          # 5: no client
mail "alice@firm.example" "x@y.example" "" "Reply-To: ops@acme.example" >/dev/null  # 6: Reply-To only
mail "alice@firm.example" "undisclosed-recipients:;" "" "Bcc: ops@acme.example" >/dev/null  # 7: Bcc only

run mailsync-match --db "$T/fresh.db"
expect_rc "match on a brand-new database" 0
one_line_err "says one line"
grep_err "the contract's summary" "^mailsync-match: matched 0 emails: 0 new links, 0 clients re-evaluated$"

run mailsync-match
expect_rc "match" 0
one_line_err "the first match of a used database: one line"
grep_err "a one-line summary" "^mailsync-match: matched 7 emails: 5 new links"
if grep -q "rules changed" "$T/err"; then
	not_ok "a database never matched claims no rule changed"
else
	ok "a database never matched claims no rule changed"
fi
check "From, To and Cc hit main, portal and contact emails, any case" \
	test "$(subjects acme)" = "mail 4 mail 3 mail 2 mail 1"
check "an email with two clients is on both" \
	test "$(subjects globex)" = "mail 4"
check "a client nobody wrote to has an empty list" \
	test "$(subjects initech)" = ""
check "Reply-To, Bcc and strangers match nothing" \
	test "$(sqlite3 "$MAILSYNC_DB" "SELECT count(*) FROM email_clients WHERE email_id IN (5, 6, 7)")" = 0

mailsync-show --json acme >"$T/before"
run mailsync-match
grep_err "a second run finds nothing new" "matched 0 emails: 0 new links, 0 clients"
mailsync-show --json acme >"$T/after"
check "and changes nothing (idempotent)" cmp -s "$T/before" "$T/after"
run mailsync-match -q
check "--quiet prints nothing" test ! -s "$T/err"

# Incremental: only new emails are evaluated.
mail "billing@initech.example" "alice@firm.example" "" >/dev/null          # 8
run mailsync-match
grep_err "only the new email is evaluated" "matched 1 emails: 1 new links, 0 clients"
check "and lands on its client" test "$(subjects initech)" = "mail 8"

# A client whose addresses changed is re-evaluated over all emails.
cat >"$T/c2.jsonl" <<'J'
{"id": "initech", "email": "billing@initech.example", "contacts": [{"email": "nobody@nowhere.example"}]}
{"id": "acme", "email": "ops@acme.example", "contacts": [{"name": "Jane", "email": "jane@acme.example"}]}
J
mailsync-clients -q import "$T/c2.jsonl"
run mailsync-match
grep_err "the two changed clients are re-evaluated" "2 clients re-evaluated"
check "an old email to a new contact joins the list" \
	test "$(subjects initech)" = "mail 8 mail 5"
check "an email to a dropped portal address leaves it" \
	test "$(subjects acme)" = "mail 4 mail 3 mail 1"

# --rematch gives the same lists, and repairs lost links.
for c in acme globex initech; do mailsync-show --tsv $c; done >"$T/inc"
sqlite3 "$MAILSYNC_DB" "DELETE FROM email_clients"
run mailsync-match --rematch
expect_rc "--rematch" 0
grep_err "--rematch evaluates every email and client" "matched 8 emails: .* 3 clients"
for c in acme globex initech; do mailsync-show --tsv $c; done >"$T/full"
check "--rematch agrees with the incremental runs" cmp -s "$T/inc" "$T/full"

# Removing a client removes its links, not the emails.
mailsync-clients -q remove globex
check "a removed client's links are gone" \
	test "$(sqlite3 "$MAILSYNC_DB" "SELECT count(*) FROM email_clients ec WHERE NOT EXISTS (SELECT 1 FROM clients c WHERE c.id = ec.client_id)")" = 0
check "its emails stay" test "$(sqlite3 "$MAILSYNC_DB" "SELECT count(*) FROM emails")" = 8
check "and stay on the other clients' lists" test "$(subjects acme)" = "mail 4 mail 3 mail 1"

# A rule changed on a used database: still one line, saying so.
mailsync-config -q set match.plus_addressing on
run mailsync-match
expect_rc "a match after a rule changed" 0
one_line_err "one line"
grep_err "says the rules changed and every email was evaluated" \
    "^mailsync-match: matched [0-9]+ emails: .*; the rules changed since the last match, so every email was evaluated again$"

run mailsync-match extra
expect_rc "an unexpected argument" 64

done_testing

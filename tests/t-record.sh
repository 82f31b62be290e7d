#!/bin/bash
# mailsync-record: CRM emails stored in full, parsed properly; malformed
# messages store nothing.
. "$MS_SRC/tests/lib.sh"
export MAILSYNC_DB="$T/db"
crm="$MS_SRC/share/sample/crm"

run mailsync-record "$crm/01-welcome.eml"
expect_rc "record a plain message" 0
expect_out "it prints the new email id" <<<"1"
check "it is stored as a CRM email, outbound" \
	test "$(q "SELECT source, direction FROM emails WHERE id = 1")" = "crm|out"
check "with its full text body" \
	grep -q "booked for next Tuesday" <(q "SELECT body FROM emails WHERE id = 1")
check "the Date header gives the UTC time" \
	test "$(q "SELECT datetime(date, 'unixepoch') FROM emails WHERE id = 1")" = "2026-11-16 08:30:00"
check "the snippet drops the signature" \
	test "$(q "SELECT snippet FROM emails WHERE id = 1")" = "Hi Jane, Welcome aboard. Your client portal is ready at https://portal.firm.example and your first review is booked for next Tuesday. Best, Alice"

run mailsync-record "$crm/01-welcome.eml"
expect_rc "recording the same Message-ID again" 0
expect_out "prints the existing id" <<<"1"
check "and stores nothing new" test "$(q "SELECT count(*) FROM emails")" = 1

run mailsync-record - <"$crm/02-invoice.eml"
expect_out "a message from stdin gets the next id" <<<"2"
check "an RFC 2047 Q subject is decoded" \
	test "$(q "SELECT subject FROM emails WHERE id = 2")" = "Invoice 2026-114 – November"
check "the attachment is detected" \
	test "$(q "SELECT has_attachments FROM emails WHERE id = 2")" = 1
check "the quoted-printable latin-1 part is decoded, soft breaks joined" \
	grep -q "(£ 1,250.00), due within 30 days of receipt." <(q "SELECT body FROM emails WHERE id = 2")
check "the attachment itself is not kept" \
	test "$(q "SELECT instr(body, 'JVBER') FROM emails WHERE id = 2")" = 0

run mailsync-record "$crm/03-bucher.eml"
check "a B-encoded subject is decoded" \
	test "$(q "SELECT subject FROM emails WHERE id = 3")" = "Angebot für Ihre Bücher"
check "a base64 UTF-8 text part is the body, not the HTML one" \
	grep -q "Mit freundlichen Grüßen" <(q "SELECT body FROM emails WHERE id = 3")
check "multipart/alternative is no attachment" \
	test "$(q "SELECT has_attachments FROM emails WHERE id = 3")" = 0
check "encoded display names are decoded; an empty group adds nobody" \
	test "$(q "SELECT group_concat(ea.role || ':' || ea.name || ':' || a.email, ',') FROM email_addrs ea JOIN addresses a ON a.id = ea.address_id WHERE email_id = 3")" = "0:André Durand:andre@firm.example,1:Jürgen Müller:juergen@xn--bcher-kva.example"

# No Message-ID: a synthetic one, stable for the same message.
printf 'From: a@firm.example\nTo: b@acme.example\nDate: Tue, 24 Nov 2026 10:00:00 +0000\nSubject: no id\n\nbody\n' >"$T/noid.eml"
run mailsync-record "$T/noid.eml"
expect_rc "a message without Message-ID" 0
id=$(cat "$T/out")
check "gets a synthetic Message-ID" \
	grep -q "@synthetic.mailsync.invalid>$" <(q "SELECT message_id FROM emails WHERE id = $id")
run mailsync-record "$T/noid.eml"
expect_out "recording it again finds the same email" <<<"$id"

# Malformed messages: one-line error, exit 65, nothing stored.
count=$(q "SELECT count(*) FROM emails")
malformed() {
	desc=$1 pattern=$2
	run mailsync-record "$T/bad.eml"
	expect_rc "$desc" 65
	grep_err "$desc: says what is wrong" "$pattern"
	one_line_err "$desc: one line"
	check "$desc: nothing stored" test "$(q "SELECT count(*) FROM emails")" = "$count"
}
printf 'this is not a header\n\nbody\n' >"$T/bad.eml"
malformed "a header line without a colon" "bad.eml: .*colon"
printf 'To: b@acme.example\nSubject: x\n\nbody\n' >"$T/bad.eml"
malformed "no From" "bad.eml: .*From"
printf 'From: a@firm.example\nDate: the day after tomorrow\n\nbody\n' >"$T/bad.eml"
malformed "an unparsable Date" "bad.eml: .*Date"
: >"$T/bad.eml"
malformed "an empty file" "bad.eml: "

run mailsync-record "$T/nope.eml"
expect_rc "a missing file" 66
run mailsync-record a b
expect_rc "two files" 64

done_testing

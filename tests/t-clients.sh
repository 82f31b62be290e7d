#!/bin/bash
# mailsync-clients: import (JSON Lines, CSV, upsert, --replace), list,
# remove, and bad input that imports nothing.
. "$MS_SRC/tests/lib.sh"
export MAILSYNC_DB="$T/db"
sample="$MS_SRC/share/sample"

ids() { mailsync-clients list --json | python3 -c '
import json, sys
print(" ".join(json.loads(l)["id"] for l in sys.stdin))'; }

run mailsync-clients import "$sample/clients.jsonl"
expect_rc "import the sample JSON Lines" 0
grep_err "a summary says what happened" "imported 4 clients \(4 added, 0 updated, 0 removed\)"
check "the four clients are listed, ordered by id" \
	test "$(ids)" = "c-17 c-18 c-19 c-20"

run mailsync-clients list --json
expect_out "list --json: addresses lower-cased, contacts kept with names, an international domain in IDNA form, an empty portal email none" <<'EOF'
{"id":"c-17","name":"Acme Ltd","email":"ops@acme.example","portal_email":"portal@acme.example","contacts":[{"name":"Jane Doe","email":"jane@acme.example"},{"name":"Raj Patel","email":"raj@acme.example"}]}
{"id":"c-18","name":"Globex Corporation","email":"finance@globex.example","portal_email":null,"contacts":[{"name":"Hank Scorpio","email":"hank@globex.example"}]}
{"id":"c-19","name":"Müller Bücher GmbH","email":"info@xn--bcher-kva.example","portal_email":null,"contacts":[{"name":"Jürgen Müller","email":"juergen@xn--bcher-kva.example"}]}
{"id":"c-20","name":"Initech","email":"billing@initech.example","portal_email":null,"contacts":[]}
EOF

run env -u COLUMNS mailsync-clients list
expect_out "the table: a header and a row per client" <<'EOF'
ID   NAME               EMAIL                      PORTAL              CONTACTS
c-17 Acme Ltd           ops@acme.example           portal@acme.example 2
c-18 Globex Corporation finance@globex.example     -                   1
c-19 Müller Bücher GmbH info@xn--bcher-kva.example -                   1
c-20 Initech            billing@initech.example    -                   0
EOF

# list --json round-trips through import: nothing changes.
mailsync-clients list --json >"$T/round.jsonl"
run mailsync-clients import "$T/round.jsonl"
grep_err "re-importing the list changes nothing" "\(0 added, 0 updated, 0 removed\)"

# Upsert by id: one changed, one new.
cat >"$T/up.jsonl" <<'J'
# comments and blank lines are skipped

{"id": "c-18", "name": "Globex", "email": "  AP@Globex.Example "}
{"id": "c-21", "name": "Umbrella", "email": "info@umbrella.example"}
J
run mailsync-clients import "$T/up.jsonl"
grep_err "upsert: one added, one updated" "\(1 added, 1 updated, 0 removed\)"
run mailsync-clients list --json
grep_out "the updated client has its new, trimmed, lower-cased address" \
	'"id":"c-18","name":"Globex","email":"ap@globex.example","portal_email":null,"contacts":\[\]'
check "the others are kept" test "$(ids)" = "c-17 c-18 c-19 c-20 c-21"

# --replace removes those absent from the input.
run mailsync-clients import --replace "$T/up.jsonl"
grep_err "--replace removes the absent ones" "\(0 added, 0 updated, 3 removed\)"
check "only the input's clients remain" test "$(ids)" = "c-18 c-21"

# CSV, from stdin, with a quoted name holding a comma.
run mailsync-clients import --csv - <"$sample/clients.csv"
expect_rc "import CSV from stdin" 0
run mailsync-clients list --json
grep_out "a quoted CSV field keeps its comma" '"name":"Globex Corporation, Inc."'
grep_out "CSV contacts are split on ;" \
	'"contacts":\[\{"name":"","email":"jane@acme.example"\},\{"name":"","email":"raj@acme.example"\}\]'

# Bad records: the line is named, nothing is imported, exit 65.
before=$(mailsync-clients list --json | md5sum)
bad() {
	desc=$1 line=$2 pattern=$3
	shift 3
	run mailsync-clients import "$@" "$T/bad"
	expect_rc "$desc" 65
	grep_err "$desc: names file and line $line" "bad:$line: "
	grep_err "$desc: says what is wrong" "$pattern"
	one_line_err "$desc: one line"
	check "$desc: nothing imported" \
		test "$(mailsync-clients list --json | md5sum)" = "$before"
}
printf '{"id":"n1","email":"new@x.example"}\n{"name":"no id"}\n' >"$T/bad"
bad "a record without id" 2 "missing client id"
printf '{"id":"n1"}\n\n{"id":"n2","email":"not-an-address"}\n' >"$T/bad"
bad "a malformed address" 3 "invalid address"
printf '{"id":"n1","contacts":[{"email":"a@b@c"}]}\n' >"$T/bad"
bad "a malformed contact address" 1 "contacts"
printf '{"id":"n1"}\n{"id":"n2",\n' >"$T/bad"
bad "truncated JSON" 2 "bad JSON"
printf '{"id":"n1"} trailing\n' >"$T/bad"
bad "text after the object" 1 "bad JSON"
printf '{"id":"n1"}\n{"id":"n1"}\n' >"$T/bad"
bad "a duplicate id" 2 'already on line 1'
printf '{"id":"n1","email":42}\n' >"$T/bad"
bad "a number for an address" 1 '"email" must be a string'
printf '[1,2]\n' >"$T/bad"
bad "not an object" 1 "JSON object"
printf 'id,name,email\nn1,One,one@x.example\nn2,"Two,two@x.example\n' >"$T/bad"
bad "an unterminated CSV quote" 3 "unterminated" --csv
printf 'id,nom\nn1,One\n' >"$T/bad"
bad "an unknown CSV column" 1 'unknown column "nom"' --csv
printf 'name,email\nOne,one@x.example\n' >"$T/bad"
bad "a CSV without id column" 1 'no "id" column' --csv

run mailsync-clients import "$T/missing.jsonl"
expect_rc "a missing input file" 66
grep_err "it names the file" "missing.jsonl"

# remove
run mailsync-clients remove c-20
expect_rc "remove a client" 0
check "it is gone" test "$(ids)" = "c-17 c-18 c-21"
run mailsync-clients remove c-20
expect_rc "remove an unknown client" 66
grep_err "says which id" 'no client with id "c-20"'

run mailsync-clients frobnicate
expect_rc "an unknown command" 64
run mailsync-clients remove
expect_rc "remove without an id" 64
run mailsync-clients
expect_rc "no command at all" 64

done_testing

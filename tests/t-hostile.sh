#!/bin/bash
# mailsync-pull against a hostile provider (the emulator's hostile mode):
# null and mistyped fields, a message that is no message, replies huge,
# deep, endless, trickled or cut, batch replies that answer other
# requests, invalid UTF-8 and duplicate keys, links and stored cursors to
# another origin. Never a crash, never a token sent elsewhere, never a
# half-written page; a bad message is left out and the rest stored; a
# reply bad as a whole fails its account only; memory stays bounded.
. "$MS_SRC/tests/lib.sh"
. "$MS_SRC/tests/lib-emu.sh"
export MAILSYNC_DB="$T/data/mailsync.db"
emu_start
export ACCTS="alice@firm.example bob@firm.example carol@firm.example"
sound() {
	check "$1: PRAGMA integrity_check" test "$(q "PRAGMA integrity_check")" = ok
	check "$1: no page left half done" \
		test "$(q "SELECT count(*) FROM sync_state WHERE json_extract(cursor, '$.pageToken') IS NOT NULL OR json_extract(cursor, '$.nextLink') IS NOT NULL")" = 0
}
# rss: the peak RSS in MB of the last run through /usr/bin/time.
rss() { sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$T/time" | awk '{print int($1 / 1024)}'; }
timed() {
	rc=0
	/usr/bin/time -v -o "$T/time" "$@" >"$T/out" 2>"$T/err" || rc=$?
}

setup_sample gmail:alice gmail:bob outlook:carol
run mailsync-pull -q
expect_rc "a first pull of the sample mailboxes" 0

# 1. Null and mistyped fields inside a Gmail batch part: one message
# with a header whose name is null, one whose value is a number, one
# whose headers are a string; a draft label given as a number.
id1=$(add $A '{"message_id": "<h1.null@acme.example>", "date": "2026-11-20T08:00:00Z", "from": "ops@acme.example", "to": "alice@firm.example", "subject": "Null name", "body": "x"}')
id2=$(add $A '{"message_id": "<h2.num@acme.example>", "date": "2026-11-20T08:01:00Z", "from": "ops@acme.example", "to": "alice@firm.example", "subject": "Number value", "body": "x"}')
id3=$(add $A '{"message_id": "<h3.nohdr@acme.example>", "date": "2026-11-20T08:02:00Z", "from": "ops@acme.example", "to": "alice@firm.example", "subject": "No headers", "body": "x"}')
id4=$(add $A '{"message_id": "<h4.fine@acme.example>", "date": "2026-11-20T08:03:00Z", "from": "ops@acme.example", "to": "alice@firm.example", "subject": "Fine", "body": "x"}')
add $B '{"message_id": "<h5.bob@acme.example>", "date": "2026-11-20T08:04:00Z", "from": "ops@acme.example", "to": "bob@firm.example", "subject": "Bob is fine", "body": "x"}' >/dev/null
fault '{"kind": "json", "prefix": "/gmail/v1/users/me/messages/'"$id1"'", "set": {"payload.headers.*.name": null}}'
fault '{"kind": "json", "prefix": "/gmail/v1/users/me/messages/'"$id2"'", "set": {"payload.headers.*.value": 42, "labelIds": [7, null], "internalDate": {"x": 1}, "snippet": null}}'
fault '{"kind": "json", "prefix": "/gmail/v1/users/me/messages/'"$id3"'", "set": {"payload": "no headers here"}}'
run mailsync-pull --json
nofaults
expect_rc "null and mistyped fields: no crash, the run succeeds" 0
check "every account ok" pc json-all-ok "$T/out" 3
check "a message whose header names are null is stored, those headers ignored" \
	test "$(q "SELECT count(*) FROM email_accounts WHERE provider_id = '$id1'")" = 1
check "... with no subject rather than anything made up, a synthetic Message-ID" \
	test "$(q "SELECT subject || '|' || (message_id LIKE '%@synthetic.mailsync.invalid>') FROM emails e JOIN email_accounts ea ON ea.email_id = e.id WHERE provider_id = '$id1'")" = "|1"
check "a message whose header values are numbers is stored without them (a synthetic Message-ID)" \
	test "$(q "SELECT count(*) FROM email_accounts WHERE provider_id = '$id2'")" = 1
check "a message whose payload is no object is left out" \
	test "$(q "SELECT count(*) FROM email_accounts WHERE provider_id = '$id3'")" = 0
check "the other message of the batch is stored" has '<h4.fine@acme.example>'
check "and the other account's" has '<h5.bob@acme.example>'
grep_err "the left-out message is warned about once, with what was wrong" "alice@firm.example: message $id3 left out: .*payload"
check "... once" test "$(grep -c 'left out' "$T/err")" = 1
sound "after mistyped fields"

# 2. Gmail batch replies that do not answer what was asked: duplicate,
# missing, unknown and extra Content-IDs are refused and asked again;
# parts out of order are matched by id. Nothing lands under another id.
n=0
for mode in dup_cid missing unknown_cid extra reorder; do
	n=$((n + 1))
	for k in 1 2 3; do
		add $A '{"message_id": "<b'$n'.'$k'@acme.example>", "date": "2026-11-20T09:0'$n':0'$k'Z", "from": "ops@acme.example", "to": "alice@firm.example", "subject": "Batch '$mode' '$k'", "body": "x"}' >/dev/null
	done
	fault '{"kind": "batch", "mode": "'$mode'", "prefix": "/batch/gmail/v1", "count": 1}'
	run mailsync-pull --json -a $A
	nofaults
	expect_rc "a batch reply with $mode" 0
	check "$mode: the three messages are stored" \
		test "$(q "SELECT count(*) FROM emails WHERE message_id LIKE '<b$n.%'")" = 3
done
# own_ids ADDRESS PREFIX: each message of the mailbox whose Message-ID is
# starts with the prefix is linked under its own Gmail id.
own_ids() {
	python3 - "$1" "$2" <<'PY'
import json, os, sqlite3, sys, urllib.request
addr, like = sys.argv[1], sys.argv[2]
box = json.load(urllib.request.urlopen(os.environ["EMU"] + "/_emu/mailboxes/%s?limit=100000" % addr))
c = sqlite3.connect(os.environ["MAILSYNC_DB"])
want = {m["messageId"]: m["id"] for m in box["list"] if m["messageId"].startswith(like)}
got = dict(c.execute("SELECT e.message_id, ea.provider_id FROM emails e JOIN email_accounts ea ON ea.email_id = e.id JOIN accounts a ON a.id = ea.account_id WHERE a.address = ? AND e.message_id GLOB ?", (addr, like + "*")).fetchall())
if not want or want != got:
    print("# want %s\n# got  %s" % (want, got)); sys.exit(1)
PY
}
check "every message of those batches is linked under its own id" own_ids $A '<b'
check "no Gmail id is linked twice" \
	test -z "$(q "SELECT provider_id FROM email_accounts GROUP BY account_id, provider_id HAVING count(*) > 1")"
check "each Message-ID stored once" \
	test "$(q "SELECT count(*) - count(DISTINCT message_id) FROM emails")" = 0

# 3. Invalid UTF-8 and duplicate keys in a message part: no crash; what is
# stored is valid UTF-8 (--json prints valid JSON).
id6=$(add $A '{"message_id": "<h6.utf@acme.example>", "date": "2026-11-20T10:00:00Z", "from": "ops@acme.example", "to": "alice@firm.example", "subject": "UTF", "body": "x"}')
body=$(printf '{"id":"%s","id":"%s","threadId":"t\xff\xfe","labelIds":["INBOX"],"snippet":"bad \xc3\x28 utf8 \xed\xa0\x80","internalDate":"1763632800000","payload":{"headers":[{"name":"Subject","value":"Caf\xe9 \xff"},{"name":"From","value":"ops@acme.example"},{"name":"Message-ID","value":"<h6.utf@acme.example>"}]}}' "$id6" "$id6" | base64 -w0)
fault '{"kind": "raw", "prefix": "/gmail/v1/users/me/messages/'"$id6"'", "status": 200, "content_type": "application/json", "body_b64": "'"$body"'"}'
run mailsync-pull --json -a $A
nofaults
expect_rc "invalid UTF-8 and a duplicate key in a message" 0
check "the message is stored" has '<h6.utf@acme.example>'
check "its subject and snippet are valid UTF-8" python3 -c '
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.text_factory = bytes
s, n = c.execute("SELECT subject, snippet FROM emails WHERE message_id = ?", ("<h6.utf@acme.example>",)).fetchone()
s.decode("utf-8"); n.decode("utf-8")' "$MAILSYNC_DB"
mailsync-match -q
run mailsync-show --json c-17
check "show --json stays valid JSON Lines" python3 -c '
import json, sys
for l in open(sys.argv[1], encoding="utf-8"): json.loads(l)' "$T/out"

# 4. Replies bad as a whole fail their account, and only theirs: a page
# that is a huge array of empty objects (within the byte bound, past the
# count bound), one nested past any real depth, one larger than the bound,
# an endless chunked body. Memory stays bounded (below 512 MB).
add $A '{"message_id": "<h7.a@acme.example>", "date": "2026-11-20T11:00:00Z", "from": "ops@acme.example", "to": "alice@firm.example", "subject": "Behind hostile pages", "body": "x"}' >/dev/null
add $B '{"message_id": "<h7.b@acme.example>", "date": "2026-11-20T11:00:00Z", "from": "ops@acme.example", "to": "bob@firm.example", "subject": "Bob behind hostile pages", "body": "x"}' >/dev/null
add $C '{"message_id": "<h7.c@acme.example>", "date": "2026-11-20T11:00:00Z", "from": "ops@acme.example", "to": "carol@firm.example", "subject": "Carol behind hostile pages", "body": "x"}' >/dev/null
for shape in "objects 7340032" "deep 4194304" "objects 48000000" "string 50000000"; do
	set -- $shape
	fault '{"kind": "huge", "shape": "'$1'", "bytes": '$2', "prefix": "/gmail/v1/users/me/history", "mailbox": "alice@firm.example", "count": 6}'
	timed mailsync-pull --json
	cat "$T/err" >>"$T/hostile.err"
	nofaults
	expect_rc "a history page of $1, $2 bytes: a transient failure" 75
	check "$1 $2: alice fails, bob and carol are pulled" \
		pc json-says "$T/out" $A=error $B=ok $C=ok
	check "$1 $2: peak RSS $(rss) MB, below 512 MB" test "$(rss)" -lt 512
done
# Without a terminal, a failing account is said on stderr on its first
# failing run, then once a day (t-notify): the first run said it.
cp "$T/hostile.err" "$T/err"
grep_err "the error says what was refused" "alice@firm.example.*(refused|larger than)"
check "alice's new message waits for a sound reply" hasnt '<h7.a@acme.example>'
check "bob's and carol's are stored" sh -c "$(declare -f q has); has '<h7.b@acme.example>' && has '<h7.c@acme.example>'"
fault '{"kind": "endless", "prefix": "/v1.0/", "mailbox": "carol@firm.example", "count": 10}'
add $C '{"message_id": "<h8.c@acme.example>", "date": "2026-11-20T11:30:00Z", "from": "ops@acme.example", "to": "carol@firm.example", "subject": "Behind an endless page", "body": "x"}' >/dev/null
timed mailsync-pull --json --max-time 60
nofaults
expect_rc "an endless Graph page: a transient failure" 75
check "carol fails, alice and bob are pulled" \
	pc json-says "$T/out" $C=error $A=ok $B=ok
check "an endless page: peak RSS $(rss) MB, below 512 MB" test "$(rss)" -lt 512
check "alice's waiting message is stored now" has '<h7.a@acme.example>'
sound "after replies bad as a whole"
fault '{"kind": "chunked_truncated", "prefix": "/v1.0/", "mailbox": "carol@firm.example", "count": 1}'
run mailsync-pull --json -a $C
nofaults
expect_rc "a chunked page cut short is asked again" 0
check "and carol's messages are stored" sh -c "$(declare -f q has); has '<h7.c@acme.example>' && has '<h8.c@acme.example>'"
sound "after a cut page"

# 5. Tokens go only to their API: a nextLink or deltaLink naming another
# origin (the spy, which records whether it got an Authorization header)
# is never followed, the folder is synced again; so is a stored one.
spy=$(emu GET /_emu/health | python3 -c 'import json,sys; print(json.load(sys.stdin)["spy"])')
emu DELETE /_emu/spy >/dev/null
add $C '{"message_id": "<h9.c@acme.example>", "date": "2026-11-20T12:00:00Z", "from": "ops@acme.example", "to": "carol@firm.example", "subject": "Behind a foreign link", "body": "x"}' >/dev/null
fault '{"kind": "foreign_link", "link": "both", "prefix": "/v1.0/", "mailbox": "carol@firm.example", "count": 1}'
run mailsync-pull --json -a $C
nofaults
expect_rc "a delta page linking to another origin" 0
check "the spy got no request at all" test "$(emu GET /_emu/spy | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["requests"]))')" = 0
grep_err "a warning names the other origin" "carol@firm.example: the .* leads to ${spy#http://}|carol@firm.example: the .* leads to $spy"
check "the folder was synced again and the message stored" has '<h9.c@acme.example>'
check "no stored cursor names the other origin" test "$(q "SELECT count(*) FROM sync_state WHERE json_extract(cursor, '$.deltaLink') LIKE '$spy%' OR json_extract(cursor, '$.nextLink') LIKE '$spy%'")" = 0
q "UPDATE sync_state SET cursor = json_object('deltaLink', '$spy/v1.0/me/mailFolders/inbox/messages/delta?\$deltatoken=stolen') WHERE folder = 'inbox'"
add $C '{"message_id": "<h10.c@acme.example>", "date": "2026-11-20T12:10:00Z", "from": "ops@acme.example", "to": "carol@firm.example", "subject": "Behind a forged cursor", "body": "x"}' >/dev/null
run mailsync-pull --json -a $C
expect_rc "a stored deltaLink naming another origin" 0
check "the spy still got nothing" test "$(emu GET /_emu/spy | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["requests"]))')" = 0
grep_err "the warning names it" "stored deltaLink leads to"
check "the inbox was synced from its first page: the message is there" has '<h10.c@acme.example>'
check "carol's messages are each linked once" \
	test -z "$(q "SELECT provider_id FROM email_accounts ea JOIN accounts a ON a.id = ea.account_id WHERE a.address = '$C' GROUP BY provider_id HAVING count(*) > 1")"
check "and every message of carol's inbox and sent items is there" \
	env ACCTS=$C python3 "$MS_SRC/tests/data/pull-check.py" links

# 6. A trickled reply past --max-time is abandoned within the grace;
# nothing half written; the next run finishes.
add $B '{"message_id": "<h11.b@acme.example>", "date": "2026-11-20T13:00:00Z", "from": "ops@acme.example", "to": "bob@firm.example", "subject": "Behind a trickle", "body": "x"}' >/dev/null
fault '{"kind": "trickle", "bytes_per_sec": 20, "prefix": "/gmail/v1/users/me/history", "mailbox": "bob@firm.example", "count": 1}'
start=$(date +%s%N)
run mailsync-pull --json --max-time 2
took=$(( ($(date +%s%N) - start) / 1000000 ))
nofaults
expect_rc "a trickled reply" 0
check "--max-time 2 held: the run took $took ms (2 s and the 1.5 s grace)" test "$took" -lt 5500
check "bob is partial, the others ok" pc json-says "$T/out" $B=partial $A=ok
run mailsync-pull --json
expect_rc "the next run" 0
check "it stores bob's message" has '<h11.b@acme.example>'
# 7. An API behind a certificate no one trusts (a MITM, a proxy's own
# CA): the account fails at once with 69 and says why, instead of being
# retried as a network fault; nothing is sent past the handshake.
if command -v openssl >/dev/null; then
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/tls.key" \
		-out "$T/tls.pem" -days 2 -subj /CN=127.0.0.1 \
		-addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
	python3 "$MS_SRC/tests/data/tls-peer.py" "$T/tls.pem" "$T/tls.key" 20 >"$T/tls.port" &
	peer=$!
	for _ in $(seq 50); do [ -s "$T/tls.port" ] && break; sleep 0.1; done
	MAILSYNC_GMAIL_API_URL="https://127.0.0.1:$(cat "$T/tls.port")" \
		run mailsync-pull --json -a $A
	expect_rc "an untrusted certificate: not transient" 69
	grep_err "it says the certificate is not trusted" "$A.*certificate is not trusted"
	check "said in one line" \
		test "$(grep -c . "$T/err")" -eq 1
	MAILSYNC_CA_FILE="$T/tls.pem" MAILSYNC_GMAIL_API_URL="https://127.0.0.1:$(cat "$T/tls.port")" \
		run mailsync-pull --json -a $A
	check "trusted through MAILSYNC_CA_FILE, the handshake passes (exit $rc, not 69)" \
		test "$rc" -ne 69 -a "$rc" -ne 0
	kill $peer 2>/dev/null; wait $peer 2>/dev/null || :
	run mailsync-pull --json -a $A
	expect_rc "back at the real API, alice syncs" 0
else
	skip_n 5 "an untrusted certificate: no openssl"
fi
sound "at the end"
check "no token, code or secret reached any output" \
	test -z "$(grep -rlE 'ya29\.|eyJ0eX|GOCSPX|client_secret' "$T/out" "$T/err")"

done_testing

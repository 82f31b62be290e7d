#!/bin/bash
# mailsync-connect and mailsync-disconnect against the provider emulator,
# over real HTTP on loopback: the browser is played by curl.
. "$MS_SRC/tests/lib.sh"
. "$MS_SRC/tests/lib-emu.sh"
export MAILSYNC_DB="$T/data/mailsync.db"
emu_start
accounts() { q "SELECT provider || ' ' || address || ' ' || member || ' ' || status FROM accounts ORDER BY id" | tr '\n' ';'; }

# Secrets never come from argv.
run mailsync-connect -p gmail --client-id "$GMAIL_ID" --client-secret "$GMAIL_SECRET" --setup
expect_rc "a client secret on the command line is refused" 64
grep_err "and says where secrets come from" "never taken from the command line"
check "nothing was created" test ! -e "$MAILSYNC_DB"

run mailsync-connect -p gmail
expect_rc "connect before the app credentials are stored" 78
grep_err "says to run --setup" "\-\-setup"

run mailsync-connect -p gmail --setup --client-id "$GMAIL_ID" </dev/null
expect_rc "gmail --setup without a secret and no terminal" 64

printf '%s\n' "$GMAIL_SECRET" | mailsync-connect -p gmail --setup \
	--client-id "$GMAIL_ID" --client-secret-stdin 2>"$T/err"
check "--setup reads the secret from stdin and stores the app" \
	test "$(q "SELECT client_id FROM apps WHERE provider = 'gmail'")" = "$GMAIL_ID"
check "the database is mode 0600" test "$(stat -c %a "$MAILSYNC_DB")" = 600
check "the key file is created beside it, mode 0600" \
	test "$(stat -c %a "$T/data/mailsync.key")" = 600
check "the key is 32 bytes" test "$(stat -c %s "$T/data/mailsync.key")" = 32
mailsync-connect -q -p outlook --setup --client-id "$MS_PUBLIC_ID"
check "an Outlook public client needs no secret" \
	test "$(q "SELECT client_id || ' ' || (secret IS NULL) FROM apps WHERE provider = 'outlook'")" = "$MS_PUBLIC_ID 1"

# The loopback flow, both providers, several accounts and members.
connect_browser -p gmail --login-hint alice@firm.example --member alice --timeout 30
expect_rc "gmail over the loopback redirect" 0
expect_out "prints the connected line" <<<"connected gmail alice@firm.example member=alice"
check "the browser is told it worked" grep -q "Signed in" "$T/browser.html"
grep_err "the authorization URL is alone on its own line" "^http://127\.0\.0\.1:[0-9]+/o/oauth2/v2/auth\?.*code_challenge_method=S256"
grep -m1 '^http' "$T/err" >"$T/url"
check "PKCE S256, state and offline access are asked for" \
	grep -q "code_challenge=[A-Za-z0-9_-]\{43\}&code_challenge_method=S256&state=[A-Za-z0-9_-]\{32\}.*access_type=offline&prompt=consent" "$T/url"
check "only gmail.readonly is asked for" \
	grep -q "scope=https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fgmail.readonly&" "$T/url"

connect_browser -p gmail --login-hint bob@firm.example --member bob --timeout 30
expect_out "a second Gmail account for another member" <<<"connected gmail bob@firm.example member=bob"
connect_browser -p outlook --login-hint carol@firm.example --member carol --timeout 30
expect_out "an Outlook account over the loopback redirect" <<<"connected outlook carol@firm.example member=carol"
connect_browser -p outlook --login-hint dave@outlook.example --member alice --timeout 30
expect_out "a personal Outlook account: the address is the userPrincipalName" <<<"connected outlook dave@outlook.example member=alice"
check "four accounts for three members" test "$(accounts)" = \
	"gmail alice@firm.example alice active;gmail bob@firm.example bob active;outlook carol@firm.example carol active;outlook dave@outlook.example alice active;"

# -vv shows the HTTP headers, never a secret or a body.
connect_browser -vv -p gmail --login-hint alice@firm.example --member alice --timeout 30
expect_rc "connect with -vv" 0
grep_err "-vv traces the requests' headers" "^mailsync-connect: > GET /gmail/v1/users/me/profile"
grep_err "with Authorization redacted" "Authorization: \[redacted\]"
check "no bearer token, client secret or token body in the trace" \
	bash -c "! grep -qiE 'Bearer [A-Za-z0-9]|$GMAIL_SECRET|ya29\.|1//0|refresh_token|code_verifier' '$T/err'"

# Reconnecting an address re-authorizes it: same account, state kept.
id=$(q "SELECT id FROM accounts WHERE address = 'alice@firm.example'")
q "UPDATE accounts SET last_sync = 1794992000 WHERE id = $id"
old=$(q "SELECT hex(refresh) FROM tokens WHERE account_id = $id")
connect_browser -p gmail --login-hint alice@firm.example --member alice --timeout 30
expect_rc "connecting alice again" 0
grep_err "says it re-authorized" "re-authorized"
check "no duplicate account" test "$(q "SELECT count(*) FROM accounts WHERE address = 'alice@firm.example'")" = 1
check "the same account id and its sync state" \
	test "$(q "SELECT id || ' ' || last_sync FROM accounts WHERE address = 'alice@firm.example'")" = "$id 1794992000"
check "with new tokens" test "$(q "SELECT hex(refresh) FROM tokens WHERE account_id = $id")" != "$old"

# --paste: the redirected URL, then the bare code.
count=$(q "SELECT count(*) FROM tokens")
# paste_start: bob's mailsync-connect --paste in the background ($cpid),
# its stdin the fifo on fd 3; once it printed the URL, the browser's
# redirect in $redirect.
paste_start() {
	rm -f "$T/paste"; mkfifo "$T/paste"
	: >"$T/connect.err"
	mailsync-connect -p gmail --paste --login-hint bob@firm.example --member bob <"$T/paste" >"$T/out" 2>"$T/connect.err" &
	cpid=$!
	exec 3>"$T/paste"
	for _ in $(seq 100); do grep -q '^http' "$T/connect.err" && break; sleep 0.1; done
	redirect=$(curl -s -o /dev/null -w '%{redirect_url}' "$(grep -m1 '^http' "$T/connect.err")")
}
# paste_end TEXT: paste TEXT, then wait for the connect's exit in $rc.
paste_end() {
	echo "$1" >&3
	exec 3>&-
	rc=0; wait $cpid || rc=$?
}
paste_start
paste_end "$redirect"
expect_rc "--paste with the redirected URL" 0
expect_out "connects bob again" <<<"connected gmail bob@firm.example member=bob"
check "--paste prints the URL alone on its line too" grep -q '^http://' "$T/connect.err"

paste_start
code=$(printf '%s' "$redirect" | sed 's/.*[?&]code=\([^&]*\).*/\1/' | python3 -c 'import sys, urllib.parse; print(urllib.parse.unquote(sys.stdin.read().strip()))')
paste_end "$code"
expect_rc "--paste with the bare code" 0

# Device code (Outlook), with pending polls and a slow_down.
emu POST /_emu/config '{"device": {"pending": 2, "slow_down": 1, "interval": 1, "mailbox": "carol@firm.example"}}' >/dev/null
run mailsync-connect -p outlook --device-code --member carol --timeout 60
expect_rc "--device-code" 0
expect_out "connects carol" <<<"connected outlook carol@firm.example member=carol"
grep_err "it shows the provider's instructions" "enter the code"
polls=$(grep -c '"grant_type": *"urn:ietf:params:oauth:grant-type:device_code"' "$T/emu.log")
check "it polled through pending and slow_down ($polls polls)" test "$polls" -ge 4
python3 - "$T/emu.log" <<'PY' && ok "after slow_down it waited 5 s longer" || not_ok "after slow_down it waited 5 s longer"
import json, sys
t = [json.loads(l)["time"] for l in open(sys.argv[1])
     if "device_code" in json.loads(l).get("grant_type", "")]
gaps = [b - a for a, b in zip(t, t[1:])]
sys.exit(0 if gaps and max(gaps) >= 5.5 and min(gaps) >= 0.9 else 1)
PY
run mailsync-connect -p gmail --device-code
expect_rc "--device-code for gmail is refused" 64

# Failures store nothing.
before=$(q "SELECT count(*) || '/' || group_concat(hex(refresh)) FROM tokens")
unchanged() { check "$1: nothing stored" test "$(q "SELECT count(*) || '/' || group_concat(hex(refresh)) FROM tokens")" = "$before"; }

# A redirect with a wrong state is answered with an error page and
# ignored: the real one still connects.
: >"$T/connect.err"
mailsync-connect -p gmail --login-hint bob@firm.example --member bob --timeout 30 >"$T/out" 2>"$T/connect.err" &
cpid=$!
browse 's/state=[^&]*/state=forged/'
check "a redirect with a wrong state gets the error page" grep -q "Not this sign-in" "$T/browser.html"
check "and mailsync is still waiting" kill -0 $cpid
unchanged "wrong state"
browse
rc=0; wait $cpid || rc=$?; cp "$T/connect.err" "$T/err"
expect_rc "the real redirect after a forged one connects" 0
expect_out "connects bob" <<<"connected gmail bob@firm.example member=bob"
before=$(q "SELECT count(*) || '/' || group_concat(hex(refresh)) FROM tokens")

emu POST /_emu/authorize/deny '{"provider": "google"}' >/dev/null
connect_browser -p gmail --login-hint bob@firm.example --member bob --timeout 30
expect_rc "a denied consent" 77
grep_err "says it was refused" "refused: access_denied"
unchanged "denied consent"

emu POST /_emu/mailboxes/bob@firm.example/consent '{"untick": ["https://www.googleapis.com/auth/gmail.readonly"]}' >/dev/null
connect_browser -p gmail --login-hint bob@firm.example --member bob --timeout 30
expect_rc "an unticked mail scope" 77
grep_err "says which permission is missing" "lacks https://www.googleapis.com/auth/gmail.readonly"
unchanged "unticked scope"
emu POST /_emu/mailboxes/bob@firm.example/consent '{"untick": []}' >/dev/null

run mailsync-connect -p gmail --timeout 1 --member bob
expect_rc "nobody signs in before --timeout" 75
grep_err "says so" "no authorization within 1 seconds"
unchanged "timeout"

printf 'not-the-secret\n' >"$T/wrong"
connect_browser -p gmail --client-id "$GMAIL_ID" --client-secret-file "$T/wrong" --login-hint bob@firm.example --timeout 30
expect_rc "a wrong client secret" 78
grep_err "the token endpoint's error is shown" "invalid_client"
unchanged "bad client secret"
check "the stored app still has the right secret" \
	test "$(q "SELECT count(*) FROM apps WHERE provider = 'gmail'")" = 1
connect_browser -p gmail --login-hint bob@firm.example --member bob --timeout 30
expect_rc "the stored app still works" 0

# The listener ignores stray requests.
: >"$T/connect.err"
mailsync-connect -p gmail --login-hint bob@firm.example --member bob --timeout 30 >"$T/out" 2>"$T/connect.err" &
cpid=$!
for _ in $(seq 100); do grep -q '^http' "$T/connect.err" && break; sleep 0.1; done
port=$(grep -m1 '^http' "$T/connect.err" | sed 's/.*redirect_uri=http%3A%2F%2F127.0.0.1%3A\([0-9]*\).*/\1/')
stray=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/favicon.ico")
check "a stray request gets 404" test "$stray" = 404
browse
rc=0; wait $cpid || rc=$?
expect_rc "and the flow still completes" 0

# Plain http is refused but for loopback.
run env MAILSYNC_GOOGLE_TOKEN_URL=http://accounts.example.com/token mailsync-connect -p gmail --paste <<<"code=x"
expect_rc "a plain-http token endpoint off loopback" 78
grep_err "says why" "plain http is allowed to 127.0.0.1, ::1 and localhost only"

# Secrets at rest: none of them in the database bytes (WAL included).
sqlite3 "$MAILSYNC_DB" 'PRAGMA wal_checkpoint(PASSIVE)' >/dev/null
leak=0
for f in "$MAILSYNC_DB" "$MAILSYNC_DB-wal"; do
	[ -e "$f" ] || continue
	grep -qaF "$GMAIL_SECRET" "$f" && leak=1
done
check "the client secret is not in the database or its WAL" test $leak = 0
python3 - "$MAILSYNC_DB" <<'PY' && ok "no access or refresh token is in the database or its WAL" || not_ok "no access or refresh token is in the database or its WAL"
import os, sys
db = sys.argv[1]
blob = b"".join(open(p, "rb").read() for p in (db, db + "-wal") if os.path.exists(p))
# The emulator's tokens start like the real ones: Google access "ya29.",
# Google refresh "1//0", Microsoft access "eyJ0eXAi", refresh "0.AXoA".
for marker in (b"ya29.", b"1//0", b"eyJ0eXAi", b"0.AXoA"):
    assert marker not in blob, marker
PY
check "no secret in the emulator's view of our requests log either" \
	bash -c "! grep -q '$GMAIL_SECRET' '$T/emu.log'"

# Disconnect.
run mailsync-disconnect alice@firm.example
expect_rc "disconnect a Gmail account" 0
expect_out "prints the disconnected line" <<<"disconnected gmail alice@firm.example"
check "its grant is revoked at Google" \
	test "$(emu GET /_emu/grants | python3 -c 'import json,sys; print(sum(g["revoked"] for g in json.load(sys.stdin)["grants"] if g["mailbox"] == "alice@firm.example"))')" -ge 1
check "its tokens are deleted" test "$(q "SELECT count(*) FROM tokens WHERE account_id = $id")" = 0
check "it is marked disconnected" test "$(q "SELECT status FROM accounts WHERE id = $id")" = disconnected
run mailsync-show --accounts --json
grep_out "show --accounts says disconnected" '"address":"alice@firm.example","member":"alice","status":"disconnected"'

run env MAILSYNC_GOOGLE_REVOKE_URL="http://127.0.0.1:9/revoke" mailsync-disconnect -p gmail bob@firm.example
expect_rc "disconnect with the revoke endpoint unreachable" 0
grep_err "warns that revocation failed" "warning: revocation at Gmail failed"
check "and disconnects locally all the same" test "$(q "SELECT status FROM accounts WHERE address = 'bob@firm.example'")" = disconnected

run mailsync-disconnect carol@firm.example
expect_rc "disconnect an Outlook account" 0
grep_err "says where Microsoft consent is removed" "no revocation endpoint"
run mailsync-disconnect nobody@firm.example
expect_rc "disconnect an unknown account" 66
run mailsync-disconnect
expect_rc "disconnect without an address" 64

# Reconnecting a disconnected account makes it active again.
connect_browser -p gmail --login-hint alice@firm.example --member alice --timeout 30
expect_rc "reconnect a disconnected account" 0
check "it is active again, same id" test "$(q "SELECT id || ' ' || status FROM accounts WHERE address = 'alice@firm.example'")" = "$id active"

# A database copied without its key file opens no mailbox.
cp "$MAILSYNC_DB" "$T/copy.db"
head -c 32 /dev/urandom >"$T/other.key"
chmod 600 "$T/other.key"
run env MAILSYNC_DB="$T/copy.db" MAILSYNC_KEY_FILE="$T/other.key" mailsync-connect -p gmail --paste <<<"code=x"
expect_rc "the copy with another key cannot use the stored app" 78
grep_err "says the secret does not decrypt" "does not decrypt"
run env MAILSYNC_DB="$T/copy.db" MAILSYNC_KEY_FILE="$T/none.key" mailsync-connect -p gmail --paste <<<"code=x"
expect_rc "the copy without a key file makes no new one" 78
check "no key file was made" test ! -e "$T/none.key"
chmod 644 "$T/data/mailsync.key"
run mailsync-connect -p gmail --paste <<<"code=x"
expect_rc "a key file others can read is refused" 78
chmod 600 "$T/data/mailsync.key"

done_testing

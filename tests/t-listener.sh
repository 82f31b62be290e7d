#!/bin/bash
# The sign-in's hostile peers: the loopback listener against stray, slow,
# idle and malformed requests, and the device flow against a provider's
# odd interval and expires_in, over real processes and real loopback HTTP.
. "$MS_SRC/tests/lib.sh"
. "$MS_SRC/tests/lib-emu.sh"
export MAILSYNC_DB="$T/data/mailsync.db"
emu_start
setup_apps

# start_connect ARGS...: mailsync-connect in the background (stderr in
# $T/connect.err) once it printed its URL: $cpid, $port, $state.
start_connect() {
	: >"$T/connect.err"
	t0=$EPOCHREALTIME
	mailsync-connect "$@" >"$T/out" 2>"$T/connect.err" &
	cpid=$!
	for _ in $(seq 100); do
		grep -q '^http' "$T/connect.err" && break
		sleep 0.1
	done
	url=$(grep -m1 '^http' "$T/connect.err")
	port=$(printf '%s' "$url" | sed 's/.*redirect_uri=http%3A%2F%2F127.0.0.1%3A\([0-9]*\).*/\1/')
	state=$(printf '%s' "$url" | sed 's/.*[?&]state=\([^&]*\).*/\1/')
}
# finish_connect: wait for it: $rc, stderr in $T/err, $secs it took.
finish_connect() {
	rc=0
	wait $cpid || rc=$?
	secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
	cp "$T/connect.err" "$T/err"
}
# between LO HI: $secs is within [LO, HI].
between() { awk -v s="$secs" -v lo="$1" -v hi="$2" 'BEGIN { exit !(s >= lo && s <= hi) }'; }
# raw: send stdin as is to the listener; the answer on stdout.
raw() {
	python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(sys.stdin.buffer.read())
out = b""
while True:
    try:
        b = s.recv(65536)
    except OSError:
        break
    if not b:
        break
    out += b
sys.stdout.buffer.write(out)' "$port"
}
# status URL [CURL ARGS...]: the HTTP status of a request to the listener.
status() { curl -s -o "$T/page" -w '%{http_code}' "${@:2}" "http://127.0.0.1:$port$1"; }
# peers IDLE SECONDS: in the background, IDLE connections that send
# nothing and one that trickles a request a byte a second for SECONDS.
peers() {
	python3 - "$port" "$1" "$2" <<'PY' &
import socket, sys, time
port, idle, secs = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
conns = []
for _ in range(idle):
    try:
        conns.append(socket.create_connection(("127.0.0.1", port)))
    except OSError:
        pass
t = socket.create_connection(("127.0.0.1", port))
msg = b"GET /?state=slow&code=x HTTP/1.1\r\nHost: x\r\nX: " + b"y" * 10000
end = time.time() + secs
for i in range(len(msg)):
    if time.time() >= end:
        break
    try:
        t.send(msg[i:i + 1])
    except OSError:
        break
    time.sleep(1)
PY
	peers_pid=$!
}

# Stray requests are answered and ignored; the real redirect connects.
start_connect -p gmail --login-hint alice@firm.example --member alice --timeout 30
check "a request without a state gets 400 (<img src=/?x>)" test "$(status '/?x')" = 400
check "with a short error page" grep -q "Not this sign-in" "$T/page"
check "a wrong state gets 400" test "$(status '/?state=wrong&code=x')" = 400
check "no state at all on / gets 400" test "$(status /)" = 400
check "the page echoes nothing of the request" test "$(status '/?state=%3Cscript%3Ealert(1)%3C/script%3E&code=%3Cb%3Ebold')" = 400
check "no markup or text of the request in it" bash -c "! grep -qiE 'script|alert|bold|<b>' '$T/page'"
check "another path gets 404" test "$(status /favicon.ico)" = 404
check "POST / gets 405" test "$(status / -X POST --data x)" = 405
curl -s -i -X POST --data x "http://127.0.0.1:$port/" >"$T/page"
check "with Allow: GET" grep -qi '^Allow: GET' "$T/page"
check "PUT with the right state is no redirect either: 405" test "$(status "/?state=$state&code=x" -X PUT)" = 405
check "HEAD / gets 405" test "$(status / -I)" = 405
printf 'GARBAGE\r\n\r\n' | raw >"$T/page"
check "a malformed request line gets 400" grep -q '^HTTP/1.1 400' "$T/page"
printf 'GET / HTTP/1.1\r\nX: a\001b\r\n\r\n' | raw >"$T/page"
check "a control character in a header gets 400" grep -q '^HTTP/1.1 400' "$T/page"
{ printf 'GET /?state=%s&code=x HTTP/1.1\r\nX: ' "$state"; head -c 9000 /dev/zero | tr '\0' a; } | raw >"$T/page"
check "a head over 8 KiB gets 431" grep -q '^HTTP/1.1 431' "$T/page"
check "every answer is marked not to be cached" grep -qi '^Cache-Control: no-store' "$T/page"
check "after all that, mailsync still waits" kill -0 $cpid
browse
finish_connect
expect_rc "the real redirect still connects" 0
expect_out "connects alice" <<<"connected gmail alice@firm.example member=alice"
check "the browser is told it worked" grep -q "Signed in" "$T/browser.html"

# Idle connections and a slow one never hold up the browser.
start_connect -p gmail --login-hint alice@firm.example --member alice --timeout 30
peers 20 30
sleep 1
browse
finish_connect
kill $peers_pid 2>/dev/null
wait $peers_pid 2>/dev/null
expect_rc "20 idle connections and a trickling one, then the redirect" 0
check "it connects well before the timeout ($secs s)" between 0 5

# --timeout is a hard deadline whatever a peer does.
start_connect -p gmail --login-hint alice@firm.example --member alice --timeout 3
peers 2 20
finish_connect
kill $peers_pid 2>/dev/null
wait $peers_pid 2>/dev/null
expect_rc "a peer trickling a byte a second past --timeout 3" 75
check "it ends in about 3 s ($secs s)" between 2.5 5
grep_err "says nothing came in time" "no authorization within 3 seconds: nothing stored"
grep_err "says what most likely happened" "showed a Google error page instead of coming back here"
grep_err "and the fix for Google" '"Desktop app" OAuth client'
check "in one line" test "$(grep -c '^mailsync-connect:' "$T/err")" = 1
run mailsync-connect -p outlook --timeout 1
expect_rc "an Outlook sign-in timing out" 75
grep_err "gives Microsoft's fix" 'add http://127\.0\.0\.1 .*under "Mobile and desktop applications"'

# A denied consent of this flow ends it, the provider's words sanitized.
start_connect -p gmail --login-hint alice@firm.example --member alice --timeout 30
check "a denied consent gets the not-signed-in page" \
	test "$(status "/?state=$state&error=access_denied&error_description=Nope%1B%5D0%3Bpwned%07%1B%5B2J%E2%80%AEhere")" = 400
finish_connect
expect_rc "ends the flow" 77
grep_err "with the provider's error and description" "authorization refused: access_denied: Nope"
check "no escape, bell or bidi control reaches the terminal" \
	bash -c "! grep -qP '\x1b|\x07|\xe2\x80\xae' '$T/err'"

# The device flow against odd intervals: polls at a sane rate, stops at
# --timeout.
device() { # device JSON TIMEOUT: a device flow against that config
	emu POST /_emu/config "{\"device\": $1}" >/dev/null
	emu DELETE /_emu/log >/dev/null
	t0=$EPOCHREALTIME
	run mailsync-connect -v -p outlook --device-code --member carol --timeout "$2"
	secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
	polls=$(emu GET /_emu/log | python3 -c 'import json, sys; print(sum("poll" in e for e in json.load(sys.stdin)["entries"]))')
}
device '{"interval": -1, "pending": 1000, "slow_down": 0, "expires_in": 900}' 7
expect_rc "interval -1, nobody signs in, --timeout 7" 75
check "it polls every 5 s, not in a loop ($polls polls)" test "$polls" -ge 1 -a "$polls" -le 2
check "and stops at the deadline ($secs s)" between 6.5 9
grep_err "says so" "no sign-in within 7 seconds: nothing stored"
grep_err "-v says what it made of the interval" "interval -1 is not positive: taking 5 s"
grep_err "the provider's instructions are shown" "enter the code [A-Z0-9]+ to authenticate"

device '{"interval": 0}' 7
expect_rc "interval 0" 75
check "polls every 5 s too ($polls polls)" test "$polls" -ge 1 -a "$polls" -le 2
grep_err "-v says so" "interval 0 is not positive: taking 5 s"

# (expires_in as a string is in the unit test: the emulator computes
# with it.)
device '{"interval": "1", "expires_in": 4}' 60
expect_rc "interval as a numeric string, expires_in 4" 75
grep_err "expires_in is honoured" "the device code expired after 4 seconds"
check "it polled every second ($polls polls)" test "$polls" -ge 2 -a "$polls" -le 4
check "and stopped when the code expired ($secs s)" between 3 6

device '{"interval": 1, "expires_in": 1e300}' 3
expect_rc "a huge expires_in" 75
check "--timeout 3 still holds ($secs s)" between 2.5 5
grep_err "-v says it was clamped" "expires_in .* is out of range: taking 86400 s"

device '{"interval": 1, "pending": 2, "expires_in": 900, "mailbox": "carol@firm.example"}' 30
expect_rc "a sane device flow still connects" 0
expect_out "carol" <<<"connected outlook carol@firm.example member=carol"

done_testing

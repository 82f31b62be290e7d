#!/bin/bash
# Never silent, never mailing every 15 minutes: under cron (no terminal,
# -q) a failing account or one that needs re-authorization is said on
# stderr (so cron mails it) on the first failing run, then at most once a
# day until it recovers, and logged to syslog on every run; a recovery is
# logged once. The day passes through MAILSYNC_NOW (documented as for
# tests). syslog is caught by a socket of the test's own, bound over
# /dev/log in a mount namespace of the run (unshare -m); without one
# (not root, no namespaces) the syslog checks are skipped.
. "$MS_SRC/tests/lib.sh"
. "$MS_SRC/tests/lib-emu.sh"
export MAILSYNC_DB="$T/var/mailsync.db"
mkdir -p "$T/var"

skip() { ok "# SKIP $*"; }

# A /dev of the test's own for the runs: the devices they need, and a
# datagram socket at log that a python listener copies into $T/syslog.
dev="$T/dev"
mkdir -p "$dev"
python3 - "$dev/log" "$T/syslog" <<'EOF' >/dev/null 2>&1 &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(600)
with open(sys.argv[2], "ab", buffering=0) as f:
    while True:
        try:
            d = s.recv(65536)
        except socket.timeout:
            break
        f.write(d.rstrip(b"\0\n") + b"\n")
EOF
logger_pid=$!
trap 'kill $logger_pid ${emu_pid:-} 2>/dev/null; rm -rf "$T"' EXIT
for _ in $(seq 50); do [ -S "$dev/log" ] && break; sleep 0.1; done
for n in null zero full random urandom; do : >"$dev/$n"; done
ln -s /proc/self/fd "$dev/fd"
: >"$T/syslog"

# in_ns CMD...: CMD with $dev as /dev, when namespaces work.
in_ns() {
	unshare -m sh -c '
	    for n in null zero full random urandom; do
	        mount --bind /dev/$n "$0/$n" || exit 99
	    done
	    mount --bind "$0" /dev || exit 99
	    exec "$@"' "$dev" "$@"
}
syslog_ok=0
if [ "$(id -u)" = 0 ] && [ -S "$dev/log" ] &&
    in_ns sh -c 'logger -u /dev/log mailsync-probe 2>/dev/null || exec python3 -c "
import socket; s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.connect(\"/dev/log\"); s.send(b\"<22>mailsync-probe\")"' 2>/dev/null; then
	for _ in $(seq 20); do grep -q mailsync-probe "$T/syslog" && break; sleep 0.1; done
	grep -q mailsync-probe "$T/syslog" && syslog_ok=1
fi

# tick [NOW]: mailsync-pull as the cron job runs it: sh -c, a bare
# environment, no terminal, -q; MAILSYNC_NOW=NOW when given. Its
# stderr (what cron mails) in $T/mail, its exit in $rc, the syslog
# lines of the run in $T/log.
tick() {
	local ns=
	[ $syslog_ok = 1 ] && ns=in_ns
	: >"$T/syslog"
	rc=0
	$ns env -i HOME="$HOME" PATH="$MS_BUILD/cmd:/usr/bin:/bin" \
	    MAILSYNC_DB="$MAILSYNC_DB" ${1:+MAILSYNC_NOW=$1} \
	    MAILSYNC_GOOGLE_TOKEN_URL="${MAILSYNC_GOOGLE_TOKEN_URL:-}" \
	    MAILSYNC_GMAIL_API_URL="${MAILSYNC_GMAIL_API_URL:-}" \
	    sh -c 'mailsync-pull -q --max-time 60' </dev/null \
	    >/dev/null 2>"$T/mail" || rc=$?
	sleep 0.2 # the listener writes what it was sent
	grep mailsync-pull "$T/syslog" >"$T/log" || :
}

# logged DESCRIPTION PATTERN: the last tick's syslog has an error or a
# warning (LOG_MAIL | LOG_ERR, LOG_WARNING: <19>, <20>) that matches.
logged() {
	if [ $syslog_ok = 0 ]; then
		skip "no mount namespace for a /dev/log of our own: $1"
	elif grep -E '^<(19|20)>' "$T/log" | grep -qE -- "$2"; then
		ok "$1"
	else
		not_ok "$1: no warning /$2/ in syslog"
		sed 's/^/# syslog: /' "$T/log"
	fi
}

mailed() { check "$1" test -s "$T/mail"; }
silent() {
	if [ ! -s "$T/mail" ]; then ok "$1"; else
		not_ok "$1"
		sed 's/^/# mailed: /' "$T/mail"
	fi
}

# --- an account that waits for re-authorization -------------------------

emu_start
trap 'kill $logger_pid $emu_pid 2>/dev/null; rm -rf "$T"' EXIT
setup_apps
# dora connected, then her grant was revoked at Google, and a pull that
# a person watched (-v: no notice given) found it.
emu POST /_emu/mailboxes '{"provider": "gmail", "address": "dora@firm.example"}' >/dev/null
connect_mailbox gmail dora@firm.example dora
emu POST /_emu/grants/revoke '{"mailbox": "dora@firm.example"}' >/dev/null
emu POST /_emu/tokens/expire '{"mailbox": "dora@firm.example"}' >/dev/null
mailsync-pull -v >/dev/null 2>&1
check "dora waits for re-authorization" \
	test "$(q "SELECT status FROM accounts WHERE address = 'dora@firm.example'")" = needs-reauth
day0=$(date +%s)

tick $day0
expect_rc "a cron run with an account needing re-authorization" 77
mailed "the first run says it on stderr (cron mails it)"
check "the first run: in one line" test "$(wc -l <"$T/mail")" -eq 1
grep -q "dora@firm.example needs re-authorization: run mailsync-connect --provider gmail --login-hint dora@firm.example" "$T/mail" &&
    ok "the line names the account and the command that mends it" ||
    not_ok "the line names the account and the command: $(cat "$T/mail")"
logged "and syslog has a warning" "dora@firm.example needs re-authorization"

tick $((day0 + 900))
expect_rc "the next run, 15 minutes on" 77
silent "says nothing on stderr: no mail every 15 minutes"
logged "syslog still has the warning" "dora@firm.example needs re-authorization"

tick $((day0 + 86399))
silent "nor a second before the day is over"

tick $((day0 + 86400))
expect_rc "a day on" 77
mailed "it is said again"
check "a day on: in one line" test "$(wc -l <"$T/mail")" -eq 1
grep_mail() { grep -qE -- "$2" "$T/mail" && ok "$1" || not_ok "$1: $(cat "$T/mail")"; }
grep_mail "saying since when" "failing since $(date -u -d @$day0 +%Y-%m-%dT)"
logged "a day on: and logged" "dora@firm.example"

tick $((day0 + 86400 + 900))
silent "then quiet again for a day"

# At a terminal (here: -v) every run says everything.
run env MAILSYNC_NOW=$((day0 + 86400 + 1800)) mailsync-pull -v
expect_rc "a run with -v" 77
grep_err "says it on every run" "dora@firm.example needs re-authorization"

# --check: one line for the account, each fact once.
run mailsync-show --accounts --check
expect_rc "--check while it waits" 1
check "--check while it waits: one line" test "$(wc -l <"$T/out")" -eq 1
check "each fact once" test "$(grep -o 're-authorization' "$T/out" | wc -l)" -eq 1
mailsync-disconnect -q --purge --yes dora@firm.example >/dev/null 2>&1

# --- an account that fails, then recovers --------------------------------

connect_browser -p gmail --login-hint alice@firm.example --member alice --timeout 30
check "alice is connected" grep -q "connected gmail alice@firm.example" "$T/out"
tick
expect_rc "a healthy run" 0
silent "says nothing"

emu POST /_emu/faults '{"kind": "status", "status": 500, "prefix": "/gmail/", "count": 100000}' >/dev/null
t0=$(date +%s)
tick $t0
check "a failing run exits non-zero" test "$rc" -ne 0
mailed "the first failing run is mailed"
check "the first failing run: in one line" test "$(wc -l <"$T/mail")" -eq 1
grep_mail "naming the account" "alice@firm.example \(gmail\)"
if grep -qiE "select|insert|update accounts" "$T/mail"; then
	not_ok "no SQL in the message"
else
	ok "no SQL in the message"
fi
logged "syslog has it" "alice@firm.example \(gmail\)"
check "failing_since is stored" test "$(q "SELECT failing_since FROM accounts")" = "$t0"

run mailsync-show --accounts --check
expect_rc "--check while it fails" 1
check "--check: one line" test "$(wc -l <"$T/out")" -eq 1
check "--check: the address once" test "$(grep -o 'alice@firm.example' "$T/out" | wc -l)" -eq 1

tick $((t0 + 900))
check "still failing" test "$rc" -ne 0
silent "the second failing run within the day is not mailed"
logged "but logged" "alice@firm.example \(gmail\)"

tick $((t0 + 86400 + 60))
mailed "a day on, it is mailed again"
grep_mail "with since when" "failing since"

emu DELETE /_emu/faults >/dev/null
tick $((t0 + 86400 + 900))
expect_rc "it recovers" 0
silent "a recovery under -q mails nothing"
if [ $syslog_ok = 0 ]; then
	skip "no /dev/log of our own: the recovery's log line"
elif grep -E '^<21>' "$T/log" | grep -q "alice@firm.example (gmail) works again"; then
	ok "a recovery is logged once (a notice)"
else
	not_ok "a recovery is logged: $(cat "$T/log")"
fi
check "the account's failure is forgotten" \
    test "$(q "SELECT coalesce(failing_since, 0) || coalesce(notified, 0) FROM accounts")" = 00
tick $((t0 + 86400 + 1800))
silent "the next healthy run says nothing"
check "and logs no recovery again" bash -c "! grep -q 'works again' '$T/log'"

# A recovery at normal verbosity says so on stderr.
emu POST /_emu/faults '{"kind": "status", "status": 500, "prefix": "/gmail/", "count": 100000}' >/dev/null
tick
emu DELETE /_emu/faults >/dev/null
run mailsync-pull
expect_rc "a recovery without -q" 0
grep_err "says it works again" "alice@firm.example \(gmail\) works again"

# A grant revoked at the provider: found by a cron run, said once.
emu POST /_emu/grants/revoke '{"mailbox": "alice@firm.example"}' >/dev/null
emu POST /_emu/tokens/expire '{"mailbox": "alice@firm.example"}' >/dev/null
r0=$(date +%s)
tick $r0
expect_rc "a revoked grant" 77
mailed "is mailed on its first run"
check "a revoked grant: in one line" test "$(wc -l <"$T/mail")" -eq 1
logged "a revoked grant: and logged" "alice@firm.example"
tick $((r0 + 900))
silent "and not again 15 minutes on"
run mailsync-show --accounts --check
expect_rc "--check says it" 1
check "--check of the revoked grant: one line" test "$(wc -l <"$T/out")" -eq 1
check "re-authorization said once" test "$(grep -o 're-authorization' "$T/out" | wc -l)" -eq 1
check "the address said once" test "$(grep -o 'alice@firm.example' "$T/out" | wc -l)" -eq 1

done_testing

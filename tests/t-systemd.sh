#!/bin/bash
# The systemd units as systemd reads them (systemd-analyze verify,
# security, calendar), the service's command run as the unit runs it with
# stderr a journal stream, and the log going to the journal once.
. "$MS_SRC/tests/lib.sh"

skip() {
	ok "# SKIP $*"
}

if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "1..0 # SKIP systemd-analyze not installed (Debian package systemd)"
	exit 77
fi

units="$MS_BUILD/share/systemd"
svc="$units/mailsync.service"
tsvc="$units/mailsync@.service"

# key FILE KEY: the last value of KEY= in FILE.
key() {
	sed -n "s/^$2=//p" "$1" | tail -n 1
}

# What systemd itself says about the unit files: no warning at all.
run systemd-analyze verify --man=no "$svc" "$units/mailsync.timer" \
	"$tsvc" "$units/mailsync@.timer"
expect_rc "systemd-analyze verify accepts the four units" 0
check "without a warning" test ! -s "$T/err" -a ! -s "$T/out"
sed 's/^/# /' "$T/err" | head -10

# A template is checked through an instance: the specifiers expand.
mkdir -p "$T/units"
cp "$tsvc" "$T/units/mailsync@acme.service"
cp "$units/mailsync@.timer" "$T/units/mailsync@acme.timer"
run systemd-analyze verify --man=no "$T/units/mailsync@acme.service" \
	"$T/units/mailsync@acme.timer"
check "an instance, mailsync@acme, verifies clean too" \
	test "$rc" -eq 0 -a ! -s "$T/err"

# The exposure score an admin sees with systemd-analyze security.
for u in "$svc" "$tsvc"; do
	name=$(basename "$u")
	run systemd-analyze security --offline=true --no-pager "$u"
	score=$(sed -nE 's/.*Overall exposure level for [^:]*: ([0-9.]+).*/\1/p' "$T/out")
	if [ "$rc" -eq 0 ] && [ -n "$score" ]; then
		check "$name: overall exposure $score, below 2.0" \
			awk -v s="$score" 'BEGIN { exit !(s < 2.0) }'
	else
		not_ok "$name: systemd-analyze security --offline failed (exit $rc)"
		sed 's/^/# /' "$T/err" | head -5
	fi
done

# What the unit promises, in its own words.
check "a oneshot run as the mailsync system user" \
	test "$(key "$svc" Type)" = oneshot -a "$(key "$svc" User)" = mailsync
check "its database under its state directory" \
	test "$(key "$svc" StateDirectory)" = mailsync -a \
	"$(key "$svc" Environment)" = "MAILSYNC_DB=%S/mailsync/mailsync.db"
check "a template instance is one business: its own folder and database" \
	test "$(key "$tsvc" StateDirectory)" = "mailsync/%i" -a \
	"$(key "$tsvc" Environment)" = "MAILSYNC_DB=%S/mailsync/%i/mailsync.db"
start=$(key "$svc" TimeoutStartSec) stop=$(key "$svc" TimeoutStopSec)
maxt=$(sed -nE 's/.*--max-time ([0-9]+).*/\1/p' "$svc")
check "a hard stop past pull's --max-time, SIGKILL by the next tick ($maxt < $start, $start + $stop <= 900)" \
	test -n "$maxt" -a -n "$start" -a -n "$stop" -a "${maxt:-0}" -lt "${start:-0}" -a \
	$((${start:-900} + ${stop:-1})) -le 900
check "no exit status passes for success but 0" \
	bash -c "! grep -q '^SuccessExitStatus=' '$svc'"

# The timer: every 15 minutes, as systemd computes it.
cal=$(key "$units/mailsync.timer" OnCalendar)
run systemd-analyze calendar --iterations=3 "$cal"
check "OnCalendar=$cal parses" test "$rc" -eq 0
python3 - "$T/out" <<'PY' >"$T/gaps"
import re, sys, datetime
ts = [datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S")
      for m in re.finditer(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)",
                           open(sys.argv[1]).read().split("Next elapse")[1])]
print(" ".join(str(int((b - a).total_seconds())) for a, b in zip(ts, ts[1:])))
PY
check "its elapses are 15 minutes apart ($(cat "$T/gaps"))" \
	grep -qE '^900 900' "$T/gaps"
check "a missed tick runs after boot (Persistent=true)" \
	test "$(key "$units/mailsync.timer" Persistent)" = true

# The service's command as systemd runs it: /bin/sh -c with $$ read as $,
# the build's binaries in place of the installed ones, stderr a stream
# whose device and inode are in $JOURNAL_STREAM, as systemd sets them.
. "$MS_SRC/tests/lib-emu.sh"
script=$(sed -nE "s|^ExecStart=/bin/sh -c '(.*)'\$|\\1|p" "$svc" |
	sed -e 's/\$\$/$/g' -e "s|[^ ']*/mailsync-|$MS_BUILD/cmd/mailsync-|g")
check "ExecStart is one sh -c running pull, then match" \
	grep -qE 'mailsync-pull -q --max-time [0-9]+; .*mailsync-match -q' <<<"$script"
export MAILSYNC_DB="$T/state/mailsync/mailsync.db"
emu_start
mailsync-clients -q import "$MS_SRC/share/sample/clients.jsonl"
setup_apps
connect_browser -p gmail --login-hint alice@firm.example --member alice --timeout 30
connect_browser -p outlook --login-hint carol@firm.example --member carol --timeout 30

# unit_run: the service's main process; its journal in $T/journal.
unit_run() {
	: >"$T/journal"
	rc=0
	JOURNAL_STREAM=$(stat -c '%d:%i' "$T/journal") \
		sh -c "$script" </dev/null >>"$T/journal" 2>&1 || rc=$?
}

# Gmail fails for the whole run: pull exits 75, match still runs.
emu POST /_emu/faults '{"kind": "status", "status": 503, "prefix": "/gmail/", "count": 100}' >/dev/null
unit_run
expect_rc "a run whose Gmail account fails ends the unit with pull's 75 (failed, status=75/TEMPFAIL)" 75
check "the failure is in the journal at priority err (<3>), naming the account" \
	grep -qE '^<3>mailsync-pull: alice@firm\.example \(gmail\)' "$T/journal"
sed 's/^/# journal: /' "$T/journal" | head -5
check "match ran anyway: the Outlook emails are on client profiles" \
	test "$(sqlite3 "$MAILSYNC_DB" "SELECT count(*) FROM email_clients ec JOIN email_accounts ea USING (email_id) JOIN accounts a ON a.id = ea.account_id WHERE a.provider = 'outlook'")" -gt 0
emu DELETE /_emu/faults >/dev/null

unit_run
expect_rc "a good run" 0
check "writes nothing to the journal but systemd's own lines" test ! -s "$T/journal"
check "every account healthy after it" mailsync-show -q --accounts --check

# The log goes to the journal once. Under cron (stderr a file or a pipe)
# mailsync also writes to syslog; under systemd $JOURNAL_STREAM names
# stderr, and syslog would put every line into the journal twice. A
# private /dev with a syslog socket of its own shows where lines go.
sink="$T/sink.py"
cat >"$sink" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
open(sys.argv[2] + ".ready", "w").close()
s.settimeout(30)
with open(sys.argv[2], "ab", buffering=0) as out:
    while True:
        d = s.recv(65536)
        if d == b"END":
            break
        out.write(d + b"\n")
PY
cat >"$T/logcheck.sh" <<EOF
set -e
mount -t tmpfs -o mode=0755 none /dev
mknod -m 666 /dev/null c 1 3
mknod -m 666 /dev/urandom c 1 9
python3 "$sink" /dev/log "$T/syslog" &
for _ in \$(seq 100); do [ -e "$T/syslog.ready" ] && break; sleep 0.1; done
db="$T/log.db"
# cron: stderr a file, no journal
mailsync-match --db "\$db" 2>"$T/cron.err"
python3 -c 'import socket; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b"MARK", "/dev/log")'
# systemd: stderr the stream \$JOURNAL_STREAM names
: >"$T/journal.err"
JOURNAL_STREAM=\$(stat -c '%d:%i' "$T/journal.err") mailsync-match --db "\$db" 2>>"$T/journal.err"
python3 -c 'import socket; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b"MARK", "/dev/log")'
# a child of the unit whose stderr went elsewhere inherits the variable
JOURNAL_STREAM=\$(stat -c '%d:%i' "$T/journal.err") mailsync-match --db "\$db" 2>"$T/other.err"
python3 -c 'import socket; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b"END", "/dev/log")'
wait
EOF
if [ "$(id -u)" -eq 0 ] && unshare -m true 2>/dev/null; then
	rc=0
	unshare -m bash "$T/logcheck.sh" >"$T/logcheck.out" 2>&1 || rc=$?
	check "the private /dev with a syslog socket was set up" test "$rc" -eq 0
	sed 's/^/# /' "$T/logcheck.out" | head -5
	# The syslog socket's lines, between the marks.
	awk 'BEGIN { p = 1 } /^MARK$/ { p++; next } { print > ("'"$T"'/syslog." p) }' "$T/syslog" 2>/dev/null
	check "under cron, a summary goes to syslog" \
		grep -q 'mailsync-match\[[0-9]*\]: matched 0 emails' "$T/syslog.1"
	check "and to stderr, as before" \
		grep -q '^mailsync-match: matched 0 emails' "$T/cron.err"
	check "under systemd, nothing goes to syslog" test ! -s "$T/syslog.2"
	check "the line goes to stderr, the journal, once, with its priority (<6> info)" \
		test "$(grep -c 'matched 0 emails' "$T/journal.err")" = 1 -a \
		"$(grep -c '^<6>mailsync-match: matched 0 emails' "$T/journal.err")" = 1
	check "a stderr that is not the named stream is not the journal: syslog again, no <N>" \
		test "$(grep -c 'matched 0 emails' "$T/syslog.3" 2>/dev/null)" = 1 -a \
		"$(grep -c '^mailsync-match: matched 0 emails' "$T/other.err")" = 1
else
	for _ in 1 2 3 4 5 6; do
		skip "needs root and unshare -m for a private /dev/log"
	done
fi

done_testing

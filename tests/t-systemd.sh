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
setup_sample gmail:alice outlook:carol

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
check "the recovery is in the journal once, at priority notice (<5>)" \
	grep -qE '^<5>mailsync-pull: alice@firm\.example \(gmail\) works again' "$T/journal"
check "and nothing else" test "$(wc -l <"$T/journal")" -eq 1
unit_run
check "the next good run writes nothing to the journal but systemd's own lines" test ! -s "$T/journal"
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
	skip_n 6 "needs root and unshare -m for a private /dev/log"
fi

# The units under a real systemd: the host's /usr booted in a container
# (systemd-nspawn --volatile), the sysusers.d file making the user, the
# units as built (ExecStart pointed at the build's binaries), the state
# folder and the emulator shared with this test.
nsp_checks=12
boot_skip() {
	skip_n $nsp_checks "$*"
}
if ! command -v systemd-nspawn >/dev/null 2>&1; then
	boot_skip "systemd-nspawn not installed (Debian package systemd-container)"
elif [ "$(id -u)" -ne 0 ]; then
	boot_skip "booting a container needs root"
else
	N="$T/nsp"
	mkdir -p "$N/out" "$N/units" "$N/sysusers" "$N/state/acme"
	chmod 777 "$N/out"
	for u in mailsync.service mailsync.timer mailsync@.service mailsync@.timer; do
		sed "s|[^ ']*/mailsync-|/opt/mailsync/mailsync-|g" "$units/$u" >"$N/units/$u"
	done
	cp "$MS_SRC/share/systemd/mailsync.sysusers" "$N/sysusers/mailsync.conf"
	# The emulator's endpoints; no leak check (LeakSanitizer ptrace()s,
	# which the unit's system call filter refuses, as it should).
	for u in mailsync.service mailsync@.service; do
		mkdir -p "$N/units/$u.d"
		{
			echo "[Service]"
			env | grep -E '^MAILSYNC_(GOOGLE|GMAIL|MS|GRAPH)_' | sed 's/^/Environment=/'
			echo "Environment=ASAN_OPTIONS=detect_leaks=0"
		} >"$N/units/$u.d/emu.conf"
	done
	mkdir -p "$N/units/mailsync@slow.service.d"
	printf '[Service]\nTimeoutStartSec=3\nTimeoutStopSec=2\n' \
		>"$N/units/mailsync@slow.service.d/short.conf"
	# A second business, acme, connected but never pulled; the first
	# one's database as the tests above left it.
	MAILSYNC_DB="$N/state/acme/mailsync.db" T="$T" bash -c '
		. "$MS_SRC/tests/lib-emu.sh"
		mailsync-clients -q import "$MS_SRC/share/sample/clients.jsonl"
		setup_apps
		connect_browser -p gmail --login-hint alice@firm.example --member alice --timeout 30
		connect_browser -p outlook --login-hint carol@firm.example --member carol --timeout 30' \
		>/dev/null 2>&1
	(umask 077 && sqlite3 "$MAILSYNC_DB" "VACUUM INTO '$N/state/mailsync.db'")
	cp "$(dirname "$MAILSYNC_DB")/mailsync.key" "$N/state/"
	cat >"$N/out/runner.sh" <<RUNNER
# In the container: what an admin types, each answer in /out.
o=/out
st() { systemctl show -p Result -p ExecMainStatus -p ExecMainCode "\$1" | sort | paste -sd' '; }
getent passwd mailsync >\$o/passwd
systemctl start mailsync@acme.service; echo \$? >\$o/acme.rc
st mailsync@acme.service >\$o/acme.show
curl -sf -X POST -H 'Content-Type: application/json' --data '{"kind": "status", "status": 503, "prefix": "/gmail/", "count": 100}' $EMU/_emu/faults >/dev/null
systemctl start mailsync.service; echo \$? >\$o/fail.rc
st mailsync.service >\$o/fail.show
systemctl is-failed mailsync.service >\$o/fail.state
systemctl status --no-pager mailsync.service >\$o/fail.status 2>&1
curl -sf -X DELETE $EMU/_emu/faults >/dev/null
mkdir -p /var/lib/mailsync/slow
cp /var/lib/mailsync/acme/mailsync.db /var/lib/mailsync/acme/mailsync.key /var/lib/mailsync/slow/
curl -sf -X POST -H 'Content-Type: application/json' --data '{"kind": "latency", "latency_ms": 20000, "prefix": "/gmail/", "probability": 1}' $EMU/_emu/faults >/dev/null
systemctl start mailsync@slow.service; echo \$? >\$o/slow.rc
st mailsync@slow.service >\$o/slow.show
systemctl status --no-pager mailsync@slow.service >\$o/slow.status 2>&1
curl -sf -X DELETE $EMU/_emu/faults >/dev/null
systemctl enable --now mailsync@acme.timer >\$o/enable.out 2>&1
systemctl is-enabled mailsync@acme.timer >\$o/timer.enabled
systemctl is-active mailsync@acme.timer >\$o/timer.active
systemctl list-timers --all --no-pager >\$o/timers 2>&1
journalctl --no-pager -o export -u mailsync.service >\$o/journal.export
journalctl --no-pager -u mailsync.service -u mailsync@acme.service -u mailsync@slow.service >\$o/journal.txt
systemd-analyze security --no-pager mailsync.service >\$o/security 2>&1
echo done >\$o/done
systemctl --no-block poweroff
RUNNER
	cat >"$N/units/runner.service" <<'UNIT'
[Unit]
Description=t-systemd: run mailsync's units
After=systemd-sysusers.service systemd-journald.service
[Service]
Type=oneshot
ExecStart=/bin/sh /out/runner.sh
UNIT
	rc=0
	timeout 240 systemd-nspawn -q --register=no --keep-unit --console=pipe \
		--machine="mailsync-t-$$" -D / --volatile=yes \
		--bind="$N/out:/out" --bind="$N/units:/etc/systemd/system" \
		--bind-ro="$N/sysusers:/etc/sysusers.d" \
		--bind-ro="$MS_BUILD/cmd:/opt/mailsync" \
		--bind="$N/state:/var/lib/mailsync" \
		-b systemd.unit=runner.service systemd.firstboot=off \
		</dev/null >"$N/boot.log" 2>&1 || rc=$?
	if [ ! -f "$N/out/passwd" ]; then
		echo "# the container did not boot (exit $rc):"
		sed 's/\x1b\[[0-9;]*m//g' "$N/boot.log" | grep -iE 'fail|error' | head -5 | sed 's/^/#   /'
		boot_skip "a container does not boot here"
	else
		check "systemd-sysusers made the mailsync user from the sysusers.d file" \
			grep -q '^mailsync:.*:/var/lib/mailsync:' "$N/out/passwd"
		check "systemctl start mailsync@acme.service succeeds in the sandbox ($(cat "$N/out/acme.show" 2>/dev/null))" \
			grep -qE 'ExecMainStatus=0 Result=success$' "$N/out/acme.show"
		check "and pulled and matched acme's mail in /var/lib/mailsync/acme" \
			test "$(sqlite3 "$N/state/acme/mailsync.db" 'SELECT count(*) FROM email_clients')" -gt 0
		check "a pull failing for one account fails the unit with status 75 ($(cat "$N/out/fail.show" 2>/dev/null))" \
			grep -qx 'ExecMainCode=1 ExecMainStatus=75 Result=exit-code' "$N/out/fail.show"
		check "systemctl is-failed says failed; status says 75/TEMPFAIL, not a crash" \
			test "$(cat "$N/out/fail.state" 2>/dev/null)" = failed -a \
			"$(grep -c 'status=75/TEMPFAIL' "$N/out/fail.status")" -ge 1
		sed 's/^/# /' "$N/out/fail.status" | grep -E 'Active:|Main PID|mailsync\[' | head -4
		python3 - "$N/out/journal.export" >"$N/errs" <<'PY'
import sys
# journalctl -o export: KEY=value lines, a blank line between entries.
for e in open(sys.argv[1], errors="replace").read().split("\n\n"):
    f = dict(l.split("=", 1) for l in e.splitlines() if "=" in l)
    if f.get("SYSLOG_IDENTIFIER") == "mailsync":
        print(f.get("PRIORITY"), f.get("MESSAGE"))
PY
		check "the journal holds the account's error once, at priority 3 (err), tagged mailsync" \
			test "$(grep -c 'alice@firm.example (gmail)' "$N/errs")" = 1 -a \
			"$(grep -c '^3 mailsync-pull: alice@firm.example (gmail)' "$N/errs")" = 1
		sed 's/^/# journal: /' "$N/errs" | head -3
		check "a run past TimeoutStartSec is ended: SIGTERM, result timeout ($(cat "$N/out/slow.show" 2>/dev/null))" \
			grep -qx 'ExecMainCode=2 ExecMainStatus=15 Result=timeout' "$N/out/slow.show"
		check "systemctl enable --now mailsync@acme.timer: enabled" \
			test "$(cat "$N/out/timer.enabled" 2>/dev/null)" = enabled
		check "and active" test "$(cat "$N/out/timer.active" 2>/dev/null)" = active
		check "list-timers shows it with its next elapse" \
			grep -q 'mailsync@acme.timer' "$N/out/timers"
		score=$(sed -nE 's/.*Overall exposure level for [^:]*: ([0-9.]+).*/\1/p' "$N/out/security")
		check "systemd-analyze security on the loaded unit: ${score:-none}, below 2.0" \
			awk -v s="${score:-9}" 'BEGIN { exit !(s < 2.0) }'
		check "the runner finished" test -f "$N/out/done"
	fi
fi

done_testing

#!/bin/bash
# The cron.d file, run as cron runs it: a minimal environment, no
# terminal, output only when something failed, overlapping ticks silent.
. "$MS_SRC/tests/lib.sh"
. "$MS_SRC/tests/lib-emu.sh"
cronfile="$MS_SRC/cron/mailsync"
var="$T/var/lib/mailsync"
mkdir -p "$var"
export MAILSYNC_DB="$var/mailsync.db"

job=$(grep -E '^[^#A-Z]' "$cronfile" | grep -v '^$')
check "one job line" test "$(printf '%s\n' "$job" | wc -l)" = 1
check "every 15 minutes, as the mailsync user" \
	grep -qE '^\*/15 \* \* \* \* mailsync ' <<<"$job"
check "under flock -n" grep -q ' flock -n ' <<<"$job"
grace=$(sed -nE 's/.* timeout -k ([0-9]+) ([0-9]+) .*/\1/p' <<<"$job")
bound=$(sed -nE 's/.* timeout -k ([0-9]+) ([0-9]+) .*/\2/p' <<<"$job")
maxt=$(sed -nE 's/.*--max-time ([0-9]+).*/\1/p' <<<"$job")
check "a stuck run is ended (TERM) before the next tick, after pull's own bound ($maxt < $bound < 900)" \
	test -n "$bound" -a -n "$maxt" -a "${maxt:-0}" -lt "${bound:-0}" -a "${bound:-900}" -lt 900
check "and killed if it ignores that, by the next tick ($bound + $grace <= 900)" \
	test -n "$grace" -a $((${bound:-900} + ${grace:-1})) -le 900
check "cron mails failures to someone (MAILTO)" grep -qE '^MAILTO=[^ ]+' "$cronfile"
check "the file name has no dot (cron.d skips those)" \
	bash -c "case \$(basename '$cronfile') in *.*) exit 1;; esac"
cmd=$(cron_command "$job" "$var")

# A business with clients and two mailboxes.
emu_start
setup_sample gmail:alice outlook:carol

# tick: run the job as cron would: sh -c, a bare environment, no tty
# ($TICK_PATH goes first on PATH).
tick() { as_cron "$cmd"; }

rc=0; tick || rc=$?
expect_rc "a first tick pulls and matches" 0
check "and prints nothing (cron mails nothing)" test ! -s "$T/tick.out"
check "emails were pulled" \
	test "$(sqlite3 "$MAILSYNC_DB" "SELECT count(*) FROM emails")" -gt 10
check "and matched to clients" \
	test "$(sqlite3 "$MAILSYNC_DB" "SELECT count(*) FROM email_clients")" -gt 5
run mailsync-show --tsv c-17
grep_out "a client's list holds synced emails" $'\tgmail\t'

rc=0; tick || rc=$?
expect_rc "an idle tick" 0
check "prints nothing either" test ! -s "$T/tick.out"

# Where mailsync.timer is active, the timer pulls and cron steps aside.
mkdir -p "$T/systemd-on"
printf '#!/bin/sh\n[ "$*" = "-q is-active mailsync.timer" ]\n' >"$T/systemd-on/systemctl"
chmod +x "$T/systemd-on/systemctl"
lease="$MAILSYNC_DB.pull.lock"
before=$(stat -c %y "$lease")
rc=0; TICK_PATH="$T/systemd-on" tick || rc=$?
expect_rc "a tick while mailsync.timer is active" 0
check "pulls nothing (the timer does)" test "$(stat -c %y "$lease")" = "$before"
check "and says nothing" test ! -s "$T/tick.out"

# An overlapping tick exits at once, silently.
flock "$var/cron.lock" sleep 3 &
holder=$!
sleep 0.3
start=$(date +%s%N)
rc=0; tick || rc=$?
took=$(( ($(date +%s%N) - start) / 1000000 ))
check "an overlapping tick exits at once ($took ms)" test "$took" -lt 1500
check "without output" test ! -s "$T/tick.out"
wait $holder

# A pull stuck past its bound (stopped here) never blocks later runs:
# its lease expires and the next run ends it.
emu POST /_emu/faults '{"kind": "latency", "latency_ms": 1500, "prefix": "/gmail/", "probability": 1}' >/dev/null
mailsync-pull -q --max-time 2 >/dev/null 2>&1 &
stuck=$!
sleep 0.5
kill -STOP $stuck
run mailsync-pull -q
expect_rc "a run while the stuck one is within its bound" 75
grep_err "says another pull runs" "another mailsync-pull is running"
sleep 5.5	# 2 s bound + 3 s grace, from its start
run mailsync-pull
expect_rc "a run after the stuck one's bound and grace" 0
grep_err "ends the stuck run and says so" "pid $stuck .* past its --max-time: ending it"
check "the stuck run is gone" bash -c "! kill -0 $stuck 2>/dev/null"
wait $stuck 2>/dev/null
emu DELETE /_emu/faults >/dev/null
run mailsync-show --accounts --check
expect_rc "every account healthy after the take-over" 0

# A failing tick speaks, so that cron mails it.
emu POST /_emu/faults '{"kind": "status", "status": 500, "prefix": "/gmail/", "count": 50}' >/dev/null
rc=0; tick || rc=$?
check "a failing tick exits non-zero" test "$rc" -ne 0
check "and says which account failed" grep -q "alice@firm.example" "$T/tick.out"
emu DELETE /_emu/faults >/dev/null

done_testing

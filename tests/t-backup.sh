#!/bin/bash
# A backup taken while cron pulls: the documented command (VACUUM INTO,
# one read transaction of a WAL database, so writers go on) gives a copy
# that opens, passes integrity_check and lists the accounts; the copy
# alone opens no mailbox, the copy with the key file does.
. "$MS_SRC/tests/lib.sh"
. "$MS_SRC/tests/lib-emu.sh"
cronfile="$MS_SRC/cron/mailsync"
var="$T/var/lib/mailsync"
mkdir -p "$var" "$T/backups"
chmod 700 "$T/backups"
export MAILSYNC_DB="$var/mailsync.db"
# qf FILE SQL: q on another database file (a backup copy).
qf() { sqlite3 -cmd ".timeout 5000" "$1" "$2"; }

# backup COPY: the command of README "Backups", as the mailsync user
# runs it.
backup() {
	(umask 077 && sqlite3 -cmd '.timeout 20000' "$MAILSYNC_DB" \
		"VACUUM INTO '$1'")
}

# Two generated mailboxes, big enough that a first pull takes seconds:
# slow replies, one Gmail request at a time.
emu_start --generate gmail:1,outlook:1,messages:1200
G=gmail1@firm.example O=outlook1@firm.example
setup_generated
emu POST /_emu/config '{"latency_ms": 150}' >/dev/null

# The cron job, run as cron runs it (see t-cron.sh), in the background.
job=$(grep -E '^\*/15 ' "$cronfile")
as_cron "$(cron_command "$job" "$var")" &
tick=$!

# Wait for its first commit, then back up every half second while it
# runs (a bounded number of times).
for _ in $(seq 300); do
	[ "$(q "SELECT count(*) FROM email_accounts")" -gt 0 ] && break
	kill -0 $tick 2>/dev/null || break
	sleep 0.05
done
k=0 during=0 fails=0
while [ $k -lt 8 ] && kill -0 $tick 2>/dev/null; do
	k=$((k + 1))
	backup "$T/backups/$k.db" 2>>"$T/backup.err" || fails=$((fails + 1))
	# Taken while the pull ran, and it was still running after: the
	# copy was made between two of its commits.
	kill -0 $tick 2>/dev/null && during=$((during + 1))
	sleep 0.5
done
trc=0
wait $tick || trc=$?
check "the cron job went on and succeeded (exit $trc)" test "$trc" -eq 0
check "it said nothing" test ! -s "$T/tick.out"
sed 's/^/# tick: /' "$T/tick.out" | head -5
check "every backup command succeeded ($k taken, $fails failed)" test $k -gt 0 -a $fails -eq 0
sed 's/^/# backup: /' "$T/backup.err" | head -5
check "backups were taken while the pull wrote ($during)" test $during -ge 2

final=$(q "SELECT count(*) FROM email_accounts")
good=0 partial=0 listed=0 private=0
for f in "$T"/backups/*.db; do
	[ -f "$f" ] || continue
	n=$(qf "$f" "SELECT count(*) FROM email_accounts")
	[ "$(qf "$f" "PRAGMA integrity_check")" = ok ] &&
		[ -z "$(qf "$f" "PRAGMA foreign_key_check")" ] && good=$((good + 1))
	[ "$n" -gt 0 ] && [ "$n" -lt "$final" ] && partial=$((partial + 1))
	mailsync-show --db "$f" --accounts >"$T/acc" 2>"$T/acc.err" &&
		grep -q "$G" "$T/acc" && grep -q "$O" "$T/acc" && listed=$((listed + 1))
	[ "$(stat -c %a "$f")" = 600 ] && private=$((private + 1))
	echo "# $(basename "$f"): $n of $final email links"
done
check "every copy passes integrity_check and foreign_key_check ($good of $k)" test $good -eq $k
check "some copies caught the pull half way ($partial)" test $partial -ge 1
check "mailsync-show --accounts works on every copy ($listed of $k)" test $listed -eq $k
check "every copy is readable by its owner only ($private of $k)" test $private -eq $k
check "the database itself is intact" test "$(q "PRAGMA integrity_check")" = ok

# The copy alone opens no mailbox; with the key file it does.
last="$T/backups/$k.db"
restore="$T/restore"
mkdir -p "$restore" && chmod 700 "$restore"
cp "$last" "$restore/mailsync.db"
run mailsync-pull --db "$restore/mailsync.db"
check "a copy without its key file pulls nothing (exit $rc)" test "$rc" -ne 0
sed 's/^/# stderr: /' "$T/err" | head -3
grep_err "and names the missing key file" "key file .*mailsync\.key"
check "and the copy has not lost its accounts" \
	test "$(qf "$restore/mailsync.db" "SELECT count(*) FROM accounts")" -eq 2
cp "$last" "$restore/mailsync.db"
rm -f "$restore/mailsync.key" "$restore"/mailsync.db-*
run env MAILSYNC_KEY_FILE="$var/mailsync.key" mailsync-pull -q --db "$restore/mailsync.db"
expect_rc "the copy with the key file kept apart pulls again (MAILSYNC_KEY_FILE)" 0
check "and it resumed where the copy stopped: every email is back" \
	test "$(qf "$restore/mailsync.db" "SELECT count(*) FROM email_accounts")" -eq "$final"

done_testing

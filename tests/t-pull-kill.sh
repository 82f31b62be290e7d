#!/bin/bash
# mailsync-pull killed (SIGKILL) at many points of a slowed full sync and of
# a slowed incremental one: every rerun resumes, and in the end nothing is
# lost, nothing duplicated, the database is sound and an idle run fetches
# nothing. Expectations come from the emulator's own data.
. "$MS_SRC/tests/lib.sh"
. "$MS_SRC/tests/lib-emu.sh"
export MAILSYNC_DB="$T/data/mailsync.db"
# The sample data for the apps, plus a generated Gmail and Outlook mailbox
# of 1200 messages each (some shared between them, some drafts, spam, junk).
emu_start --generate gmail:1,outlook:1,messages:1200
G=gmail1@firm.example O=outlook1@firm.example
export ACCTS="$G $O"

# The emulator, not the quota pacing, sets the pace: slow replies, one
# Gmail request at a time (Graph pages are 200 a request).
setup_generated
econf '{"latency_ms": 120}'

total=$(pc distinct)
check "the emulator holds several pages and batches of mail ($total emails)" test "$total" -gt 2000

# kill_runs PHASE POINTS...: start a pull and SIGKILL it at each point: a
# delay in seconds, or "c" for right after its next commit (the first time
# more links are visible); count the kills that hit a running pull and
# those that left each mailbox partly synced (some of its new emails
# stored, not all).
links() { q "SELECT count(*) FROM email_accounts ea JOIN accounts a ON a.id = ea.account_id WHERE a.address = '$1'"; }
kill_runs() {
	phase=$1
	shift
	hits=0 partial_g=0 partial_o=0
	g0=$(links $G) o0=$(links $O) gw=$(pc count $G) ow=$(pc count $O)
	for d in "$@"; do
		n0=$(q "SELECT count(*) FROM email_accounts")
		mailsync-pull -q >/dev/null 2>>"$T/kill.err" &
		p=$!
		if [ "$d" = c ]; then
			for _ in $(seq 500); do
				kill -0 $p 2>/dev/null || break
				[ "$(q "SELECT count(*) FROM email_accounts")" -gt "$n0" ] && break
				sleep 0.02
			done
		else
			sleep "$d"
		fi
		if kill -0 $p 2>/dev/null; then
			kill -9 $p 2>/dev/null && hits=$((hits + 1))
		fi
		wait $p 2>/dev/null
		g=$(links $G) o=$(links $O)
		[ "$g" -gt "$g0" ] && [ "$g" -lt "$gw" ] && partial_g=$((partial_g + 1))
		[ "$o" -gt "$o0" ] && [ "$o" -lt "$ow" ] && partial_o=$((partial_o + 1))
		echo "# $phase: killed at $d: gmail $g of $gw, outlook $o of $ow"
	done
	check "$phase: at least 3 kills hit a running pull ($hits)" test $hits -ge 3
	case $phase in
	full*)
		check "$phase: some kills left the Gmail account half synced ($partial_g)" test $partial_g -ge 1
		check "$phase: some kills left the Outlook account half synced ($partial_o)" test $partial_o -ge 1
		;;
	*)	# A Gmail history round may be one transaction: then only
		# Outlook's pages show in between.
		check "$phase: some kills left an account half synced (gmail $partial_g, outlook $partial_o)" \
			test $((partial_g + partial_o)) -ge 1
		;;
	esac
}

# verify PHASE: the database after the last run.
verify() {
	check "$1: each account is linked to exactly the emails its mailbox holds, once" pc links
	check "$1: each Message-ID stored once, nothing else" pc emails
	check "$1: no Message-ID twice in any case" \
		test "$(q "SELECT count(*) - count(DISTINCT lower(message_id)) FROM emails")" = 0
	check "$1: every synced email has an account" \
		test "$(q "SELECT count(*) FROM emails WHERE id NOT IN (SELECT email_id FROM email_accounts)")" = 0
	check "$1: every email has its sender" \
		test "$(q "SELECT count(*) FROM emails WHERE id NOT IN (SELECT email_id FROM email_addrs WHERE role = 0)")" = 0
	check "$1: PRAGMA integrity_check" test "$(q "PRAGMA integrity_check")" = ok
	check "$1: PRAGMA foreign_key_check" test -z "$(q "PRAGMA foreign_key_check")"
	check "$1: no unfinished page is left in the cursors" \
		test "$(q "SELECT count(*) FROM sync_state WHERE json_extract(cursor, '$.pageToken') IS NOT NULL OR json_extract(cursor, '$.nextLink') IS NOT NULL")/$(q "SELECT count(*) FROM sync_state WHERE json_extract(cursor, '$.historyId') IS NOT NULL OR json_extract(cursor, '$.deltaLink') IS NOT NULL")" = 0/5
	emu DELETE /_emu/log >/dev/null
	run mailsync-pull --json
	expect_rc "$1: an idle run" 0
	check "$1: the idle run fetches nothing" pc json-idle "$T/out" 2
	check "$1: with one request for Gmail and one \$batch for Outlook's folders" \
		pc log-idle-costs-one-request mem
}

# 1. The full sync, killed again and again.
kill_runs "full sync" 0.1 c 0.3 c 0.2 c c 0.8 c 1.5 c c 2.0
run mailsync-pull --json
expect_rc "full sync: a run to the end after the kills" 0
check "full sync: all ok" pc json-all-ok "$T/out" 2
check "full sync: every email is there" test "$(q "SELECT count(*) FROM emails")" = "$total"
verify "full sync"

# 2. An incremental sync of 700 new Gmail and 300 new Outlook messages, killed too.
emu POST "/_emu/mailboxes/$G/messages" '{"generate": 700, "seed": 11}' >/dev/null
emu POST "/_emu/mailboxes/$O/messages" '{"generate": 300, "seed": 12}' >/dev/null
base=$(q "SELECT count(*) FROM emails")
want=$(pc distinct)
check "incremental: 1000 new messages in the mailboxes" test "$want" = $((base + 1000))
kill_runs "incremental" 0.1 c 0.3 c 0.5 c 1.2 c 0.2 c 2.0
run mailsync-pull --json
expect_rc "incremental: a run to the end after the kills" 0
check "incremental: every email is there" test "$(q "SELECT count(*) FROM emails")" = "$want"
verify "incremental"
# (A sanitizer build's runtime may report on a process killed while it
# checks for leaks at exit: "==PID==..." lines are its, not ours.)
check "the killed runs printed nothing (no stale lock, no error)" \
	test -z "$(grep -v '^==[0-9]*==' "$T/kill.err")"
sed 's/^/# /' "$T/kill.err" | head -5

# 3. A provider that does not answer within the run's bound: --max-time
# holds (past it, a reply may take half the lease's grace, 1.5 s here,
# then it is abandoned), nothing is half written, and the next run
# finishes the work.
emu POST "/_emu/mailboxes/$G/messages" '{"generate": 30, "seed": 13}' >/dev/null
want=$(pc distinct)
emu POST /_emu/faults '{"kind": "latency", "latency_ms": 60000, "prefix": "/gmail/v1/users/me/history", "count": 3}' >/dev/null
start=$(date +%s%N)
run mailsync-pull --json --max-time 2
took=$(( ($(date +%s%N) - start) / 1000000 ))
emu DELETE /_emu/faults >/dev/null
expect_rc "a stalled provider: the run ends by itself" 0
grep_err "it says which reply it abandoned" "gmail1@firm.example: no complete reply .* abandoned"
check "it ended within --max-time plus the grace (3.5 s), not when the reply came ($took ms)" \
	test "$took" -lt 6000
check "the stalled account is partial, the other ok" \
	pc json-says "$T/out" $G=partial $O=ok
run mailsync-pull --json
expect_rc "the next run" 0
check "the next run finishes the stalled account's work" test "$(q "SELECT count(*) FROM emails")" = "$want"
verify "after a stalled provider"

done_testing

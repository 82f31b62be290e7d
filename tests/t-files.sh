#!/bin/bash
# The files mailsync writes besides the database (the pull lock, the key
# file) against planted links and races; the key never replaced over
# sealed secrets; the processes holding tokens make no core dump.
. "$MS_SRC/tests/lib.sh"
. "$MS_SRC/tests/lib-emu.sh"
export MAILSYNC_DB="$T/data/mailsync.db"
emu_start
key="$T/data/mailsync.key"
lock="$MAILSYNC_DB.pull.lock"
dump() { sqlite3 "$MAILSYNC_DB" .dump | sha256sum; }

# The key file: made on first need, whole, 0600, no temporary left.
printf '%s\n' "$GMAIL_SECRET" >"$T/gsecret"
run mailsync-connect -p gmail --setup --client-id "$GMAIL_ID" --client-secret-file "$T/gsecret"
expect_rc "a first --setup" 0
grep_err "says it made the key file" "created the key file $key"
check "the key file is 32 bytes, mode 0600" test "$(stat -c '%s %a' "$key")" = "32 600"
check "no temporary file is left beside it" \
	test -z "$(find "$T/data" -name '.mailsync.key.*')"
mailsync-connect -q -p outlook --setup --client-id "$MS_PUBLIC_ID"
connect_browser -p gmail --login-hint alice@firm.example --member alice --timeout 30
expect_rc "alice connects" 0

# Two first runs at once end with one key both can use.
ok_race=0
for i in 1 2 3 4 5; do
	db="$T/race$i/mailsync.db"
	MAILSYNC_DB=$db mailsync-config list >/dev/null # the database, no key
	MAILSYNC_DB=$db mailsync-connect -q -p gmail --setup --client-id "$GMAIL_ID" --client-secret-file "$T/gsecret" 2>"$T/race$i.a" &
	a=$!
	printf '%s\n' "$MS_CONF_SECRET" >"$T/msecret"
	MAILSYNC_DB=$db mailsync-connect -q -p outlook --setup --client-id "$MS_CONF_ID" --client-secret-file "$T/msecret" 2>"$T/race$i.b" &
	b=$!
	ra=0; rb=0
	wait $a || ra=$?
	wait $b || rb=$?
	# Both secrets open with the one key: the flows get as far as the
	# token endpoint (which refuses the made-up code).
	rg=0; MAILSYNC_DB=$db mailsync-connect -p gmail --paste <<<"made-up-code" >/dev/null 2>"$T/race$i.g" || rg=$?
	ro=0; MAILSYNC_DB=$db mailsync-connect -p outlook --paste <<<"made-up-code" >/dev/null 2>"$T/race$i.o" || ro=$?
	if [ $ra = 0 ] && [ $rb = 0 ] && [ $rg = 77 ] && [ $ro = 77 ] &&
		[ "$(stat -c '%s %a' "$T/race$i/mailsync.key")" = "32 600" ] &&
		[ -z "$(find "$T/race$i" -name '.mailsync.key.*')" ]; then
		ok_race=$((ok_race + 1))
	else
		echo "# race $i: setup $ra $rb, connect $rg $ro"
		cat "$T/race$i".? | sed 's/^/# /'
	fi
done
check "two concurrent first --setup runs share one key (5 of 5 rounds)" test $ok_race = 5

# The pull lock: never through a link, never another's file.
echo "precious" >"$T/target"
ln -s "$T/target" "$lock"
run mailsync-pull -q
expect_rc "a symlink at the pull lock is refused" 73
grep_err "says so, naming it" "lock file $lock is a symbolic link: refused"
check "its target is untouched" test "$(cat "$T/target")" = precious
rm "$lock"
ln "$T/target" "$lock"
run mailsync-pull -q
expect_rc "a hard link at the pull lock is refused" 73
check "its other name is untouched" test "$(cat "$T/target")" = precious
rm "$lock"
mkfifo "$lock"
run timeout 10 mailsync-pull -q
expect_rc "a FIFO at the pull lock is refused, without hanging" 73
rm "$lock"
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	: >"$lock"
	chown nobody "$lock"
	run mailsync-pull -q
	expect_rc "a pull lock owned by another user is refused" 77
	grep_err "says whose it is" "belongs to uid [0-9]+, not to you"
	rm "$lock"
else
	ok "# SKIP a pull lock owned by another user (needs root)"
fi

# The key file: never through a link, never another's.
mv "$key" "$T/key.real"
ln -s "$T/key.real" "$key"
run mailsync-connect -p gmail --paste <<<"made-up-code"
expect_rc "a symlinked key file is refused" 77
grep_err "says so" "key file $key is a symbolic link: refused"
rm "$key"
mv "$T/key.real" "$key"
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	chown nobody "$key"
	run mailsync-connect -p gmail --paste <<<"made-up-code"
	expect_rc "a key file owned by another user is refused" 77
	chown "$(id -u)" "$key"
else
	ok "# SKIP a key file owned by another user (needs root)"
fi

# A lost key file over sealed secrets: every command refuses, and says
# where the key was expected; nothing changes.
mv "$key" "$T/key.saved"
before=$(dump)
run mailsync-connect -p gmail --setup --client-id "$GMAIL_ID" --client-secret-file "$T/gsecret"
expect_rc "--setup with the key file lost" 78
grep_err "names where the key was expected" "key file $key is missing, and the database's secrets are sealed with it"
grep_err "and the fix" "restore the file from a backup, or discard them with mailsync-connect --setup --new-key"
one_line_err "in one line"
check "no new key file was made" test ! -e "$key"
check "the database is unchanged" test "$(dump)" = "$before"
run mailsync-connect -p gmail --member alice --timeout 5
expect_rc "connect with the key file lost" 78
run mailsync-pull
expect_rc "pull with the key file lost" 78
grep_err "names the key file" "key file $key is missing"
check "no new key file was made, nothing changed" test ! -e "$key" -a "$(dump)" = "$before"

# --new-key: only when asked, only over a lost key.
cp "$T/key.saved" "$key"
run mailsync-connect -p gmail --setup --new-key --client-id "$GMAIL_ID" --client-secret-file "$T/gsecret"
expect_rc "--new-key with the key file there" 64
check "the key file is kept" cmp -s "$key" "$T/key.saved"
run mailsync-connect -p gmail --new-key
expect_rc "--new-key without --setup" 64
rm "$key"
run mailsync-connect -p gmail --setup --new-key --client-id "$GMAIL_ID" --client-secret-file "$T/gsecret"
expect_rc "--setup --new-key over a lost key" 0
grep_err "says what was discarded" "discarded the secrets sealed with the lost key: 1 app secret and the tokens of 1 account"
check "a new key file" test "$(stat -c '%s %a' "$key")" = "32 600"
check "the new key is not the old one" bash -c "! cmp -s '$key' '$T/key.saved'"
check "the account needs re-authorization" \
	test "$(sqlite3 "$MAILSYNC_DB" "SELECT status FROM accounts WHERE address = 'alice@firm.example'")" = needs-reauth
check "its tokens are gone" test "$(sqlite3 "$MAILSYNC_DB" "SELECT count(*) FROM tokens")" = 0
connect_browser -p gmail --login-hint alice@firm.example --member alice --timeout 30
expect_rc "alice connects again with the new key" 0

# A database without sealed secrets may get a key.
MAILSYNC_DB="$T/fresh/mailsync.db" mailsync-connect -q -p outlook --setup --client-id "$MS_PUBLIC_ID"
rm "$T/fresh/mailsync.key"
run env MAILSYNC_DB="$T/fresh/mailsync.db" mailsync-connect -p outlook --setup --client-id "$MS_PUBLIC_ID"
expect_rc "no sealed secrets: a lost key file is made again" 0
check "it is there" test -s "$T/fresh/mailsync.key"

# The processes holding tokens make no core dump and cannot be read by
# their user's other processes.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && id nobody >/dev/null 2>&1; then
	# As root /proc is readable anyway: run it as nobody and look as
	# nobody.
	as=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
	mkdir -p "$T/nobody"
	chown nobody "$T/nobody"
	chmod 711 "$T"
else
	as=()
fi
ndb="$T/nobody/mailsync.db"
"${as[@]}" env MAILSYNC_DB="$ndb" mailsync-connect -q -p outlook --setup --client-id "$MS_PUBLIC_ID"
: >"$T/connect.err"
"${as[@]}" env MAILSYNC_DB="$ndb" mailsync-connect -p outlook --no-browser --timeout 20 >/dev/null 2>"$T/connect.err" &
cpid=$!
for _ in $(seq 100); do grep -q '^http' "$T/connect.err" && break; sleep 0.1; done
check "a waiting mailsync-connect has a core file size limit of 0" \
	grep -qE '^Max core file size +0 +0 ' "/proc/$cpid/limits"
check "it is not dumpable: /proc/PID is root's, not its user's" \
	test "$(stat -c %u "/proc/$cpid/status")" = 0
if [ ${#as[@]} -gt 0 ] || [ "$(id -u)" != 0 ]; then
	check "its user's other processes cannot read its environment" \
		bash -c "! ${as[*]} cat /proc/$cpid/environ >/dev/null 2>&1"
else
	ok "# SKIP reading its environment as its user (no setpriv)"
fi
kill $cpid 2>/dev/null
wait $cpid 2>/dev/null
chmod 700 "$T"

done_testing

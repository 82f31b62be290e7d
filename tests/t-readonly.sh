#!/bin/bash
# Read commands never create anything: a missing database is exit 66 with
# one line naming it and what creates it; a read-only database or folder
# is opened read-only and works (as a user that permissions stop: root
# is not, so those checks run as nobody through setpriv or runuser, and
# are skipped without them); a damaged database says so with a hint, and
# no message quotes SQL.
. "$MS_SRC/tests/lib.sh"

skip() { ok "# SKIP $*"; }

# --- a missing database ---------------------------------------------------

nodb="$T/none/mailsync.db"
for c in "mailsync-show c-17" "mailsync-show --accounts" \
    "mailsync-show --accounts --check" "mailsync-show --view 1" \
    "mailsync-clients list" "mailsync-config get sync.since" \
    "mailsync-config list" "mailsync-config aliases" \
    "mailsync-config blocklist" "mailsync-clients remove c-17" \
    "mailsync-disconnect alice@firm.example" \
    "mailsync-config unblock @spam.example"; do
	# shellcheck disable=SC2086
	run ${c%% *} --db "$nodb" ${c#* }
	expect_rc "$c on a missing database" 66
	one_line_err "$c: one line"
	grep_err "$c: names the path and what creates it" \
	    "$nodb does not exist: mailsync-clients import or mailsync-connect creates it"
done
check "none of them created the file or its folder" test ! -e "$T/none"

run env HOME="$T/nonexistent" XDG_DATA_HOME= mailsync-show c-17
expect_rc "HOME=$T/nonexistent mailsync-show c-17" 66
check "creates nothing" test ! -e "$T/nonexistent"
if [ ! -e /nonexistent ]; then
	run env -u XDG_DATA_HOME HOME=/nonexistent mailsync-show c-17
	expect_rc "env HOME=/nonexistent mailsync-show c-17" 66
	if [ -e /nonexistent ]; then
		not_ok "HOME=/nonexistent: /nonexistent was created"
		rm -rf /nonexistent
	else
		ok "HOME=/nonexistent: nothing created"
	fi
else
	skip "env HOME=/nonexistent mailsync-show c-17: /nonexistent exists on this machine"
	skip "HOME=/nonexistent: nothing created: /nonexistent exists on this machine"
fi
run env MAILSYNC_DB="$T/typo.db" mailsync-clients list
expect_rc "a mistyped MAILSYNC_DB" 66
check "is not created" test ! -e "$T/typo.db"

# Write commands create it as before, 0600 in a 0700 folder.
run mailsync-config --db "$T/new/m.db" set sync.since 2026-01-01
expect_rc "a write command makes a new database" 0
check "mode 0600" test "$(stat -c %a "$T/new/m.db")" = 600
check "in a 0700 folder" test "$(stat -c %a "$T/new")" = 700

# --- a database to read ---------------------------------------------------

db="$T/biz/mailsync.db"
mkdir -p "$T/biz"
export MAILSYNC_DB="$db"
mailsync-clients -q import "$MS_SRC/share/sample/clients.jsonl"
mailsync-record -q "$MS_SRC/share/sample/crm/01-welcome.eml" >/dev/null
mailsync-match -q
mailsync-show --tsv c-17 >"$T/want.show"
mailsync-clients list --tsv >"$T/want.list"
check "the sample business has an email for c-17" test -s "$T/want.show"

# A symbolic link, another user's file, something not a file: refused
# for writing, and said so in a line.
ln -s "$db" "$T/link.db"
run mailsync-match --db "$T/link.db"
expect_rc "a write through a symbolic link" 73
grep_err "says it is a symbolic link" "symbolic link"
mkfifo "$T/fifo.db"
run mailsync-match --db "$T/fifo.db"
expect_rc "a FIFO as database, for writing" 73
run mailsync-show --db "$T/fifo.db" --accounts
expect_rc "a FIFO as database, for reading" 66

# as_nobody CMD...: CMD as the user nobody, when the tools allow.
as=
if [ "$(id -u)" = 0 ]; then
	if setpriv --reuid=nobody --regid=nogroup --clear-groups true 2>/dev/null; then
		as="setpriv --reuid=nobody --regid=nogroup --clear-groups"
	elif runuser -u nobody true 2>/dev/null; then
		as="runuser -u nobody --"
	fi
fi
as_user() {
	# shellcheck disable=SC2086
	run $as env PATH="$PATH" LC_ALL=C.UTF-8 MAILSYNC_DB="$MAILSYNC_DB" HOME=/ "$@"
}
if [ "$(id -u)" = 0 ] && [ -z "$as" ]; then
	skip_n 16 "no setpriv or runuser: read-only checks need a user other than root"
else
	# The database and its folder belong to the user who reads them, and
	# neither may be written: the file 0400, the folder 0500.
	chmod 0755 "$T"
	[ -n "$as" ] && chown -R nobody "$T/biz"
	chmod 0400 "$db"
	chmod 0500 "$T/biz"
	ls -a "$T/biz" >"$T/before"
	as_user mailsync-show --tsv c-17
	expect_rc "show on a read-only database in a read-only folder" 0
	check "prints what it printed writable" diff -u "$T/want.show" "$T/out"
	as_user mailsync-clients list --tsv
	expect_rc "clients list there" 0
	check "lists every client" diff -u "$T/want.list" "$T/out"
	as_user mailsync-config get sync.since
	expect_rc "config get there" 0
	as_user mailsync-show --accounts --check
	expect_rc "show --accounts --check there" 0
	ls -a "$T/biz" >"$T/after"
	check "nothing was created beside it (no -wal, no -shm)" diff -u "$T/before" "$T/after"
	as_user mailsync-clients import "$MS_SRC/share/sample/clients.jsonl"
	check "a write command there fails (exit $rc)" test "$rc" -ne 0
	one_line_err "the write command's refusal: in one line"
	# An older schema is never upgraded through a read-only connection.
	chmod 0700 "$T/biz"
	chmod 0600 "$db"
	cur=$(sqlite3 "$db" "PRAGMA user_version")
	sqlite3 "$db" "PRAGMA user_version = $((cur - 1))"
	[ -n "$as" ] && chown -R nobody "$T/biz"
	chmod 0400 "$db"
	chmod 0500 "$T/biz"
	as_user mailsync-show --accounts
	expect_rc "an older schema, read-only" 78
	grep_err "says to run a write command to upgrade it" "run a write command .* to upgrade it"
	one_line_err "the older schema: in one line"
	chmod 0700 "$T/biz"
	chmod 0600 "$db"
	sqlite3 "$db" "PRAGMA user_version = $cur"
	[ -n "$as" ] && chown -R "$(id -u)" "$T/biz"
	if [ -n "$as" ]; then
		# A reader that is not the owner, in a folder it may not
		# write, while the owner may.
		chmod 0755 "$T/biz"
		chmod 0644 "$db"
		as_user mailsync-clients list --tsv
		expect_rc "another user reads a database readable to all" 0
		check "and lists every client" diff -u "$T/want.list" "$T/out"
		as_user mailsync-config set sync.since 2026-01-01
		expect_rc "but may not write it" 77
		grep_err "the refusal names the owner" "belongs to root"
		chmod 0600 "$db"
		chmod 0700 "$T/biz"
	else
		skip_n 5 "not root: another user's reads not checked"
	fi
fi

# A database of someone else: root writing a file of nobody's would leave
# its -wal, -shm and lock files root's.
if [ -n "$as" ]; then
	cp "$db" "$T/theirs.db"
	chown nobody "$T/theirs.db"
	run mailsync-match --db "$T/theirs.db"
	expect_rc "a write on another user's database" 77
	grep_err "names the owner and what to do" "belongs to nobody: run the commands that write it as that user"
	run mailsync-show --db "$T/theirs.db" --tsv c-17
	expect_rc "but it reads" 0
else
	skip_n 3 "no other user to own a database"
fi

# --- a damaged database ---------------------------------------------------

head -c 65536 /dev/urandom >"$T/random.db"
chmod 600 "$T/random.db"
for c in "mailsync-show c-17" "mailsync-clients list" \
    "mailsync-config get sync.since" "mailsync-match"; do
	# shellcheck disable=SC2086
	run ${c%% *} --db "$T/random.db" ${c#mailsync-* }
	[ "$c" = mailsync-match ] && run mailsync-match --db "$T/random.db"
	expect_rc "$c on random bytes" 65
	one_line_err "$c on random bytes: one line"
	grep_err "$c: says so, with the hint" \
	    "random.db: not a mailsync database, or a damaged one .*restore the backup \(README: Backups\), or try \`sqlite3 .*random.db .recover\`"
done

# A real database cut in half: the clients' pages are gone.
seq 1 3000 | awk '{ printf "{\"id\": \"c%05d\", \"name\": \"Client %d with a long name for room\", \"email\": \"client%d@example.com\"}\n", $1, $1, $1 }' >"$T/many.jsonl"
mailsync-clients -q --db "$T/cut.db" import "$T/many.jsonl"
sqlite3 "$T/cut.db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
size=$(stat -c %s "$T/cut.db")
truncate -s $((size / 2)) "$T/cut.db"
run mailsync-clients --db "$T/cut.db" list
expect_rc "listing a truncated database" 65
one_line_err "the truncated database: in one line"
grep_err "says it is damaged, with the hint" "damaged one .*restore the backup"
if grep -qiE '\b(select|insert|update|delete) ' "$T/err"; then
	not_ok "quotes no SQL: $(cat "$T/err")"
else
	ok "quotes no SQL"
fi
run mailsync-clients -v --db "$T/cut.db" list
grep_err "-v has the failing SQL for developers" ", in: [A-Z]+ "

# --- a write the disk refuses is 74 ---------------------------------------

mailsync-clients -q --db "$T/small.db" import /dev/null
rc=0
(trap '' XFSZ; ulimit -f 64; exec mailsync-clients -q --db "$T/small.db" import "$T/many.jsonl") >"$T/out" 2>"$T/err" || rc=$?
expect_rc "a database write past the file size limit" 74
one_line_err "past the file size limit: in one line"
grep_err "says the disk failed, names the file" "small.db: "
check "nothing imported" test "$(mailsync-clients --db "$T/small.db" list --tsv | wc -l)" -eq 0

done_testing

#!/bin/bash
# What every binary shares: --help, --version, bad options, the database
# location and its modes.
. "$MS_SRC/tests/lib.sh"

bins="mailsync-clients mailsync-record mailsync-match mailsync-show
	mailsync-connect mailsync-disconnect"

for b in $bins; do
	run $b --help
	expect_rc "$b --help" 0
	grep_out "$b --help prints usage on stdout" "^usage: $b"
	run $b -V
	grep_out "$b -V prints the version" "^$b [0-9]+\.[0-9]+"
	run $b --no-such-option
	expect_rc "$b with an unknown option" 64
	one_line_err "$b: the unknown option error is one line"
	grep_err "$b: the error names the option" "no-such-option"
	run $b --db
	expect_rc "$b --db without its argument" 64
	one_line_err "$b: the missing argument error is one line"
done

# Default location: $XDG_DATA_HOME/mailsync/mailsync.db, 0600 in 0700,
# made by the first command that writes (reading never creates it).
run mailsync-clients import /dev/null
expect_rc "a first import makes a new database" 0
db="$XDG_DATA_HOME/mailsync/mailsync.db"
check "the database is created under XDG_DATA_HOME" test -f "$db"
check "the database file is mode 0600" \
	test "$(stat -c %a "$db")" = 600
check "its folder is mode 0700" \
	test "$(stat -c %a "$XDG_DATA_HOME/mailsync")" = 700

# Without XDG_DATA_HOME: $HOME/.local/share.
(unset XDG_DATA_HOME; mailsync-clients import /dev/null >/dev/null 2>&1)
check "without XDG_DATA_HOME it lives in ~/.local/share" \
	test -f "$HOME/.local/share/mailsync/mailsync.db"

# MAILSYNC_DB, then --db, take precedence.
echo '{"id":"x1"}' >"$T/one.jsonl"
MAILSYNC_DB="$T/env.db" mailsync-clients -q import "$T/one.jsonl"
check "MAILSYNC_DB names the database" test -f "$T/env.db"
MAILSYNC_DB="$T/env.db" mailsync-clients -q --db "$T/opt.db" \
	import "$T/one.jsonl"
check "--db wins over MAILSYNC_DB" test -f "$T/opt.db"
run mailsync-clients --db "$T/env.db" list --json
grep_out "the imported client is in the MAILSYNC_DB database" '"id":"x1"'

# Schema version and pragmas.
check "the schema is versioned (user_version > 0)" \
	test "$(sqlite3 "$T/env.db" 'PRAGMA user_version')" -gt 0
check "the database is in WAL mode" \
	test "$(sqlite3 "$T/env.db" 'PRAGMA journal_mode')" = wal

# A database from a newer mailsync is refused, untouched.
sqlite3 "$T/env.db" 'PRAGMA user_version = 999'
run mailsync-clients --db "$T/env.db" list
expect_rc "a database of a newer schema" 78
grep_err "it says the schema is newer" "newer"
one_line_err "the newer schema: in one line"

# Not a database, a directory, an unwritable place.
echo "hello, not sqlite" >"$T/junk.db"
chmod 600 "$T/junk.db"
run mailsync-clients --db "$T/junk.db" list
expect_rc "a file that is not a database" 65
grep_err "the error names the file" "junk.db"
one_line_err "not a database: in one line"
run mailsync-clients --db "$T" import /dev/null
expect_rc "a directory as database" 73
one_line_err "a directory to import into: in one line"
run mailsync-clients --db "$T" list
expect_rc "a directory as database, read" 66
one_line_err "a directory to list: in one line"

# Concurrency: a reader never waits for a writer (WAL), and a writer
# waits for another writer (busy timeout) instead of failing.
mailsync-clients -q --db "$T/busy.db" import "$T/one.jsonl"
python3 - "$T/busy.db" "$T/locked" <<'PY' &
import sqlite3, sys, time, pathlib
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("BEGIN IMMEDIATE")
con.execute("UPDATE clients SET name = 'held' WHERE crm_id = 'x1'")
pathlib.Path(sys.argv[2]).touch()
time.sleep(1.5)
con.execute("COMMIT")
PY
holder=$!
for _ in $(seq 50); do [ -e "$T/locked" ] && break; sleep 0.1; done
run mailsync-clients --db "$T/busy.db" list --json
expect_rc "a reader is not blocked by a writer holding the lock" 0
run mailsync-match --db "$T/busy.db"
expect_rc "a writer waits for the other writer, then succeeds" 0
wait $holder
check "the other writer's change is there" \
	test "$(sqlite3 "$T/busy.db" "SELECT name FROM clients")" = held

done_testing

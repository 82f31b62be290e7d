# lib.sh: TAP helpers for the shell tests. Source it, then call the
# helpers; finish with done_testing.
#
# Environment from meson: MS_BUILD (build root), MS_SRC (source root).
# PATH gets the freshly built binaries first.

set -u
: "${MS_BUILD:?MS_BUILD not set (run through meson test)}"
: "${MS_SRC:?MS_SRC not set (run through meson test)}"
PATH="$MS_BUILD/cmd:$PATH"
export PATH
unset NO_COLOR MAILSYNC_DB MAILSYNC_KEY_FILE

T=$(mktemp -d "${TMPDIR:-/tmp}/mailsync-test.XXXXXX")
trap 'rm -rf "$T"' EXIT
export HOME="$T/home" XDG_DATA_HOME="$T/home/.local/share"
mkdir -p "$HOME"

tap_n=0
tap_failed=0
# Every test's name once per file, so a failure names one line of it:
# the number each name was first given.
declare -A tap_seen=()

# tap_line ok|"not ok" NAME: the TAP line; a name given before fails.
tap_line() {
	tap_n=$((tap_n + 1))
	if [ -n "${tap_seen["=$2"]+set}" ]; then
		tap_failed=$((tap_failed + 1))
		echo "not ok $tap_n - $2"
		echo "# this name was test ${tap_seen["=$2"]}'s: name each test of a file once"
		return
	fi
	tap_seen["=$2"]=$tap_n
	[ "$1" = ok ] || tap_failed=$((tap_failed + 1))
	echo "$1 $tap_n - $2"
}

ok() {
	tap_line ok "$*"
}

not_ok() {
	tap_line "not ok" "$*"
}

# skip_n N REASON: N tests skipped for REASON, each named apart.
skip_n() {
	for _i in $(seq "$1"); do ok "# SKIP $2 ($_i of $1)"; done
}

# q SQL: a query on the test's database ($MAILSYNC_DB), waiting up to 5 s
# for a lock that a pull running beside it holds.
q() { sqlite3 -cmd ".timeout 5000" "$MAILSYNC_DB" "$1"; }

# check DESCRIPTION COMMAND...: ok when COMMAND succeeds.
check() {
	_d=$1
	shift
	if "$@"; then ok "$_d"; else not_ok "$_d"; fi
}

# run COMMAND...: run it, keeping stdout in $T/out, stderr in $T/err and
# the exit status in $rc.
run() {
	rc=0
	"$@" >"$T/out" 2>"$T/err" || rc=$?
}

# expect_rc DESCRIPTION WANT: compare the last run's status.
expect_rc() {
	if [ "$rc" -eq "$2" ]; then
		ok "$1 (exit $2)"
	else
		not_ok "$1: exit $rc, want $2"
		sed 's/^/# stderr: /' "$T/err"
	fi
}

# expect_out DESCRIPTION: compare the last run's stdout with stdin.
expect_out() {
	if diff -u - "$T/out" >"$T/diff"; then
		ok "$1"
	else
		not_ok "$1"
		sed 's/^/# /' "$T/diff"
	fi
}

# expect_golden DESCRIPTION FILE: compare the last run's stdout with the
# golden file tests/data/golden/FILE. MS_BLESS=1 in the environment
# writes it instead (then read the change with git diff before keeping it).
expect_golden() {
	if [ "${MS_BLESS:-}" = 1 ]; then
		cp "$T/out" "$MS_SRC/tests/data/golden/$2"
	fi
	expect_out "$1" <"$MS_SRC/tests/data/golden/$2"
}

# grep_out / grep_err DESCRIPTION PATTERN: a line of stdout/stderr matches.
grep_out() {
	if grep -qE -- "$2" "$T/out"; then ok "$1"; else
		not_ok "$1: no /$2/ in stdout"
		sed 's/^/# stdout: /' "$T/out" | head -20
	fi
}
grep_err() {
	if grep -qE -- "$2" "$T/err"; then ok "$1"; else
		not_ok "$1: no /$2/ in stderr"
		sed 's/^/# stderr: /' "$T/err" | head -20
	fi
}

# one_line_err DESCRIPTION: stderr is exactly one line.
one_line_err() {
	if [ "$(wc -l <"$T/err")" -eq 1 ]; then ok "$1"; else
		not_ok "$1: stderr has $(wc -l <"$T/err") lines"
		sed 's/^/# stderr: /' "$T/err" | head -20
	fi
}

done_testing() {
	echo "1..$tap_n"
	[ "$tap_failed" -eq 0 ]
}

#!/bin/sh
# run: run the libFuzzer targets of a -Dfuzz=true build, one after the
# other, for SECONDS each (share/bootstrap fuzz, .ci/run).
#
#   tests/fuzz/run.sh BUILD SECONDS [NAME...]
#
# NAME... defaults to every fuzz-* program in BUILD/tests/fuzz. Each runs
# with the common flags below, then the flags of its harness's
# "libfuzzer:" line (later flags win), then $FUZZ_FLAGS. It reads the
# corpus it grew in earlier runs (BUILD/fuzz/corpus/NAME, where new
# inputs go), the seeds (corpus/NAME) and the regression inputs
# (regress/NAME). A finding (crash, sanitizer report, leak, timeout, out
# of memory, broken promise) is saved in BUILD/fuzz/findings/NAME/ and
# makes the exit status 1. One summary line per target on stdout; the
# whole libFuzzer log is BUILD/fuzz/log/NAME.log.
set -eu

[ $# -ge 2 ] || {
	echo "usage: tests/fuzz/run.sh BUILD SECONDS [NAME...]" >&2
	exit 64
}
build=$(cd "$1" && pwd)
secs=$2
shift 2
case $secs in
'' | *[!0-9]*)
	echo "run.sh: SECONDS must be a number, not \"$secs\"" >&2
	exit 64
	;;
esac
cd "$(dirname "$0")"

if [ $# -eq 0 ]; then
	for f in "$build"/tests/fuzz/fuzz-*; do
		[ -f "$f" ] && [ -x "$f" ] && set -- "$@" "${f##*/fuzz-}"
	done
fi
[ $# -gt 0 ] || {
	echo "run.sh: no fuzz-* in $build/tests/fuzz (meson setup -Dfuzz=true)" >&2
	exit 66
}

# UBSan only reports and goes on by default: a finding must stop. ASan
# keeps up to 256 MB of freed memory (quarantine) and never gives its
# free lists back: a fuzzer doing nothing wrong grows past 600 MB in 90 s.
# 64 MB of quarantine still catches use after free at these input sizes.
UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=64:allocator_release_to_os_interval_ms=1000}
export UBSAN_OPTIONS ASAN_OPTIONS

# summary [EXECS COV FT CORPUS]: the line for target $t.
summary() {
	printf 'fuzz-%s: %ss, %s executions, cov %s, ft %s, corpus %s, peak RSS %s MB' \
	    "$t" "$secs" "${1:-?}" "${2:-?}" "${3:-?}" "${4:-?}" "${rss:-?}"
}

failed=0
for t in "$@"; do
	exe=$build/tests/fuzz/fuzz-$t
	[ -x "$exe" ] || {
		echo "fuzz-$t: not built ($exe)" >&2
		failed=1
		continue
	}
	own=$(sed -n 's/^ \* libfuzzer: //p' "fuzz-$t.c")
	work=$build/fuzz/corpus/$t
	found=$build/fuzz/findings/$t
	log=$build/fuzz/log/$t.log
	mkdir -p "$work" "$found" "$build/fuzz/log"
	dirs="$work corpus/$t"
	[ -d "regress/$t" ] && dirs="$dirs regress/$t"
	rc=0
	# shellcheck disable=SC2086 # the flags are words
	"$exe" -rss_limit_mb=2048 -timeout=10 -max_total_time="$secs" \
	    -print_final_stats=1 -artifact_prefix="$found/" \
	    $own ${FUZZ_FLAGS:-} $dirs >"$log" 2>&1 || rc=$?
	# "#123 DONE cov: 1 ft: 2 corp: ..." (or the last status line)
	stat=$(sed -n 's/^#\([0-9]*\).* cov: \([0-9]*\) ft: \([0-9]*\) corp: \([0-9]*\).*/\1 \2 \3 \4/p' \
	    "$log" | tail -n 1)
	rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log")
	# shellcheck disable=SC2086 # four numbers or none
	summary $stat
	if [ $rc -eq 0 ]; then
		echo ", no finding"
	else
		echo ", FINDING (exit $rc): $log"
		grep -E '^(==[0-9]+==|SUMMARY|.*broken promise|.*runtime error)' \
		    "$log" | head -n 5 >&2 || :
		ls "$found" >&2
		failed=1
	fi
done
exit $failed

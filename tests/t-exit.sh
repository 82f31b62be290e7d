#!/bin/bash
# Exit codes: output that cannot be written is 74 (EX_IOERR) in every
# binary, whichever path printed it (usage, --version, data), with one
# line on stderr; never 0 with the output lost.
. "$MS_SRC/tests/lib.sh"
. "$MS_SRC/tests/lib-emu.sh"
export MAILSYNC_DB="$T/db"

if ! [ -w /dev/full ]; then
	echo "1..0 # SKIP no /dev/full"
	exit 77
fi

bins="mailsync-clients mailsync-config mailsync-connect mailsync-disconnect"
bins="$bins mailsync-match mailsync-pull mailsync-record mailsync-show"
for b in $bins; do
	run sh -c "$b --version >/dev/full"
	expect_rc "$b --version to a full disk" 74
	one_line_err "$b: one line"
	grep_err "$b: says stdout failed" "^$b: stdout: No space left on device$"
	run sh -c "$b --help >/dev/full"
	expect_rc "$b --help to a full disk" 74
done

mailsync-clients -q import "$MS_SRC/share/sample/clients.jsonl"
mailsync-record -q "$MS_SRC/share/sample/crm/01-welcome.eml" >/dev/null
mailsync-match -q
emu_start
setup_apps
connect_mailbox outlook carol@firm.example carol
for c in "mailsync-show c-17" "mailsync-show --json c-17" \
    "mailsync-show --tsv c-17" "mailsync-show --view 1" \
    "mailsync-show --accounts" "mailsync-show --accounts --json" \
    "mailsync-clients list" "mailsync-clients list --json" \
    "mailsync-config list" "mailsync-config get sync.since" \
    "mailsync-config list --json"; do
	run sh -c "$c >/dev/full"
	expect_rc "$c to a full disk" 74
	one_line_err "$c: one line"
done
# A list longer than stdio's buffer fails in the middle, not at the end.
for i in $(seq 0 59); do
	printf 'Message-ID: <long%d@exit.test>\nDate: Tue, 1 Dec 2026 11:%02d:00 +0000\nFrom: alice@firm.example\nTo: ops@acme.example\nSubject: a subject long enough to fill the buffer sooner %d\n\nbody\n' "$i" "$i" "$i" |
	    mailsync-record -q >/dev/null
done
mailsync-match -q
for c in "mailsync-show c-17" "mailsync-show --json c-17"; do
	run sh -c "$c >/dev/full"
	expect_rc "$c, a long list, to a full disk" 74
	one_line_err "$c, a long list: one line"
done
run sh -c "mailsync-record '$MS_SRC/share/sample/crm/02-invoice.eml' >/dev/full"
expect_rc "mailsync-record's id to a full disk" 74
run sh -c "mailsync-disconnect -q carol@firm.example >/dev/full"
expect_rc "mailsync-disconnect's line to a full disk" 74
grep_err "says stdout failed" "stdout: No space left on device"

done_testing

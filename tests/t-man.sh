#!/bin/bash
# The man pages built from share/man/*.scd: each renders without a warning,
# has the sections every page must have, documents every long option its
# binary's --help lists, and refers only to pages that exist.
. "$MS_SRC/tests/lib.sh"

mandir=$MS_BUILD/share/man
pages="mailsync.7 mailsync-clients.1 mailsync-config.1 mailsync-connect.1
    mailsync-disconnect.1 mailsync-match.1 mailsync-pull.1 mailsync-record.1
    mailsync-show.1"

skip() {
	ok "# SKIP $*"
}

# render PAGE: the page as text in $T/page.txt, diagnostics in $T/page.err.
if command -v man >/dev/null 2>&1; then
	render() {
		MANWIDTH=80 MANPAGER=cat PAGER=cat man -l --warnings=all "$1" \
		    2>"$T/page.err" | col -bx >"$T/page.txt"
	}
elif command -v groff >/dev/null 2>&1; then
	render() {
		groff -k -man -ww -Tutf8 -rLL=80n "$1" 2>"$T/page.err" |
		    col -bx >"$T/page.txt"
	}
else
	echo "1..0 # SKIP neither man nor groff installed"
	exit 0
fi

if ! ls "$mandir"/*.[17] >/dev/null 2>&1; then
	if ! command -v scdoc >/dev/null 2>&1; then
		echo "1..0 # SKIP scdoc not installed: no man pages built"
		exit 0
	fi
fi

for p in $pages; do
	f=$mandir/$p
	if [ ! -f "$f" ]; then
		not_ok "$p: not built"
		continue
	fi
	ok "$p: built"
	render "$f"
	if [ -s "$T/page.err" ]; then
		not_ok "$p: renders with warnings"
		sed 's/^/# /' "$T/page.err"
	else
		ok "$p: renders without warnings"
	fi
	for s in NAME SYNOPSIS DESCRIPTION ENVIRONMENT FILES "EXIT STATUS" \
	    EXAMPLES "SEE ALSO"; do
		[ "$p" = mailsync.7 ] && [ "$s" = SYNOPSIS ] && continue
		if grep -qx "$s" "$T/page.txt"; then ok "$p: has $s"; else
			not_ok "$p: no $s section"
		fi
	done
	name=${p%.*}
	if grep -A1 -x NAME "$T/page.txt" | grep -qE "^ +$name - "; then
		ok "$p: NAME is \"$name - ...\""
	else
		not_ok "$p: NAME does not start with \"$name - \""
	fi
	# Every exit status a page lists is a sysexits code (or 1, which the
	# contract sets for mailsync-show --accounts --check, as monitoring
	# checks expect).
	bad=$(sed -n '/^EXIT STATUS/,/^[A-Z]/p' "$T/page.txt" |
	    grep -oE '^ +[0-9]+$|^ +│?[0-9]+ ' | tr -dc '0-9\n' |
	    grep -vxE '0|1|6[4-9]|7[0-8]' | tr '\n' ' ')
	if [ -z "$bad" ]; then ok "$p: exit codes are sysexits codes"; else
		not_ok "$p: exit codes not from sysexits: $bad"
	fi
	# Cross references to our own pages point at built pages.
	missing=
	for ref in $(grep -oE 'mailsync(-[a-z]+)?\([17]\)' "$T/page.txt" |
	    sort -u); do
		r=${ref%(*}.${ref#*(}
		r=${r%)}
		[ -f "$mandir/$r" ] || missing="$missing $ref"
	done
	if [ -z "$missing" ]; then ok "$p: SEE ALSO pages exist"; else
		not_ok "$p: refers to pages not built:$missing"
	fi
	cp "$T/page.txt" "$T/$p.txt"
done

# Every long option in a binary's --help is documented in its page.
for b in mailsync-clients mailsync-config mailsync-connect \
    mailsync-disconnect mailsync-match mailsync-pull mailsync-record \
    mailsync-show; do
	if [ ! -x "$MS_BUILD/cmd/$b" ]; then
		skip "$b not built: its options not checked"
		continue
	fi
	if [ ! -f "$T/$b.1.txt" ]; then
		not_ok "$b: no page to check its options against"
		continue
	fi
	if ! "$MS_BUILD/cmd/$b" --help >"$T/help" 2>&1; then
		not_ok "$b --help fails"
		continue
	fi
	missing=
	for o in $(grep -oE -- '--[a-z][a-z0-9-]*' "$T/help" | sort -u); do
		grep -qE -- "(^|[^a-z-])$o([^a-z0-9-]|\$)" "$T/$b.1.txt" ||
		    missing="$missing $o"
	done
	if [ -z "$missing" ]; then
		ok "$b.1 documents every long option of $b --help"
	else
		not_ok "$b.1 lacks options of $b --help:$missing"
	fi
done

# Every setting of mailsync-config list is in mailsync-config.1's SETTINGS,
# its paragraph heading giving its default ("default none" when empty).
b=$MS_BUILD/cmd/mailsync-config
if [ ! -x "$b" ]; then
	skip "mailsync-config not built: its settings not checked"
elif [ ! -f "$T/mailsync-config.1.txt" ]; then
	not_ok "mailsync-config: no page to check its settings against"
elif ! "$MS_BUILD/cmd/mailsync-clients" -q --db "$T/config.db" import /dev/null ||
    ! "$b" --db "$T/config.db" list >"$T/settings" 2>"$T/settings.err" ||
    [ ! -s "$T/settings" ]; then
	not_ok "mailsync-config list fails"
	sed 's/^/# /' "$T/settings.err"
else
	sed -n '/^SETTINGS/,/^[A-Z]/p' "$T/mailsync-config.1.txt" \
	    >"$T/settings.txt"
	missing=
	while IFS='=' read -r k def; do
		grep -F -- "$k (" "$T/settings.txt" |
		    grep -qF -- "default ${def:-none}" ||
		    missing="$missing $k=${def:-none}"
	done <"$T/settings"
	if [ -z "$missing" ]; then
		ok "mailsync-config.1 documents every setting with its default"
	else
		not_ok "mailsync-config.1 lacks settings or defaults:$missing"
	fi
fi

done_testing

#!/bin/bash
# meson install as a package build runs it (into a DESTDIR): every file
# lands where the Debian tool that reads it looks, the installed units
# verify, and systemd-sysusers and systemd-tmpfiles make the user and
# its folder from the installed files.
. "$MS_SRC/tests/lib.sh"

skip() {
	ok "# SKIP $*"
}
has() {
	command -v "$1" >/dev/null 2>&1
}

R="$T/root"
run meson install -C "$MS_BUILD" --destdir "$R" --no-rebuild --quiet
expect_rc "meson install --destdir" 0

# The build's directories, as meson holds them.
eval "$(meson introspect "$MS_BUILD" --buildoptions | python3 -c '
import json, sys, shlex
o = {x["name"]: x["value"] for x in json.load(sys.stdin)}
p = o["prefix"]
def d(k):
    return o[k] if o[k].startswith("/") else p + "/" + o[k]
for k in ("bindir", "mandir", "datadir", "sysconfdir"):
    print("%s=%s" % (k, shlex.quote(d(k))))
print("prefix=" + shlex.quote(p))
')"
echo "# prefix $prefix: bin $bindir, man $mandir, data $datadir, etc $sysconfdir"

# Binaries.
bins="clients config connect disconnect match pull record show"
n=0
for b in $bins; do
	[ -f "$R$bindir/mailsync-$b" ] && [ -x "$R$bindir/mailsync-$b" ] && n=$((n + 1))
done
check "the 8 binaries, executable, in $bindir ($n)" test "$n" -eq 8
run "$R$bindir/mailsync-show" --version
check "and they run from there" grep -q '^mailsync-show ' "$T/out"

# Man pages, found by man(1) through the installed tree.
if [ -f "$MS_BUILD/share/man/mailsync.7" ]; then
	n=$(ls "$R$mandir/man1/" 2>/dev/null | grep -c '^mailsync-.*\.1$')
	check "the 8 section 1 pages in $mandir/man1 ($n)" test "$n" -eq 8
	check "and mailsync(7) in $mandir/man7" test -f "$R$mandir/man7/mailsync.7"
	if has man; then
		run man -M "$R$mandir" -w mailsync-pull
		check "man finds mailsync-pull(1) there" \
			grep -qx "$R$mandir/man1/mailsync-pull.1" "$T/out"
	else
		skip "man finds mailsync-pull(1) there: man-db not installed"
	fi
else
	skip_n 3 "man pages not built (scdoc)"
fi

# Completions, each where its shell reads it. The prefix's data folder is
# on $XDG_DATA_DIRS (its default is /usr/local/share:/usr/share).
xdg="/usr/local/share:/usr/share"
case ":$xdg:" in *":$datadir:"*) ;; *) xdg="$datadir:$xdg" ;; esac
bfile=$(cd "$R" && find . -path '*/bash-completion/completions/mailsync-show' | sed 's/^\.//')
check "a bash completion for each binary (${bfile:-none})" \
	test -n "$bfile" -a "$(ls "$R$(dirname "$bfile")" | grep -c '^mailsync-')" -eq 8
if [ -f /usr/share/bash-completion/bash_completion ] && [ -n "$bfile" ]; then
	# bash-completion's own loader, pointed at the installed tree.
	rdirs=$(printf '%s' "$xdg" | tr ':' '\n' | sed "s|^|$R|" | paste -sd:)
	run env XDG_DATA_DIRS="$rdirs" bash -c \
		'. /usr/share/bash-completion/bash_completion
		 __load_completion mailsync-show && complete -p mailsync-show'
	check "bash-completion loads it from there on demand" \
		grep -q 'mailsync-show$' "$T/out"
else
	skip "bash-completion not installed"
fi
zfile=$(cd "$R" && find . -name _mailsync | sed 's/^\.//')
check "the zsh completion is installed (${zfile:-none})" test -n "$zfile"
if has zsh; then
	check "in a folder on Debian zsh's fpath" \
		bash -c "zsh -fc 'print -l \$fpath' | grep -qx '$(dirname "${zfile:-/none}")'"
else
	skip "in a folder on zsh's fpath: zsh not installed"
fi
ffile=$(cd "$R" && find . -name mailsync-show.fish | sed 's/^\.//')
check "a fish completion for each binary (${ffile:-none})" \
	test -n "$ffile" -a "$(ls "$R$(dirname "${ffile:-/none}")" | grep -c '^mailsync-.*\.fish$')" -eq 8
if has fish; then
	check "in a folder fish reads (\$__fish_vendor_completionsdirs)" \
		bash -c "XDG_DATA_DIRS='$xdg' fish -c 'printf \"%s\\n\" \$__fish_vendor_completionsdirs' | grep -qx '$(dirname "${ffile:-/none}")'"
else
	skip "in a folder fish reads: fish not installed"
fi

# The cron.d file.
cf="$R$sysconfdir/cron.d/mailsync"
check "the cron.d file in $sysconfdir/cron.d" test -f "$cf"
check "mode 0644, as cron wants it" test "$(stat -c %a "$cf" 2>/dev/null)" = 644
check "its PATH finds the installed binaries" \
	bash -c "grep '^PATH=' '$cf' | tr '=:' '\n\n' | grep -qx '$bindir'"
check "its job is the source's" \
	test "$(grep '^\*/15' "$cf")" = "$(grep '^\*/15' "$MS_SRC/cron/mailsync")"

# The systemd units, in a folder systemd loads units from.
ufile=$(cd "$R" && find . -name mailsync.service | sed 's/^\.//')
udir=$(dirname "${ufile:-/none}")
n=0
for u in mailsync.service mailsync.timer mailsync@.service mailsync@.timer; do
	[ -f "$R$udir/$u" ] && n=$((n + 1))
done
check "the 4 units in $udir ($n)" test "$n" -eq 4
if has systemd-analyze; then
	check "a folder on systemd's unit path (systemd-analyze unit-paths)" \
		bash -c "systemd-analyze unit-paths | grep -qx '$udir'"
	run systemd-analyze verify --man=no "$R$udir/mailsync.service" \
		"$R$udir/mailsync.timer" "$R$udir/mailsync@.service" \
		"$R$udir/mailsync@.timer"
	check "systemd-analyze verify accepts the installed units, silently" \
		test "$rc" -eq 0 -a ! -s "$T/err"
	sed 's/^/# /' "$T/err" | head -5
else
	skip "a folder on systemd's unit path: systemd-analyze not installed (Debian package systemd)"
	skip "systemd-analyze verify: systemd-analyze not installed (Debian package systemd)"
fi
# ExecStart runs them through sh -c, where verify does not look.
paths=$(grep -ho '/[^ ]*/mailsync-[a-z]*' "$R$udir/mailsync.service" "$R$udir/mailsync@.service" | sort -u)
n=0
for p in $paths; do [ -x "$R$p" ] && n=$((n + 1)); done
check "the units name the installed binaries ($(echo $paths))" \
	test -n "$paths" -a "$n" -eq "$(echo "$paths" | wc -l)"

# The system user and its folder, from the installed sysusers.d and
# tmpfiles.d files, as a package's postinst makes them.
if has systemd-sysusers && has systemd-tmpfiles; then
	mkdir -p "$R/etc"
	run systemd-sysusers --root="$R"
	check "systemd-sysusers creates the mailsync user from the installed file" \
		grep -qE '^mailsync:x:[0-9]+:[0-9]+:mailsync:/var/lib/mailsync:' "$R/etc/passwd"
	check "a system user that cannot log in" \
		grep -qE '^mailsync:.*:/(usr/)?s?bin/(nologin|false)$' "$R/etc/passwd"
	uid=$(awk -F: '$1 == "mailsync" { print $3 }' "$R/etc/passwd")
	run systemd-tmpfiles --root="$R" --create
	check "systemd-tmpfiles creates /var/lib/mailsync, 0700, owned by it" \
		test "$(stat -c '%a %u' "$R/var/lib/mailsync" 2>/dev/null)" = "700 $uid"
else
	skip_n 3 "systemd-sysusers/systemd-tmpfiles not installed"
fi

# The JSON format documents.
n=0
for f in account client email; do
	cmp -s "$R$datadir/doc/mailsync/json/$f.md" "$MS_SRC/share/json/$f.md" && n=$((n + 1))
done
check "the JSON format documents in $datadir/doc/mailsync/json ($n of 3)" test "$n" -eq 3

# A package build (prefix /usr) puts each file where Debian 12 reads it:
# set up only, the install plan read from meson.
if meson setup "$T/deb" "$MS_SRC" --prefix=/usr >"$T/setup.out" 2>&1; then
	meson introspect "$T/deb" --installed |
		python3 -c 'import json, sys; print("\n".join(json.load(sys.stdin).values()))' \
		>"$T/plan"
	unitdir=/usr/lib/systemd/system
	has pkg-config && pkg-config --exists systemd &&
		unitdir=$(pkg-config --variable=systemdsystemunitdir systemd)
	for want in /usr/bin/mailsync-pull \
		/usr/share/bash-completion/completions/mailsync-show \
		/usr/share/zsh/vendor-completions/_mailsync \
		/usr/share/fish/vendor_completions.d/mailsync-show.fish \
		/etc/cron.d/mailsync \
		"$unitdir/mailsync.service" "$unitdir/mailsync@.timer" \
		/usr/lib/sysusers.d/mailsync.conf /usr/lib/tmpfiles.d/mailsync.conf \
		/usr/share/doc/mailsync/json/email.md; do
		check "prefix /usr: $want" grep -qx "$want" "$T/plan"
	done
	if [ -f "$MS_BUILD/share/man/mailsync.7" ]; then
		check "prefix /usr: /usr/share/man/man7/mailsync.7" \
			grep -qx /usr/share/man/man7/mailsync.7 "$T/plan"
	else
		skip "prefix /usr: mailsync.7: man pages not built (scdoc)"
	fi
	if has zsh; then
		check "prefix /usr: zsh reads /usr/share/zsh/vendor-completions" \
			bash -c "zsh -fc 'print -l \$fpath' | grep -qx /usr/share/zsh/vendor-completions"
	else
		skip "prefix /usr: zsh's vendor-completions: zsh not installed"
	fi
	if has fish; then
		check "prefix /usr: fish reads /usr/share/fish/vendor_completions.d, XDG_DATA_DIRS unset" \
			bash -c "env -u XDG_DATA_DIRS fish -c 'printf \"%s\\n\" \$__fish_vendor_completionsdirs' | grep -qx /usr/share/fish/vendor_completions.d"
	else
		skip "prefix /usr: fish's vendor_completions.d: fish not installed"
	fi
else
	not_ok "meson setup --prefix=/usr"
	sed 's/^/# /' "$T/setup.out" | tail -5
fi

# Every directory is an option; "no" and disabled install none.
if meson setup "$T/opt" "$MS_SRC" --prefix=/usr -Dzsh-completions-dir=/opt/zsh \
	-Dbash-completions-dir=share/bash -Dfish-completions-dir=/opt/fish \
	-Dsystemd-unit-dir=/opt/units -Dsysusers-dir=/opt/sysusers \
	-Dtmpfiles-dir=/opt/tmpfiles -Dcron-dir=/opt/cron >"$T/setup.out" 2>&1; then
	meson introspect "$T/opt" --installed |
		python3 -c 'import json, sys; print("\n".join(json.load(sys.stdin).values()))' \
		>"$T/plan"
	n=0
	for want in /opt/zsh/_mailsync /usr/share/bash/mailsync-show \
		/opt/fish/mailsync-show.fish /opt/units/mailsync.service \
		/opt/sysusers/mailsync.conf /opt/tmpfiles/mailsync.conf \
		/opt/cron/mailsync; do
		grep -qx "$want" "$T/plan" && n=$((n + 1))
	done
	check "each directory option moves its files ($n of 7)" test "$n" -eq 7
else
	not_ok "meson setup with every directory option"
	sed 's/^/# /' "$T/setup.out" | tail -5
fi
if meson setup "$T/none" "$MS_SRC" -Dcompletions=disabled -Dsystemd=disabled \
	-Dman-pages=disabled -Dcron-dir=no >"$T/setup.out" 2>&1; then
	meson introspect "$T/none" --installed |
		python3 -c 'import json, sys; print("\n".join(json.load(sys.stdin).values()))' \
		>"$T/plan"
	check "completions, units, man pages and cron.d can each be left out" \
		bash -c "! grep -qE '_mailsync|\\.fish|completions|systemd|sysusers|tmpfiles|/man|cron' '$T/plan'"
else
	not_ok "meson setup with everything optional disabled"
	sed 's/^/# /' "$T/setup.out" | tail -5
fi

done_testing

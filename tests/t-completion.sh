#!/bin/bash
# The shell completions: the bash one driven through its completion
# function as bash would, the zsh and fish ones parsed (and fish's asked),
# and every long option of every --help known to them.
. "$MS_SRC/tests/lib.sh"
. "$MS_SRC/tests/lib-emu.sh"

bins="mailsync-clients mailsync-config mailsync-connect mailsync-disconnect"
bins="$bins mailsync-match mailsync-pull mailsync-record mailsync-show"
bash_comp=$MS_SRC/completions/bash/mailsync
zsh_comp=$MS_SRC/completions/zsh/_mailsync
fish_comp=$MS_SRC/completions/fish/mailsync.fish

skip() {
	ok "# SKIP $*"
}

# The settings of mailsync-config, from the binary itself (a database of
# the test's own): every key, and the boolean ones (default on or off).
config_keys=() config_bools=()
if [ -x "$MS_BUILD/cmd/mailsync-config" ] &&
    "$MS_BUILD/cmd/mailsync-clients" -q --db "$T/config.db" import /dev/null &&
    "$MS_BUILD/cmd/mailsync-config" --db "$T/config.db" list \
    >"$T/settings" 2>/dev/null; then
	mapfile -t config_keys < <(cut -d= -f1 "$T/settings")
	mapfile -t config_bools < <(grep -E '=(on|off)$' "$T/settings" |
	    cut -d= -f1)
fi

# comp WORD...: complete the last WORD (the cursor at its end) as bash
# would, through the function registered for the command; the candidates
# end up in COMPREPLY and, one a line, in $T/comp.
comp() {
	local fn
	COMP_WORDS=("$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE="$*"
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	fn=$(complete -p "$1" 2>/dev/null | sed -n 's/.* -F \([^ ]*\) .*/\1/p')
	if [ -n "$fn" ]; then
		"$fn" "$1" "${COMP_WORDS[COMP_CWORD]}" \
		    "${COMP_WORDS[COMP_CWORD - 1]}" 2>"$T/comp.err"
	fi
	printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort >"$T/comp"
}

# offers DESCRIPTION WORD...: the last comp offered every WORD.
offers() {
	local d=$1 w missing=
	shift
	for w in "$@"; do
		grep -qxF -- "$w" "$T/comp" || missing="$missing $w"
	done
	if [ -z "$missing" ]; then ok "$d"; else
		not_ok "$d: missing$missing"
		sed 's/^/# offered: /' "$T/comp"
	fi
}

# offers_only DESCRIPTION WORD...: the last comp offered exactly WORDs.
offers_only() {
	local d=$1
	shift
	if printf '%s\n' "$@" | sed '/^$/d' | sort | diff -u - "$T/comp" \
	    >"$T/diff"; then
		ok "$d"
	else
		not_ok "$d"
		sed 's/^/# /' "$T/diff"
	fi
}

# values_of_keys PREFIX COMP-KEY: COMP-KEY KEY completes the value of
# "mailsync-config set KEY" into $T/comp; for every key it offers on and
# off for the booleans and nothing for the others (test PREFIX...).
values_of_keys() {
	local k want bad=
	for k in "${config_keys[@]}"; do
		"$2" "$k"
		want=
		printf '%s\n' "${config_bools[@]}" | grep -qxF -- "$k" &&
		    want="off
on"
		[ "$(cat "$T/comp")" = "$want" ] || bad="$bad $k"
	done
	if [ -z "$bad" ]; then
		ok "${1}mailsync-config set KEY <TAB>: on off for the booleans only"
	else
		not_ok "${1}mailsync-config set KEY <TAB>: wrong values for$bad"
	fi
}

# --- bash ---------------------------------------------------------------

check "bash completion parses" bash -n "$bash_comp"
# shellcheck source=/dev/null
. "$bash_comp"
check "it runs without bash-completion's _init_completion" \
    test -z "$(declare -F _init_completion)"
for b in $bins; do
	if complete -p "$b" 2>/dev/null | grep -q -- "-F .* $b\$"; then
		ok "complete -p $b: registered"
	else
		not_ok "complete -p $b: not registered"
	fi
done

comp mailsync-show --js
offers_only "mailsync-show --js<TAB>" --json
comp mailsync-show --color ''
offers_only "mailsync-show --color <TAB>" auto always never
comp mailsync-show --color = al
offers_only "mailsync-show --color=al<TAB>" always
comp mailsync-show --source ''
offers_only "mailsync-show --source <TAB>" crm gmail outlook imap
comp mailsync-show -S ''
offers_only "mailsync-show -S <TAB>" crm gmail outlook imap
comp mailsync-show --source g
offers_only "mailsync-show --source g<TAB>" gmail
comp mailsync-show --
offers "mailsync-show --<TAB>" --json --tsv --html --color --limit \
    --since --source --view --accounts --db --help --version --verbose \
    --quiet
comp mailsync-show -
offers "mailsync-show -<TAB>: short options" -n -d -h -V -v -q
comp mailsync-show --limit ''
offers_only "mailsync-show --limit <TAB>: nothing"
comp mailsync-show ''
offers_only "mailsync-show <TAB> (CLIENT): no file names"

comp mailsync-clients ''
offers_only "mailsync-clients <TAB>" import list remove
comp mailsync-clients re
offers_only "mailsync-clients re<TAB>" remove
comp mailsync-clients -q --db "$T/x.db" ''
offers_only "mailsync-clients -q --db FILE <TAB>" import list remove
comp mailsync-clients import --
offers "mailsync-clients import --<TAB>" --csv --replace --db --quiet
comp mailsync-clients list --
offers "mailsync-clients list --<TAB>" --json
comp mailsync-clients --
offers "mailsync-clients --<TAB>: common options" --db --help --version \
    --verbose --quiet
if grep -qxF -- --csv "$T/comp"; then
	not_ok "mailsync-clients --<TAB> offers --csv before import"
else
	ok "mailsync-clients --<TAB> keeps --csv for import"
fi
comp mailsync-clients remove ''
offers_only "mailsync-clients remove <TAB> (ID): no file names"

comp mailsync-match --
offers "mailsync-match --<TAB>" --rematch --db --quiet --verbose
comp mailsync-match --re
offers_only "mailsync-match --re<TAB>" --rematch

mkdir -p "$T/files"
: >"$T/files/renewal.eml"
: >"$T/files/clients.jsonl"
: >"$T/files/biz.db"
: >"$T/files/secret.txt"
comp mailsync-record "$T/files/ren"
offers_only "mailsync-record FILE<TAB>" "$T/files/renewal.eml"
comp mailsync-clients import --csv "$T/files/cl"
offers_only "mailsync-clients import FILE<TAB>" "$T/files/clients.jsonl"
comp mailsync-show --db "$T/files/b"
offers_only "mailsync-show --db FILE<TAB>" "$T/files/biz.db"
comp mailsync-match -d "$T/files/b"
offers_only "mailsync-match -d FILE<TAB>" "$T/files/biz.db"
comp mailsync-show --db = "$T/files/b"
offers_only "mailsync-show --db=FILE<TAB>" "$T/files/biz.db"

comp mailsync-connect --provider ''
offers_only "mailsync-connect --provider <TAB>" gmail outlook imap
comp mailsync-connect -p ''
offers_only "mailsync-connect -p <TAB>" gmail outlook imap
comp mailsync-connect -p o
offers_only "mailsync-connect -p o<TAB>" outlook
comp mailsync-connect --provider = g
offers_only "mailsync-connect --provider=g<TAB>" gmail
comp mailsync-connect -p gmail --port 8765 --
offers "mailsync-connect -p gmail --port N --<TAB>" --provider --client-id \
    --client-secret-file --client-secret-stdin --tenant --setup --member \
    --login-hint --no-browser --paste --device-code --port --timeout --db \
    --help --version --verbose --quiet
comp mailsync-connect -
offers "mailsync-connect -<TAB>: short options" -p -m -d -h -V -v -q
comp mailsync-connect --client-secret-file "$T/files/sec"
offers_only "mailsync-connect --client-secret-file FILE<TAB>" \
    "$T/files/secret.txt"
comp mailsync-connect --db "$T/files/b"
offers_only "mailsync-connect --db FILE<TAB>" "$T/files/biz.db"
comp mailsync-connect --member ''
offers_only "mailsync-connect --member <TAB>: nothing"
comp mailsync-connect --timeout ''
offers_only "mailsync-connect --timeout <TAB>: nothing"
comp mailsync-disconnect --provider ''
offers_only "mailsync-disconnect --provider <TAB>" gmail outlook imap
comp mailsync-disconnect --
offers "mailsync-disconnect --<TAB>" --provider --db --help --version \
    --verbose --quiet
comp mailsync-disconnect -p gmail ''
offers_only "mailsync-disconnect -p gmail <TAB> (ADDRESS): no file names"
comp mailsync-disconnect --p
offers_only "mailsync-disconnect --p<TAB>" --provider --purge
comp mailsync-disconnect --purge --
offers "mailsync-disconnect --purge --<TAB>" --yes

config_commands=(list get set unset block unblock blocklist alias unalias
    aliases)
comp mailsync-config ''
offers_only "mailsync-config <TAB>" "${config_commands[@]}"
comp mailsync-config -q -p gmail ''
offers_only "mailsync-config -q -p gmail <TAB>" "${config_commands[@]}"
comp mailsync-config --provider ''
offers_only "mailsync-config --provider <TAB>" gmail outlook imap
comp mailsync-config --
offers "mailsync-config --<TAB>" --json --provider --db --help --version \
    --verbose --quiet
comp mailsync-config aliases --
offers "mailsync-config aliases --<TAB>" --json
comp mailsync-config unalias --
offers "mailsync-config unalias --<TAB>" --provider
comp mailsync-config get ex
offers_only "mailsync-config get ex<TAB>" exclude.bulk exclude.internal
comp mailsync-config set exclude.bulk ''
offers_only "mailsync-config set exclude.bulk <TAB>" on off
comp mailsync-config set -- match.gmail_dots o
offers_only "mailsync-config set -- match.gmail_dots o<TAB>" on off
comp mailsync-config set health.stale_minutes ''
offers_only "mailsync-config set health.stale_minutes <TAB>: nothing"
comp mailsync-config get exclude.bulk ''
offers_only "mailsync-config get KEY <TAB>: nothing"
comp mailsync-config block ''
offers_only "mailsync-config block <TAB> (ADDRESS): no file names"
if [ ${#config_keys[@]} -gt 0 ]; then
	for sub in get set unset; do
		comp mailsync-config $sub ''
		offers_only "mailsync-config $sub <TAB>: the keys of list" \
		    "${config_keys[@]}"
	done
	bash_value() { comp mailsync-config set "$1" ''; }
	values_of_keys "" bash_value
else
	for sub in get set unset; do
		skip "mailsync-config $sub <TAB>: mailsync-config not built"
	done
	skip "mailsync-config set KEY <TAB>: mailsync-config not built"
fi
check "no errors from the completion function" test ! -s "$T/comp.err"

# --- candidates from the database ---------------------------------------

# The tools answer, never the sqlite3 CLI (not always installed): a
# sqlite3 first on PATH that fails and says it was called.
mkdir -p "$T/shim"
printf '#!/bin/sh\necho called >>"%s/sqlite3.called"\nexit 1\n' "$T" >"$T/shim/sqlite3"
chmod +x "$T/shim/sqlite3"
saved_path=$PATH
PATH="$T/shim:$PATH"
db="$T/comp.db"
mailsync-clients -q --db "$db" import "$MS_SRC/share/sample/clients.jsonl"
emu_start
export MAILSYNC_DB="$db"
setup_apps
connect_mailboxes gmail:alice outlook:carol
unset MAILSYNC_DB
comp mailsync-show --db "$db" c-1
offers_only "mailsync-show CLIENT<TAB>: the ids" c-17 c-18 c-19
comp mailsync-show --db "$db" ''
offers "mailsync-show <TAB>: ids and addresses" c-17 c-20 ops@acme.example \
    jane@acme.example portal@acme.example
comp mailsync-show --db "$db" JA
offers_only "mailsync-show JA<TAB>: addresses in any case" jane@acme.example
comp mailsync-show -d "$db" --tsv -n 5 ops
offers_only "mailsync-show -d DB --tsv -n 5 ops<TAB>" ops@acme.example
comp mailsync-show --db "$db" c-17 ''
offers_only "mailsync-show CLIENT <TAB>: one CLIENT only"
comp mailsync-show --db "$db" --accounts ''
offers_only "mailsync-show --accounts <TAB>: no client"
comp mailsync-clients --db "$db" remove c-2
offers_only "mailsync-clients remove c-2<TAB>: ids" c-20
comp mailsync-clients --db "$db" remove ''
offers_only "mailsync-clients remove <TAB>: ids only" c-17 c-18 c-19 c-20
comp mailsync-disconnect --db "$db" ''
offers_only "mailsync-disconnect <TAB>: the accounts" alice@firm.example \
    carol@firm.example
comp mailsync-disconnect --db "$db" -p outlook ''
offers_only "mailsync-disconnect -p outlook <TAB>: its accounts" \
    carol@firm.example
comp mailsync-pull --db "$db" -a a
offers_only "mailsync-pull -a a<TAB>" alice@firm.example
comp mailsync-pull --db "$db" --account ''
offers_only "mailsync-pull --account <TAB>" alice@firm.example \
    carol@firm.example
comp mailsync-config --db "$db" alias c
offers_only "mailsync-config alias ACCOUNT<TAB>" carol@firm.example
comp mailsync-config --db "$db" alias carol@firm.example ''
offers_only "mailsync-config alias ACCOUNT <TAB> (ADDRESS): nothing"
mailsync-clients -q --db "$db" remove c-17
comp mailsync-show --db "$db" ja
offers_only "a removed client's addresses are no longer offered"
MAILSYNC_DB="$db" comp mailsync-show c-1
offers_only "MAILSYNC_DB names the database too" c-18 c-19
comp mailsync-show --db "$T/none/x.db" c
offers_only "a missing database offers nothing"
check "and is not created" test ! -e "$T/none"
check "no errors from the completion function on the database's candidates" \
    test ! -s "$T/comp.err"
check "the sqlite3 CLI was never called" test ! -e "$T/sqlite3.called"

# The listing mode itself, as scripts may use it.
run mailsync-clients --db "$db" list --ids c-2
expect_out "list --ids PREFIX: value, kind, what it names" <<<"c-20	id	Initech"
run mailsync-clients --db "$db" list --ids --limit 2
check "--limit bounds the lines" test "$(wc -l <"$T/out")" -eq 2
run mailsync-clients --db "$db" list --ids -n 0 ''
check "-n 0: every id and client address (3 and 5)" test "$(wc -l <"$T/out")" -eq 8
run mailsync-clients --db "$db" list --ids --json
expect_rc "--ids with --json" 64
run mailsync-clients --db "$db" import --ids /dev/null
expect_rc "--ids with import" 64
PATH=$saved_path

# --- zsh and fish -------------------------------------------------------

if command -v zsh >/dev/null 2>&1; then
	check "zsh -n parses _mailsync" zsh -n "$zsh_comp"
	check "_mailsync is bound to the eight commands" \
	    grep -qx "#compdef $bins" "$zsh_comp"
	# zsh_helper OPT_ARGS PREFIX CALL: run a database helper of
	# _mailsync as its _arguments action would, with opt_args and
	# PREFIX set and _describe replaced by a printer of its list.
	zsh_helper() {
		PATH="$T/shim:$PATH" zsh -f -c '
		    service=none
		    typeset -A opt_args
		    source "$1"
		    _describe() { print -rl -- "${(@P)4}" }
		    opt_args=(${=2})
		    PREFIX=$3
		    eval "$4"' zsh "$zsh_comp" "$1" "$2" "$3" \
		    2>"$T/comp.err" | sort >"$T/comp"
	}
	zsh_helper "--db $db" c-1 _mailsync_clients
	offers_only "zsh: CLIENT<TAB>: ids, with the client's name" \
	    "c-18:Globex Corporation" "c-19:Müller Bücher GmbH"
	zsh_helper "-d $db" f "_mailsync_clients address"
	offers_only "zsh: addresses, with their client" "finance@globex.example:c-18"
	zsh_helper "--db $db -p outlook" "" _mailsync_accounts
	offers_only "zsh: the accounts of -p outlook" "carol@firm.example:outlook"
	check "zsh: no errors" test ! -s "$T/comp.err"
	check "zsh: the sqlite3 CLI was never called" test ! -e "$T/sqlite3.called"
else
	skip_n 7 "zsh not installed"
fi
# zsh_list NAME: the words of the array NAME=( ... ) of _mailsync, the
# part before ":" of each, one a line, sorted.
zsh_list() {
	awk -v n="$1" '
	    $0 ~ "^[ \t]*" n "=\\(" { on = 1; sub(".*" n "=\\(", "") }
	    on { s = s " " $0 } on && /\)[ \t]*$/ { on = 0 }
	    END { print s }' "$zsh_comp" |
	    grep -oE "'[^']*'|[^[:space:]'()]+" | tr -d "'" | cut -d: -f1 |
	    sort
}
if [ ${#config_keys[@]} -gt 0 ]; then
	check "zsh: the settings of mailsync-config are those of list" \
	    test "$(zsh_list keys)" = \
	    "$(printf '%s\n' "${config_keys[@]}" | sort)"
	check "zsh: its booleans are those of list" \
	    test "$(zsh_list bools)" = \
	    "$(printf '%s\n' "${config_bools[@]}" | sort)"
else
	skip "zsh: the settings of mailsync-config: mailsync-config not built"
	skip "zsh: its booleans: mailsync-config not built"
fi

if command -v fish >/dev/null 2>&1; then
	check "fish -n parses mailsync.fish" fish -n "$fish_comp"
	# fish_comp LINE: fish's candidates for LINE, one a line, sorted.
	fish_comp() {
		fish --no-config -c "source '$fish_comp'; complete -C'$1'" \
		    2>"$T/comp.err" | cut -f1 | sort >"$T/comp"
	}
	fish_comp "mailsync-show --color "
	offers_only "fish: mailsync-show --color <TAB>" always auto never
	fish_comp "mailsync-clients "
	offers_only "fish: mailsync-clients <TAB>" import list remove
	fish_comp "mailsync-clients import --"
	offers "fish: mailsync-clients import --<TAB>" --csv --replace
	fish_comp "mailsync-match --"
	offers "fish: mailsync-match --<TAB>" --rematch
	fish_comp "mailsync-connect --provider "
	offers_only "fish: mailsync-connect --provider <TAB>" gmail imap outlook
	fish_comp "mailsync-disconnect -p "
	offers_only "fish: mailsync-disconnect -p <TAB>" gmail imap outlook
	fish_comp "mailsync-disconnect --"
	offers "fish: mailsync-disconnect --<TAB>" --purge --yes
	fish_comp "mailsync-config -p gmail "
	offers_only "fish: mailsync-config -p gmail <TAB>" \
	    "${config_commands[@]}"
	fish_comp "mailsync-config list --"
	offers "fish: mailsync-config list --<TAB>" --json
	fish_comp "mailsync-show --db $db c-1"
	offers_only "fish: mailsync-show CLIENT<TAB>: the ids" c-18 c-19
	fish_comp "mailsync-disconnect --db $db -p gmail "
	offers_only "fish: mailsync-disconnect -p gmail <TAB>: its accounts" \
	    alice@firm.example
	fish_comp "mailsync-clients --db $db remove "
	offers_only "fish: mailsync-clients remove <TAB>: ids" c-18 c-19 c-20
	fish_comp "mailsync-config set exclude.internal "
	offers_only "fish: mailsync-config set exclude.internal <TAB>" on off
	if [ ${#config_keys[@]} -gt 0 ]; then
		fish_comp "mailsync-config get "
		offers_only "fish: mailsync-config get <TAB>: the keys of list" \
		    "${config_keys[@]}"
		fish_value() { fish_comp "mailsync-config set $1 "; }
		values_of_keys "fish: " fish_value
	else
		skip "fish: mailsync-config get <TAB>: mailsync-config not built"
		skip "fish: mailsync-config set KEY <TAB>: mailsync-config not built"
	fi
else
	skip_n 16 "fish not installed"
fi

# --- every long option of --help is known -------------------------------

# known_bash BIN: the long options bash offers for BIN, in any context.
known_bash() {
	local sub
	case $1 in
	mailsync-clients)
		for sub in '' import list remove; do
			# shellcheck disable=SC2086
			comp "$1" $sub --
			cat "$T/comp"
		done
		;;
	*)
		comp "$1" --
		cat "$T/comp"
		;;
	esac
}

# known_fish BIN: the same for fish.
known_fish() {
	local sub
	for sub in '' import list remove; do
		[ "$1" = mailsync-clients ] || [ -z "$sub" ] || continue
		fish --no-config -c "source '$fish_comp'; complete -C'$1 $sub --'" \
		    2>/dev/null | cut -f1
	done
}

# known_zsh BIN: the long options named in the common list and in BIN's
# branch of the case in _mailsync.
known_zsh() {
	awk -v b="$1" '
	    /^common=\(/ { c = 1 } c { print } c && /^\)/ { c = 0 }
	    $0 ~ "^" b "\\)" { s = 1; next }
	    s && (/^mailsync-[a-z]+\)/ || /^esac/) { s = 0 }
	    s { print }' "$zsh_comp" | grep -oE -- '--[a-z][a-z0-9-]*'
}

for b in $bins; do
	if [ ! -x "$MS_BUILD/cmd/$b" ]; then
		skip "$b not built: its options not checked"
		continue
	fi
	if ! "$MS_BUILD/cmd/$b" --help >"$T/help" 2>&1; then
		not_ok "$b --help fails"
		continue
	fi
	opts=$(grep -oE -- '--[a-z][a-z0-9-]*' "$T/help" | sort -u)
	if [ -z "$opts" ]; then
		not_ok "$b --help lists no long option"
		continue
	fi
	for shell in bash zsh fish; do
		if [ $shell != bash ] && ! command -v $shell >/dev/null 2>&1
		then
			skip "$shell not installed: $b's options not checked"
			continue
		fi
		known_$shell "$b" | sort -u >"$T/known"
		missing=
		for o in $opts; do
			grep -qxF -- "$o" "$T/known" || missing="$missing $o"
		done
		if [ -z "$missing" ]; then
			ok "$shell completion offers every long option of $b"
		else
			not_ok "$shell completion lacks options of $b:$missing"
		fi
	done
done

done_testing

# lib-emu.sh: start the provider emulator for a test and point every
# mailsync binary at it. Source after lib.sh.

EMU_DATA=${EMU_DATA:-$MS_SRC/tests/emulator/sample.json}
GMAIL_ID=1023847561234-emusync.apps.googleusercontent.com
GMAIL_SECRET=GOCSPX-emulated-desktop-secret
MS_PUBLIC_ID=4f6c3c1e-0b5e-4d59-9a43-6c1f3e2a7b10
MS_CONF_ID=8a2d9e44-7c1b-4f0e-b6d3-2e5f9a1c0d77
MS_CONF_SECRET='emu~confidential~secret.8Q'
# The sample's mailboxes (sample.json, rules.json): alice and bob on
# Gmail, carol on Outlook.
A=alice@firm.example B=bob@firm.example C=carol@firm.example

emu_start() {
	python3 "$MS_SRC/tests/emulator/msemu.py" --data "$EMU_DATA" \
		--port 0 --port-file "$T/emu.port" --idle-timeout 300 \
		--log "$T/emu.log" "$@" >"$T/emu.out" 2>&1 &
	emu_pid=$!
	trap 'kill $emu_pid 2>/dev/null; rm -rf "$T"' EXIT
	for _ in $(seq 100); do
		[ -s "$T/emu.port" ] && break
		sleep 0.1
	done
	if [ ! -s "$T/emu.port" ]; then
		echo "Bail out! the emulator did not start"
		cat "$T/emu.out"
		exit 1
	fi
	EMU="http://127.0.0.1:$(cat "$T/emu.port")"
	export MAILSYNC_GOOGLE_AUTH_URL="$EMU/o/oauth2/v2/auth"
	export MAILSYNC_GOOGLE_TOKEN_URL="$EMU/token"
	export MAILSYNC_GOOGLE_REVOKE_URL="$EMU/revoke"
	export MAILSYNC_GMAIL_API_URL="$EMU"
	export MAILSYNC_MS_AUTHORITY_URL="$EMU"
	export MAILSYNC_GRAPH_API_URL="$EMU"
	# For the checkers (tests/data/pull-check.py) that read its data.
	export EMU EMU_DATA T MS_SRC
}

# emu POST|GET|DELETE PATH [JSON]: a control request; the reply on stdout.
emu() {
	curl -sf -X "$1" -H 'Content-Type: application/json' \
		${3:+--data "$3"} "$EMU$2"
}

# Emulator controls; a refused one bails out (a fixture step).
clearlog() { emu DELETE /_emu/log >/dev/null; }	# forget the log
fault() { emu POST /_emu/faults "$1" >/dev/null || { echo "Bail out! fault $1"; exit 1; }; }
nofaults() { emu DELETE /_emu/faults >/dev/null; }
econf() { emu POST /_emu/config "$1" >/dev/null || { echo "Bail out! config $1"; exit 1; }; }

# Checks over the emulator's own data and log (tests/data/pull-check.py;
# $ACCTS names the accounts it covers).
pc() { python3 "$MS_SRC/tests/data/pull-check.py" "$@"; }
# add ADDRESS SPEC-JSON: a new message in a mailbox; its provider id on stdout.
add() {
	pc add "$1" "$2" || { echo "Bail out! the emulator refused a message for $1"; exit 1; }
}
js() { check "$1" pc json "$T/out" "$2"; }	# over the last run's --json lines
lg() { check "$1" pc log mem "$2"; }		# over the emulator's log since clearlog
# has / hasnt MESSAGE-ID: the database holds that email once / not at all.
has() { test "$(q "SELECT count(*) FROM emails WHERE message_id = '$1'")" = 1; }
hasnt() { test "$(q "SELECT count(*) FROM emails WHERE message_id = '$1'")" = 0; }

# setup_apps: store the emulator's Gmail app and public Outlook app.
setup_apps() {
	printf '%s\n' "$GMAIL_SECRET" >"$T/gsecret"
	mailsync-connect -q -p gmail --setup --client-id "$GMAIL_ID" \
		--client-secret-file "$T/gsecret"
	mailsync-connect -q -p outlook --setup --client-id "$MS_PUBLIC_ID"
	# Pacing at Google's 6,000 units a minute would only slow the suite
	# (1,200 messages a minute): the emulator's quotas are off unless a
	# test turns them on, and t-providers sets its own figures.
	mailsync-config -q set quota.gmail_units_per_minute 1000000
}

# browse [SED]: play the browser for a mailsync-connect whose stderr goes
# to $T/connect.err: follow the authorization URL to the redirect (edited
# by the sed expression SED when given) and load it.
browse() {
	for _ in $(seq 100); do
		grep -q '^http' "$T/connect.err" 2>/dev/null && break
		sleep 0.1
	done
	url=$(grep -m1 '^http' "$T/connect.err")
	redirect=$(curl -s -o /dev/null -w '%{redirect_url}' "$url")
	[ -n "${1:-}" ] && redirect=$(printf '%s' "$redirect" | sed "$1")
	curl -s -o "$T/browser.html" "$redirect"
}

# connect_browser ARGS...: mailsync-connect with the loopback flow, the
# browser played by curl; stdout in $T/out, stderr in $T/err, $rc.
connect_browser() {
	rc=0
	# Empty it first: the child opens it only once it runs, and browse
	# must not read the URL of an earlier connect.
	: >"$T/connect.err"
	mailsync-connect "$@" >"$T/out" 2>"$T/connect.err" &
	cpid=$!
	browse "${BROWSE_SED:-}"
	wait $cpid || rc=$?
	cp "$T/connect.err" "$T/err"
}

# connect_mailbox PROVIDER ADDRESS MEMBER: connect it through the
# loopback flow (connect_browser), or bail out: a fixture step.
connect_mailbox() {
	connect_browser -p "$1" --login-hint "$2" --member "$3" --timeout 30
	if [ "$rc" -ne 0 ]; then
		echo "Bail out! connecting $2 failed"
		cat "$T/err"
		exit 1
	fi
}

# connect_mailboxes PROVIDER:NAME...: connect NAME@firm.example as member
# NAME of each PROVIDER (connect_mailbox), e.g. gmail:alice outlook:carol.
connect_mailboxes() {
	for _pm in "$@"; do
		connect_mailbox "${_pm%%:*}" "${_pm#*:}@firm.example" "${_pm#*:}"
	done
}

# setup_sample PROVIDER:NAME...: a business as the sample has it: its
# CRM's clients (share/sample/clients.jsonl), the apps, those mailboxes.
setup_sample() {
	mailsync-clients -q import "$MS_SRC/share/sample/clients.jsonl"
	setup_apps
	connect_mailboxes "$@"
}

# cron_command JOB DIR: the command of a cron.d job line, with DIR for
# /var/lib/mailsync.
cron_command() {
	sed -E 's/^([^ ]+ ){6}//' <<<"$1" | sed "s|/var/lib/mailsync|$2|g"
}

# as_cron COMMAND: run it as cron does: sh -c, a bare environment (the
# database and the emulator's URLs only), no tty; its output in
# $T/tick.out. $TICK_PATH, when set, goes first on PATH.
as_cron() {
	env -i HOME="$HOME" SHELL=/bin/sh PATH="${TICK_PATH:+$TICK_PATH:}$MS_BUILD/cmd:/usr/bin:/bin" \
		MAILSYNC_DB="$MAILSYNC_DB" \
		MAILSYNC_GOOGLE_AUTH_URL="$MAILSYNC_GOOGLE_AUTH_URL" \
		MAILSYNC_GOOGLE_TOKEN_URL="$MAILSYNC_GOOGLE_TOKEN_URL" \
		MAILSYNC_GOOGLE_REVOKE_URL="$MAILSYNC_GOOGLE_REVOKE_URL" \
		MAILSYNC_GMAIL_API_URL="$MAILSYNC_GMAIL_API_URL" \
		MAILSYNC_MS_AUTHORITY_URL="$MAILSYNC_MS_AUTHORITY_URL" \
		MAILSYNC_GRAPH_API_URL="$MAILSYNC_GRAPH_API_URL" \
		sh -c "$1" </dev/null >"$T/tick.out" 2>&1
}

# setup_generated: the apps and the generated mailboxes $G (Gmail, member
# g) and $O (Outlook, member o), one Gmail request at a time, so that the
# emulator's latency sets a full sync's pace.
setup_generated() {
	setup_apps
	connect_mailbox gmail "$G" g
	connect_mailbox outlook "$O" o
	mailsync-config -q set quota.gmail_concurrency 1
}

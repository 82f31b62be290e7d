#!/bin/sh
# demo.sh BINDIR: the main job on the sample data, in a throw-away
# database: import clients, record the CRM's emails, connect a Gmail and
# an Outlook mailbox on the bundled provider emulator through the real
# OAuth flow, pull, match, show.
set -eu

bin=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/mailsync-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT
export MAILSYNC_DB="$work/mailsync.db"
PATH="$bin:$PATH"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*" >&2; "$@"; }

step mailsync-clients import "$here/clients.jsonl"
step mailsync-clients list
for m in "$here"/crm/*.eml; do
	step mailsync-record "$m"
done
step mailsync-match
step mailsync-show --color always c-17
step mailsync-show --json --limit 1 jane@acme.example
step mailsync-show --tsv c-18
step mailsync-show --view 2

# Mailboxes: the bundled provider emulator plays Google and Microsoft on
# 127.0.0.1; curl plays the browser of the OAuth consent.
top=$(cd "$here/../.." && pwd)
python3 "$top/tests/emulator/msemu.py" --data "$top/tests/emulator/sample.json" \
	--port 0 --port-file "$work/emu.port" --idle-timeout 120 \
	>"$work/emu.log" 2>&1 &
emu=$!
trap 'kill $emu 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do [ -s "$work/emu.port" ] && break; sleep 0.1; done
e="http://127.0.0.1:$(cat "$work/emu.port")"
export MAILSYNC_GOOGLE_AUTH_URL="$e/o/oauth2/v2/auth" \
	MAILSYNC_GOOGLE_TOKEN_URL="$e/token" \
	MAILSYNC_GOOGLE_REVOKE_URL="$e/revoke" MAILSYNC_GMAIL_API_URL="$e" \
	MAILSYNC_MS_AUTHORITY_URL="$e" MAILSYNC_GRAPH_API_URL="$e"

printf 'GOCSPX-emulated-desktop-secret\n' >"$work/google-secret"
step mailsync-connect --provider gmail --setup \
	--client-id 1023847561234-emusync.apps.googleusercontent.com \
	--client-secret-file "$work/google-secret"
step mailsync-connect --provider outlook --setup \
	--client-id 4f6c3c1e-0b5e-4d59-9a43-6c1f3e2a7b10

# connect_as PROVIDER ADDRESS MEMBER: the loopback flow, curl as browser.
connect_as() {
	printf '\n\033[1m$ mailsync-connect --provider %s --login-hint %s --member %s\033[0m\n' \
		"$1" "$2" "$3" >&2
	: >"$work/connect.err"
	mailsync-connect --provider "$1" --login-hint "$2" --member "$3" \
		--no-browser --timeout 30 2>"$work/connect.err" &
	pid=$!
	for _ in $(seq 100); do
		grep -q '^http' "$work/connect.err" && break
		sleep 0.1
	done
	url=$(grep -m1 '^http' "$work/connect.err")
	printf '(browser) %.100s...\n' "$url" >&2
	curl -s -o /dev/null "$(curl -s -o /dev/null -w '%{redirect_url}' "$url")"
	wait $pid
}
connect_as gmail alice@firm.example alice
connect_as gmail bob@firm.example bob
connect_as outlook carol@firm.example carol

# The main job, as cron runs it every 15 minutes.
step mailsync-pull
step mailsync-match
step mailsync-show --color always c-17
step mailsync-show --json --limit 2 jane@acme.example
step mailsync-show --tsv c-18
step mailsync-show --view 2
step mailsync-show --accounts
# The business rules: alice's send-as alias was read at connect; keep
# newsletters off the profiles.
step mailsync-config aliases
step mailsync-config set exclude.bulk on
step mailsync-match
step mailsync-config list
step mailsync-disconnect carol@firm.example
step mailsync-show --accounts

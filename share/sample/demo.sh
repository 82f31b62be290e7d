#!/bin/sh
# demo.sh BINDIR: the main job on the sample data, in a throw-away
# database: import clients, record the CRM's emails, match, show.
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
step mailsync-show --accounts

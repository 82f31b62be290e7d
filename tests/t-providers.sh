#!/bin/bash
# mailsync-pull against the providers as they really behave (the
# emulator's strict defaults): a Gmail quota lower than the configured one
# is learned and kept; a token expiring inside a batch is refreshed and
# its parts asked again; a 403 part that is not a rate limit ends the
# account with Google's reason; mail moved out of Spam or Trash is
# synced; Graph's partial delta items never blank or create a row.
. "$MS_SRC/tests/lib.sh"
. "$MS_SRC/tests/lib-emu.sh"
export MAILSYNC_DB="$T/data/mailsync.db"
emu_start --generate gmail:1,messages:2000
G=gmail1@firm.example
export ACCTS="$A $B $C $G"
# refusals: rate-limited answers in the emulator's log (parts included).
refusals() { curl -s "$EMU/_emu/log" | python3 -c 'import json,sys; print(len([e for e in json.load(sys.stdin)["entries"] if e.get("quota") == "exceeded" or e.get("status") == 429]))'; }
count_log() { curl -s "$EMU/_emu/log" | python3 -c 'import json,sys; print(len([e for e in json.load(sys.stdin)["entries"] if '"$1"']))'; }

setup_apps
connect_mailboxes gmail:alice gmail:bob outlook:carol
run mailsync-pull -q
expect_rc "a first pull of the sample mailboxes" 0

# 1. A Gmail project whose real quota (3,000 units a minute, a fifth of
# the configured 15,000, so that even a loaded machine reaches it) is
# below the setting: the first sync learns it from the first refusals and
# finishes with few of them; the learned rate is kept, and the next run
# starts from it.
connect_browser -p gmail --login-hint $G --member g --timeout 30
[ "$rc" -eq 0 ] || { echo "Bail out! connecting $G failed"; cat "$T/err"; exit 1; }
gid=$(q "SELECT id FROM accounts WHERE address = '$G'")
emu POST /_emu/quotas '{"enabled": true, "gmail_units_per_minute": 3000, "time_scale": 30}' >/dev/null
mailsync-config -q set quota.time_scale 30
mailsync-config -q set quota.gmail_units_per_minute 15000
clearlog
run mailsync-pull --json -a $G
expect_rc "a first sync under a quota lower than configured" 0
js "it completes" 'J["gmail1@firm.example"]["status"] == "ok" and J["gmail1@firm.example"]["new"] >= 1900'
batches=$(count_log 'e["path"] == "/batch/gmail/v1"')
r1=$(refusals)
check "few refusals for rate: $r1 of $batches batches' parts and requests (at most 2 batches' worth)" \
	test "$r1" -le 100
learned=$(q "SELECT value FROM settings WHERE key = 'state.quota.$gid'")
check "the quota learned is about the real one: $learned units a minute" \
	test -n "$learned" -a "${learned:-0}" -ge 2000 -a "${learned:-0}" -le 3500
emu POST "/_emu/mailboxes/$G/messages" '{"generate": 600, "seed": 5}' >/dev/null
emu POST /_emu/quotas '{"enabled": true, "gmail_units_per_minute": 3000, "time_scale": 30}' >/dev/null
clearlog
run mailsync-pull --json -a $G
expect_rc "the next run starts from the learned quota" 0
r2=$(refusals)
check "and meets (almost) no refusal: $r2" test "$r2" -le 10
js "it stores the new mail" 'J["gmail1@firm.example"]["new"] >= 590'
mailsync-config -q set quota.time_scale 1
mailsync-config -q set quota.gmail_units_per_minute 15000
emu POST /_emu/quotas '{"enabled": false, "time_scale": 1}' >/dev/null
mailsync-config -q unset quota.time_scale

# 2. The token expires in the middle of a run: Gmail answers the batch
# with 401s in its parts. The token is refreshed and the parts asked
# again; nothing fails, nothing is asked for ever.
for k in $(seq 1 120); do
	printf '{"message_id": "<tok.%d@acme.example>", "date": "2026-11-20T08:%02d:%02dZ", "from": "ops@acme.example", "to": "alice@firm.example", "subject": "Token %d", "body": "x"}\n' $k $((k / 60)) $((k % 60)) $k
done | python3 -c '
import json, sys, urllib.request, os
ms = [json.loads(l) for l in sys.stdin]
req = urllib.request.Request(os.environ["EMU"] + "/_emu/mailboxes/alice@firm.example/messages", data=json.dumps({"messages": ms}).encode(), headers={"Content-Type": "application/json"}, method="POST")
urllib.request.urlopen(req).read()'
mailsync-config -q set quota.gmail_concurrency 1
econf '{"latency_ms": 400}'
# 20 parts refused: all inside the first batch (of 25), as with a token
# that expires between two batches (the emulator's fault counts parts,
# whichever token they carry).
fault '{"kind": "status", "status": 401, "prefix": "/gmail/v1/users/me/messages/", "mailbox": "alice@firm.example", "count": 20}'
clearlog
run mailsync-pull --json -a $A
econf '{"latency_ms": 0}'
nofaults
mailsync-config -q unset quota.gmail_concurrency
expect_rc "401s inside a batch" 0
js "alice is ok" 'J["alice@firm.example"]["status"] == "ok"'
check "every message is stored" test "$(q "SELECT count(*) FROM emails WHERE message_id LIKE '<tok.%'")" = 120
lg "the token was refreshed, not once per refused part" \
	'1 <= len([e for e in G if e.get("grant_type") == "refresh_token"]) <= 3'

# 3. A 403 that is not a rate limit (insufficient permissions) ends that
# account with Google's reason, exit 69; the others go on.
add $B '{"message_id": "<perm.b@acme.example>", "date": "2026-11-20T09:00:00Z", "from": "ops@acme.example", "to": "bob@firm.example", "subject": "Forbidden", "body": "x"}' >/dev/null
add $C '{"message_id": "<perm.c@acme.example>", "date": "2026-11-20T09:00:00Z", "from": "ops@acme.example", "to": "carol@firm.example", "subject": "Carol is fine", "body": "x"}' >/dev/null
fault '{"kind": "status", "status": 403, "reason": "insufficientPermissions", "message": "Insufficient Permission", "prefix": "/gmail/v1/users/me/messages/", "mailbox": "bob@firm.example", "count": 5}'
clearlog
run mailsync-pull --json
nofaults
expect_rc "a 403 part that is no rate limit" 69
check "bob errors with Google's reason, the others are ok" \
	pc json-says "$T/out" $B=error:insufficientPermissions $C=ok
lg "the forbidden part was not asked again" \
	'len([e for e in G if e.get("batch") and e.get("mailbox") == "bob@firm.example" and e.get("status") == 403]) == 1'
check "carol's mail is stored" has '<perm.c@acme.example>'
check "bob's last error says why" \
	test -n "$(q "SELECT 1 FROM accounts WHERE address = '$B' AND last_error LIKE '%insufficientPermissions%'")"
run mailsync-pull --json -a $B
expect_rc "bob's next run" 0

# 4. Mail moved out of Spam or Trash is a labelAdded record: it is synced,
# and an idle run still costs one request.
spam=$(add $B '{"message_id": "<spam.move@acme.example>", "date": "2026-11-20T10:00:00Z", "from": "ops@acme.example", "to": "bob@firm.example", "subject": "Not spam after all", "body": "x", "labels": ["SPAM"]}')
trash=$(add $B '{"message_id": "<trash.move@acme.example>", "date": "2026-11-20T10:05:00Z", "from": "ops@acme.example", "to": "bob@firm.example", "subject": "Out of the trash", "body": "x", "labels": ["TRASH"]}')
run mailsync-pull --json -a $B
check "mail in Spam and Trash is not synced" sh -c "$(declare -f q hasnt); hasnt '<spam.move@acme.example>' && hasnt '<trash.move@acme.example>'"
emu POST "/_emu/mailboxes/$B/move" "{\"id\": \"$spam\", \"add\": [\"INBOX\"], \"remove\": [\"SPAM\"]}" >/dev/null
emu POST "/_emu/mailboxes/$B/move" "{\"id\": \"$trash\", \"add\": [\"INBOX\"], \"remove\": [\"TRASH\"]}" >/dev/null
clearlog
run mailsync-pull --json -a $B
expect_rc "after moving them to the inbox" 0
check "the message moved out of Spam is synced" has '<spam.move@acme.example>'
check "the message moved out of Trash is synced" has '<trash.move@acme.example>'
check "history was asked for added messages and added labels" pc log-history-types mem
emu POST "/_emu/mailboxes/$B/update" "{\"id\": \"$spam\", \"add\": [\"STARRED\"]}" >/dev/null
clearlog
run mailsync-pull --json -a $B
expect_rc "a label added to a stored message" 0
check "costs the one history request" pc log-idle-costs-one-request mem $B
check "and stores nothing twice" test "$(q "SELECT count(*) FROM emails WHERE message_id = '<spam.move@acme.example>'")" = 1

# 5. Graph's later rounds send only the changed properties of a message:
# a known one keeps its row; an unknown one is read in full.
mid=$(add $C '{"message_id": "<partial.c@acme.example>", "date": "2026-11-20T11:00:00Z", "from": "\"Jane Doe\" <jane@acme.example>", "to": "carol@firm.example", "subject": "Partial later", "body": "Preview text", "attachments": true}')
run mailsync-pull -q -a $C
row() { q "SELECT subject || '|' || snippet || '|' || has_attachments || '|' || date FROM emails WHERE message_id = '$1'"; }
before=$(row '<partial.c@acme.example>')
blanks() { q "SELECT count(*) FROM emails WHERE source = 'outlook' AND subject = '' AND snippet = ''"; }
blank_before=$(blanks)
check "the message is stored in full" test -n "$before" -a "${before%%|*}" = "Partial later"
emu POST "/_emu/mailboxes/$C/update" "{\"id\": \"$mid\", \"isRead\": true}" >/dev/null
clearlog
run mailsync-pull --json -a $C
expect_rc "a round with a partial item for a known message" 0
lg "Graph sent the round's change" 'any(e["path"].endswith("/messages/delta") for e in every("carol@firm.example"))'
check "its row keeps every field" test "$(row '<partial.c@acme.example>')" = "$before"
check "no blank row was made of the partial item" test "$(blanks)" = "$blank_before"
cid=$(q "SELECT id FROM accounts WHERE address = '$C'")
# An unknown message sent in part: carol's row of it is gone (as if
# never stored), then the message changes.
eid=$(q "SELECT email_id FROM email_accounts WHERE account_id = $cid AND provider_id = '$mid'")
q "PRAGMA foreign_keys = ON; DELETE FROM emails WHERE id = $eid"
emu POST "/_emu/mailboxes/$C/update" "{\"id\": \"$mid\", \"isRead\": false}" >/dev/null
clearlog
run mailsync-pull --json -a $C
expect_rc "a partial item for a message this account does not have" 0
lg "it was read in full by its id" \
	'any(e["path"] == "/v1.0/me/messages/'"$mid"'" for e in A)'
check "and stored in full again" test "$(row '<partial.c@acme.example>')" = "$before"
check "no blank row was made" test "$(blanks)" = "$blank_before"
check "the database is sound" test "$(q "PRAGMA integrity_check")" = ok

done_testing

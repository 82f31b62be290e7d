#!/bin/bash
# mailsync-pull against the provider emulator: full and incremental sync of
# Gmail and Outlook, one email per Message-ID across accounts, expired
# cursors, faults, CRM copies, no bodies, the lock and --max-time.
# Every expectation comes from the emulator's own data (tests/data/pull-check.py).
. "$MS_SRC/tests/lib.sh"
. "$MS_SRC/tests/lib-emu.sh"
export MAILSYNC_DB="$T/data/mailsync.db"
emu_start
export ACCTS="alice@firm.example bob@firm.example carol@firm.example"
# faulted FAULT NAME [ARGS...]: with FAULT set and the log cleared, a
# mailsync-pull ARGS... that copes with it (test NAME: exit 0).
faulted() {
	fault "$1"
	clearlog
	run mailsync-pull "${@:3}"
	expect_rc "$2" 0
}
# one_more NAME: the database holds one email more than $before.
one_more() { check "$1" test "$(q "SELECT count(*) FROM emails")" = $((before + 1)); }
consistent() {
	check "$1: each account is linked to exactly the emails its mailbox holds" pc links
	check "$1: each Message-ID stored once, nothing else" pc emails
}
idle() {
	clearlog
	run mailsync-pull -q
	expect_rc "$1: an idle run" 0
	check "$1: -q prints nothing" test ! -s "$T/out" -a ! -s "$T/err"
	check "$1: one history.list per Gmail account, one \$batch per Outlook account" \
		pc log-idle-costs-one-request mem
	lg "$1: inside it a delta per tracked folder, and the folder list's" \
		'len(parts("carol@firm.example")) == 4 and len({e["path"] for e in parts("carol@firm.example") if e["path"].endswith("/messages/delta")}) == 3 and len([e for e in parts("carol@firm.example") if e["path"] == "/v1.0/me/mailFolders/delta"]) == 1'
}

# Setup: the CRM's clients, the apps, three accounts.
setup_sample gmail:alice gmail:bob outlook:carol

run mailsync-pull --bogus
expect_rc "an unknown option" 64
run mailsync-pull --account nobody@firm.example
expect_rc "an unknown --account" 66
check "an unknown --account touches no mailbox" test "$(q "SELECT count(*) FROM sync_state")" = 0

# 1. Full sync of both providers.
clearlog
run mailsync-pull --json
expect_rc "first pull: full sync" 0
check "--json: one line per account with account, provider, status, fetched, new" \
	pc json-one-ok-line-per-account "$T/out"
check "fetched covers every message to sync, at most those skipped besides" \
	pc json-fetched-what-to-sync "$T/out"
check "new: every message to sync is new to its account" pc json-all-new "$T/out"
check "rows in emails: the distinct Message-IDs of all mailboxes" \
	test "$(q "SELECT count(*) FROM emails")" = "$(pc distinct)"
consistent "full sync"
check "full sync: subjects and names decoded, participants, dates, attachments, direction, snippet, no body" pc attrs
check "drafts, spam, trash, chats, junk and deleted items are not stored" \
	test "$(q "SELECT count(*) FROM emails WHERE message_id IN ('<draft.alice.1@mail.gmail.com>', '<spam.99812@bulk.example>', '<chat.bob.1@firm.example>', '<trash.alice.1@mail.acme.example>', '<carol.draft.1@firm.example>', '<junk.777@cheap.example>', '<carol.deleted.1@acme.example>')")" = 0
check "mail filed in Outlook's Archive is stored (every folder is synced)" \
	test "$(q "SELECT count(*) FROM emails WHERE message_id = '<carol.archive.1@globex.example>'")" = 1
check "the message in alice's, bob's and carol's mailboxes is one email with three accounts" \
	test "$(q "SELECT count(*) FROM email_accounts ea JOIN emails e ON e.id = ea.email_id WHERE e.message_id = '<CAJ7bcc.0003@mail.acme.example>'")" = 3
check "Gmail full sync read the profile, listed by 500, fetched metadata in batches of at most 50" \
	pc log-gmail-full-sync mem
check "the cursors are stored: a historyId per Gmail account, a deltaLink per Outlook folder (Inbox, Sent Items, Archive) and the folder list's, no page left" \
	test "$(q "SELECT count(*) FROM sync_state WHERE (json_extract(cursor, '$.historyId') IS NOT NULL OR json_extract(cursor, '$.deltaLink') IS NOT NULL) AND json_extract(cursor, '$.pageToken') IS NULL AND json_extract(cursor, '$.nextLink') IS NULL")/$(q "SELECT count(*) FROM sync_state WHERE json_extract(cursor, '$.deltaLink') IS NOT NULL")" = 6/4
check "last_sync is set for every account" \
	test "$(q "SELECT count(*) FROM accounts WHERE last_sync IS NOT NULL AND status = 'active'")" = 3
run mailsync-match -q
expect_rc "mailsync-match after the pull" 0
check "show c-17 (Acme) lists its emails with sources and accounts" pc show c-17
check "show c-18 (Globex) too" pc show c-18
check "the French question shows decoded" \
	bash -c "mailsync-show --json c-18 | grep -q '\"subject\":\"Question à propos du contrat\"'"

# 2. Incremental: new messages, one sent by alice, one shared with bob.
add $A '{"message_id": "<t2.in@mail.acme.example>", "date": "2026-11-19T08:00:00Z", "from": "\"Doe, Jane\" <jane@acme.example>", "to": "Alice Martin <alice@firm.example>", "subject": "=?UTF-8?Q?Angebot_f=C3=BCr_2027?=", "body": "Hi Alice, the new offer is attached.", "attachments": true, "labels": ["INBOX", "UNREAD"]}' >/dev/null
add $A '{"message_id": "<t2.out@mail.gmail.com>", "date": "2026-11-19T09:00:00Z", "from": "Alice Martin <alice@firm.example>", "to": "Acme Operations <ops@acme.example>", "subject": "Delivery dates", "body": "Hello Ops, could you confirm the delivery dates?", "labels": ["SENT"]}' >/dev/null
shared='"message_id": "<t2.shared@portal.acme.example>", "date": "2026-11-19T10:00:00Z", "from": "Acme Portal <portal@acme.example>", "to": "alice@firm.example, Bob Stone <bob@firm.example>", "subject": "Maintenance window", "body": "The portal is down on Sunday."'
add $A "{$shared, \"labels\": [\"INBOX\"]}" >/dev/null
add $B "{$shared, \"labels\": [\"INBOX\", \"UNREAD\"]}" >/dev/null
add $A '{"message_id": "<t2.draft@mail.gmail.com>", "date": "2026-11-19T11:00:00Z", "from": "Alice Martin <alice@firm.example>", "to": "jane@acme.example", "subject": "Draft", "body": "Not yet.", "labels": ["DRAFT"]}' >/dev/null
add $C '{"message_id": "<t2.carol.in@globex.example>", "date": "2026-11-19T12:00:00Z", "from": "Globex Finance <finance@globex.example>", "to": "Carol Chen <carol@firm.example>", "subject": "Invoice 2026-19", "body": "Invoice 2026-19 attached.", "attachments": true, "folder": "inbox"}' >/dev/null
add $C '{"message_id": "<t2.carol.out@firm.example>", "date": "2026-11-19T13:00:00Z", "from": "Carol Chen <carol@firm.example>", "to": "\"Doe, Jane\" <jane@acme.example>", "subject": "Re: Shipping addresses for Q4", "body": "Jane, the warehouse opens at 8.", "folder": "sentitems"}' >/dev/null
add $C '{"message_id": "<t2.carol.draft@firm.example>", "date": "2026-11-19T14:00:00Z", "from": "Carol Chen <carol@firm.example>", "to": "ops@acme.example", "subject": "Draft", "body": "Unfinished.", "folder": "drafts"}' >/dev/null
before=$(q "SELECT count(*) FROM emails")
clearlog
run mailsync-pull --json
expect_rc "incremental pull" 0
check "only the new messages are fetched: alice 3, bob 1, carol 2" \
	pc json-says "$T/out" $A.fetched=3 $B.fetched=1 $C.fetched=2
check "all of them new to their accounts" \
	pc json-says "$T/out" $A.new=3 $B.new=1 $C.new=2
check "5 rows more in emails" test "$(q "SELECT count(*) FROM emails")" = $((before + 5))
consistent "incremental"
check "incremental: attributes" pc attrs
check "the shared message is one email linked to alice and bob" \
	test "$(q "SELECT group_concat(a.address, ' ') FROM (SELECT a.address FROM emails e JOIN email_accounts ea ON ea.email_id = e.id JOIN accounts a ON a.id = ea.account_id WHERE e.message_id = '<t2.shared@portal.acme.example>' ORDER BY 1) a")" = "alice@firm.example bob@firm.example"
check "alice's sent message is out, the others in" \
	test "$(q "SELECT group_concat(direction, ' ') FROM (SELECT direction FROM emails WHERE message_id IN ('<t2.out@mail.gmail.com>', '<t2.carol.out@firm.example>', '<t2.in@mail.acme.example>', '<t2.carol.in@globex.example>') ORDER BY message_id)")" = "in out in out"
check "Gmail used history.list with messageAdded and labelAdded and fetched only the new messages" \
	pc log-gmail-incremental mem $A=3 $B=1

# A message deleted before its metadata is fetched: the 404 part is skipped.
gone=$(add $B '{"message_id": "<t2.gone@mail.acme.example>", "date": "2026-11-19T15:00:00Z", "from": "ops@acme.example", "to": "bob@firm.example", "subject": "Gone", "body": "Deleted soon."}')
emu POST "/_emu/mailboxes/$B/delete" "{\"id\": \"$gone\"}" >/dev/null
add $B '{"message_id": "<t2.after.gone@mail.acme.example>", "date": "2026-11-19T15:30:00Z", "from": "ops@acme.example", "to": "bob@firm.example", "subject": "Still here", "body": "This one stays."}' >/dev/null
clearlog
run mailsync-pull -v
expect_rc "a message deleted between history and its fetch" 0
check "without --json nothing is printed on stdout" test ! -s "$T/out"
for a in $ACCTS; do grep_err "-v: a summary line for $a on stderr" "$a.*fetched"; done
lg "its fetch got a 404" 'any(e["status"] == 404 and "batch" in e for e in G)'
consistent "after a 404 in a batch"

# 3. Idle runs.
idle "after the incremental pull"
run mailsync-pull --json
check "an idle --json run fetches nothing" pc json-idle "$T/out" 3

if command -v script >/dev/null; then
	script -qec "mailsync-pull" /dev/null >"$T/tty" 2>&1
	for a in $ACCTS; do
		check "on a terminal a summary line for $a" grep -q "$a.*fetched" "$T/tty"
	done
else
	ok "# SKIP script(1) not installed"
fi

# --account: only the named accounts.
add $A '{"message_id": "<t3.only@mail.acme.example>", "date": "2026-11-19T16:00:00Z", "from": "jane@acme.example", "to": "alice@firm.example", "subject": "Only alice", "body": "Only alice is pulled."}' >/dev/null
clearlog
run mailsync-pull --json --account $A
expect_rc "--account alice" 0
check "--account: one line, alice's" pc json-says "$T/out" lines=1 $A.fetched=1
check "--account: no request for the other mailboxes" pc log-asked-only mem $A
consistent "--account"

# 4. Gmail history 404: full sync again, no duplicates.
add $A '{"message_id": "<t4.after404@ops.acme.example>", "date": "2026-11-19T17:00:00Z", "from": "Acme Ops <ops@acme.example>", "to": "alice@firm.example", "subject": "After the history expired", "body": "Still delivered."}' >/dev/null
before=$(q "SELECT count(*) FROM emails")
faulted '{"kind": "history404", "mailbox": "alice@firm.example", "count": 1}' "history.list answers 404" --json
check "alice got the 404, then read the profile and listed again" \
	pc log-history-404-resync mem $A
one_more "after the history 404: one email more, no duplicate"
consistent "after the Gmail full resync"
idle "after the Gmail full resync"

# 5. Outlook delta 410 (syncStateNotFound, then resyncRequired): the folder
# is synced again, no duplicates.
add $C '{"message_id": "<t5.after410@acme.example>", "date": "2026-11-19T18:00:00Z", "from": "Jane Doe <jane@acme.example>", "to": "carol@firm.example", "subject": "After the delta expired", "body": "Delivered all the same."}' >/dev/null
before=$(q "SELECT count(*) FROM emails")
faulted '{"kind": "delta410", "mailbox": "carol@firm.example", "count": 1}' "delta answers 410 syncStateNotFound" --json
check "carol got the 410, then an initial round" pc log-delta-410-initial mem $C
one_more "after the delta 410: one email more, no duplicate"
consistent "after the Outlook resync"
faulted '{"kind": "delta410", "mailbox": "carol@firm.example", "count": 2, "code": "resyncRequired"}' "two folders answer 410 resyncRequired" --json
check "both folders started over" pc log-delta-410-initial mem $C 2
one_more "no email more"
consistent "after resyncRequired"
idle "after the Outlook resyncs"

# 6a. 429 with Retry-After: 2.
add $A '{"message_id": "<t6.429@acme.example>", "date": "2026-11-19T19:00:00Z", "from": "jane@acme.example", "to": "alice@firm.example", "subject": "After a 429", "body": "Throttled once."}' >/dev/null
faulted '{"kind": "status", "status": 429, "retry_after": 2, "prefix": "/gmail/v1/users/me/history", "mailbox": "alice@firm.example", "count": 1}' "a 429 with Retry-After, then success"
check "the retry came at least Retry-After seconds later" pc log-retry-after mem $A 2
consistent "after the 429"

# 6a'. A refusal that is not transient (403 forbidden): its own exit
# status, 69, not 75; the other accounts are pulled all the same.
fault '{"kind": "status", "status": 403, "reason": "forbidden", "prefix": "/gmail/v1/users/me/history", "mailbox": "alice@firm.example", "count": 1}'
run mailsync-pull --json
nofaults
expect_rc "a 403 forbidden is not transient" 69
check "alice errs with the provider's reason, bob and carol are ok" \
	pc json-says "$T/out" $A=error:403 $B=ok $C=ok
run mailsync-pull -q
expect_rc "the next run succeeds" 0

# 6b. 503 twice on Graph, then success.
add $C '{"message_id": "<t6.503@globex.example>", "date": "2026-11-19T19:30:00Z", "from": "finance@globex.example", "to": "carol@firm.example", "subject": "After two 503s", "body": "Unavailable twice."}' >/dev/null
faulted '{"kind": "status", "status": 503, "prefix": "/v1.0/", "mailbox": "carol@firm.example", "count": 2}' "503 twice, then success"
check "each 503 was retried after a backoff of at least a second" \
	pc log-retried mem $C 503 2 0.45
consistent "after the 503s"

# 6c. Expired access tokens: 401, one refresh, retry; the rotated
# Microsoft refresh token is stored.
cid=$(q "SELECT id FROM accounts WHERE address = '$C'")
old=$(q "SELECT hex(refresh) FROM tokens WHERE account_id = $cid")
add $A '{"message_id": "<t6.401a@acme.example>", "date": "2026-11-19T20:00:00Z", "from": "jane@acme.example", "to": "alice@firm.example", "subject": "After a 401", "body": "Token expired."}' >/dev/null
add $C '{"message_id": "<t6.401c@acme.example>", "date": "2026-11-19T20:10:00Z", "from": "jane@acme.example", "to": "carol@firm.example", "subject": "After a 401 too", "body": "Token expired too."}' >/dev/null
emu POST /_emu/tokens/expire '{}' >/dev/null
clearlog
run mailsync-pull --json
expect_rc "expired access tokens" 0
check "every account ok" pc json-all-ok "$T/out"
check "one refresh per account" pc log-one-refresh-per-account mem
consistent "after the refresh"
check "carol's rotated refresh token is stored" \
	test "$(q "SELECT hex(refresh) FROM tokens WHERE account_id = $cid")" != "$old"
emu POST /_emu/tokens/expire '{"mailbox": "carol@firm.example"}' >/dev/null
run mailsync-pull --account $C
expect_rc "the stored rotated refresh token works (the old one is dead)" 0

# 6d. invalid_grant: carol needs re-authorization, the others sync.
emu POST /_emu/grants/revoke '{"mailbox": "carol@firm.example"}' >/dev/null
add $A '{"message_id": "<t6.ig.a@acme.example>", "date": "2026-11-19T21:00:00Z", "from": "ops@acme.example", "to": "alice@firm.example", "subject": "While carol is revoked", "body": "Alice still syncs."}' >/dev/null
add $B '{"message_id": "<t6.ig.b@acme.example>", "date": "2026-11-19T21:05:00Z", "from": "ops@acme.example", "to": "bob@firm.example", "subject": "While carol is revoked, bob", "body": "Bob still syncs."}' >/dev/null
add $C '{"message_id": "<t6.ig.c@acme.example>", "date": "2026-11-19T21:10:00Z", "from": "ops@acme.example", "to": "carol@firm.example", "subject": "Carol cannot see this yet", "body": "Waiting for carol."}' >/dev/null
clearlog
run mailsync-pull --json
expect_rc "invalid_grant on refresh" 77
check "carol needs-reauth with an error, the others ok" \
	pc json-says "$T/out" $C=needs-reauth:invalid_grant $A=ok $B=ok
grep_err "stderr names carol" "carol@firm.example"
check "carol's status is needs-reauth" test "$(q "SELECT status FROM accounts WHERE address = '$C'")" = needs-reauth
lg "it did not loop on the refresh" \
	'len([e for e in G if e.get("grant_type") == "refresh_token"]) == 1'
check "alice's and bob's new messages are stored, carol's not" \
	test "$(q "SELECT group_concat(message_id, ' ') FROM (SELECT message_id FROM emails WHERE message_id LIKE '<t6.ig.%' ORDER BY 1)")" = "<t6.ig.a@acme.example> <t6.ig.b@acme.example>"
run mailsync-show --accounts --json
grep_out "show --accounts says needs-reauth" '"address":"carol@firm.example".*"status":"needs-reauth"'
clearlog
run mailsync-pull --json
expect_rc "a later run while carol waits for re-authorization" 77
check "--json: a line for every account, carol's needs-reauth with nothing fetched" \
	pc json-says "$T/out" lines=3 $C=needs-reauth $C.fetched=0 $A=ok
lg "carol's mailbox is not asked at all" 'not by("carol@firm.example")'
connect_browser -p outlook --login-hint $C --member carol --timeout 30
expect_rc "carol re-authorizes" 0
clearlog
run mailsync-pull --json
expect_rc "after re-authorization" 0
check "carol ok again, her waiting message fetched" pc json-says "$T/out" $C=ok $C.fetched=1
lg "incrementally, from the kept deltaLinks" 'not any(e.get("round") == "initial" for e in A)'
check "carol is active" test "$(q "SELECT status FROM accounts WHERE address = '$C'")" = active
consistent "after re-authorization"

# 6e. Malformed replies: bob's history, carol's $batch of delta polls (every
# attempt: a batch reply that does not parse is asked again, 5 times).
bid=$(q "SELECT id FROM accounts WHERE address = '$B'")
add $B '{"message_id": "<t6.bad.b@acme.example>", "date": "2026-11-19T22:00:00Z", "from": "ops@acme.example", "to": "bob@firm.example", "subject": "Behind a malformed page", "body": "Wait."}' >/dev/null
add $C '{"message_id": "<t6.bad.c1@acme.example>", "date": "2026-11-19T22:05:00Z", "from": "ops@acme.example", "to": "carol@firm.example", "subject": "Behind a malformed page, carol", "body": "Wait."}' >/dev/null
add $C '{"message_id": "<t6.bad.c2@acme.example>", "date": "2026-11-19T22:06:00Z", "from": "Carol Chen <carol@firm.example>", "to": "ops@acme.example", "subject": "Sent behind a malformed page", "body": "Wait.", "folder": "sentitems"}' >/dev/null
add $A '{"message_id": "<t6.bad.a@acme.example>", "date": "2026-11-19T22:10:00Z", "from": "ops@acme.example", "to": "alice@firm.example", "subject": "Alice is fine", "body": "No fault here."}' >/dev/null
cursors="SELECT a.address, s.folder, json_extract(s.cursor, '$.historyId'), json_extract(s.cursor, '$.deltaLink'), json_extract(s.cursor, '$.nextLink'), json_extract(s.cursor, '$.pageToken') FROM sync_state s JOIN accounts a ON a.id = s.account_id WHERE a.address IN ('$B', '$C') ORDER BY 1, 2"
cur_before=$(q "$cursors")
fault '{"kind": "malformed", "prefix": "/gmail/v1/users/me/history", "mailbox": "bob@firm.example", "count": 5}'
fault '{"kind": "malformed", "prefix": "/v1.0/$batch", "mailbox": "carol@firm.example", "count": 10}'
run mailsync-pull --json
nofaults
expect_rc "malformed JSON is a transient failure" 75
check "bob and carol error with a message, alice ok" \
	pc json-says "$T/out" $B=error $C=error $A=ok
grep_err "the error names bob" "bob@firm.example"
grep_err "and carol" "carol@firm.example"
check "nothing of the broken pages is stored, alice's message is" \
	test "$(q "SELECT group_concat(message_id, ' ') FROM emails WHERE message_id LIKE '<t6.bad.%'")" = "<t6.bad.a@acme.example>"
check "bob's and carol's cursors are unchanged" test "$(q "$cursors")" = "$cur_before"
check "status error with last_error" \
	test "$(q "SELECT group_concat(status || ':' || (length(last_error) > 0), ' ') FROM accounts WHERE address IN ('$B', '$C')")" = "error:1 error:1"
run mailsync-show --accounts --json
grep_out "show --accounts shows the error" '"address":"bob@firm.example".*"status":"error","last_sync":[^,]*,"last_error":"[^"]+'
run mailsync-pull --json
expect_rc "the next clean run" 0
check "recovers bob and carol" pc json-says "$T/out" all=ok $B.fetched=1 $C.fetched=2
check "both active again" test "$(q "SELECT group_concat(status, ' ') FROM accounts WHERE address IN ('$B', '$C')")" = "active active"
consistent "after the recovery"
check "after the faults: attributes" pc attrs

# 7. A synced copy of a CRM email merges into it.
cat >"$T/crm.eml" <<'EOF'
Message-ID: <crm-pull-1@crm.firm.example>
Date: Thu, 19 Nov 2026 23:00:00 +0000
From: Alice Martin <alice@firm.example>
To: "Doe, Jane" <jane@acme.example>
Subject: Proposal for 2027
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Hi Jane, here is our proposal for 2027. Best, Alice
EOF
crmspec='"message_id": "<crm-pull-1@crm.firm.example>", "date": "2026-11-19T23:00:00Z", "from": "Alice Martin <alice@firm.example>", "to": "\"Doe, Jane\" <jane@acme.example>", "subject": "Proposal for 2027", "body": "Hi Jane, here is our proposal for 2027. Best, Alice"'
run mailsync-record "$T/crm.eml"
expect_rc "record a CRM email" 0
crmid=$(cat "$T/out")
echo "{$crmspec}" >>"$T/crm.jsonl"
add $A "{$crmspec, \"labels\": [\"SENT\"]}" >/dev/null
before=$(q "SELECT count(*) FROM emails")
run mailsync-pull --json
expect_rc "pull the synced copy" 0
check "no new row" test "$(q "SELECT count(*) FROM emails")" = "$before"
check "the CRM email keeps its source, body and id, and gets alice's link" \
	test "$(q "SELECT e.id || ' ' || e.source || ' ' || (e.body LIKE 'Hi Jane%') || ' ' || group_concat(a.address) FROM emails e JOIN email_accounts ea ON ea.email_id = e.id JOIN accounts a ON a.id = ea.account_id WHERE e.message_id = '<crm-pull-1@crm.firm.example>'")" = "$crmid crm 1 alice@firm.example"
mailsync-match -q
run mailsync-show --json c-17
grep_out "show: once, source crm, accounts alice, viewable" \
	'"source":"crm".*"message_id":"<crm-pull-1@crm.firm.example>","accounts":\["alice@firm.example"\],"viewable":true'
# The other order: synced first, recorded by the CRM afterwards.
crmspec2='"message_id": "<crm-pull-2@crm.firm.example>", "date": "2026-11-19T23:30:00Z", "from": "Alice Martin <alice@firm.example>", "to": "ops@acme.example", "subject": "Order confirmation", "body": "Hello Ops, we confirm the order. Alice"'
add $A "{$crmspec2, \"labels\": [\"SENT\"]}" >/dev/null
run mailsync-pull
expect_rc "pull a message the CRM has not recorded yet" 0
synced=$(q "SELECT id FROM emails WHERE message_id = '<crm-pull-2@crm.firm.example>'")
printf 'Message-ID: <crm-pull-2@crm.firm.example>\nDate: Thu, 19 Nov 2026 23:30:00 +0000\nFrom: Alice Martin <alice@firm.example>\nTo: ops@acme.example\nSubject: Order confirmation\n\nHello Ops, we confirm the order. Alice\n' >"$T/crm2.eml"
run mailsync-record "$T/crm2.eml"
expect_rc "then the CRM records it" 0
echo "{$crmspec2}" >>"$T/crm.jsonl"
check "it takes the synced row over: one email, source crm, alice's link kept" \
	test "$(q "SELECT count(*) || ' ' || max(e.source) || ' ' || group_concat(a.address) FROM emails e JOIN email_accounts ea ON ea.email_id = e.id JOIN accounts a ON a.id = ea.account_id WHERE e.message_id = '<crm-pull-2@crm.firm.example>'")" = "1 crm alice@firm.example"
mailsync-match -q
check "show c-17 after everything" pc show c-17
consistent "after the CRM copy"

# 8. No body reaches the database: a marker past the snippet's length.
marker="QXBODYMARKER$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
filler=$(printf 'This paragraph is long filler text so that the marker lies beyond any snippet or preview. %.0s' 1 2 3 4)
add $A "{\"message_id\": \"<t8.body@acme.example>\", \"date\": \"2026-11-20T08:00:00Z\", \"from\": \"jane@acme.example\", \"to\": \"alice@firm.example\", \"subject\": \"Long body\", \"body\": \"$filler $marker\"}" >/dev/null
add $C "{\"message_id\": \"<t8.body.c@acme.example>\", \"date\": \"2026-11-20T08:05:00Z\", \"from\": \"jane@acme.example\", \"to\": \"carol@firm.example\", \"subject\": \"Long body too\", \"body\": \"$filler $marker\"}" >/dev/null
run mailsync-pull
expect_rc "pull the long bodies" 0
check "both stored" test "$(q "SELECT count(*) FROM emails WHERE message_id LIKE '<t8.body%'")" = 2
check "the body marker is in no file beside the database (WAL included)" \
	bash -c "! grep -raqF '$marker' '$T/data'"

# --full: forget the cursors, everything again, no duplicates.
before=$(q "SELECT count(*) FROM emails")
clearlog
run mailsync-pull --full --json
expect_rc "--full" 0
check "--full: every account ok, nothing new" pc json-says "$T/out" lines=3 all=ok all.new=0
check "--full read the profiles, listed everything and started every Outlook folder over" \
	pc log-full-resync mem
check "--full: same number of emails" test "$(q "SELECT count(*) FROM emails")" = "$before"
consistent "after --full"
idle "after --full"

# 9. The lock: a second pull while one runs.
econf '{"latency_ms": 2500}'
mailsync-pull -q >"$T/bg.out" 2>"$T/bg.err" &
bg=$!
sleep 0.7
run mailsync-pull
expect_rc "a second pull while one runs" 75
one_line_err "says so in one line"
grep_err "saying another pull is running" "(another|already).*(pull|running)|running|lock"
check "the first pull was still running" kill -0 $bg
rc=0; wait $bg || rc=$?
expect_rc "the first pull finishes" 0
econf '{"latency_ms": 0}'

# 10. --max-time: no new unit of work (a page of 500) starts after it;
# what is complete is committed and the rest resumes, so runs of the same
# short --max-time get through.
emu POST "/_emu/mailboxes/$A/messages" '{"generate": 1200, "seed": 7}' >/dev/null
econf '{"latency_ms": 600}'
run mailsync-pull -v --json --max-time 1
econf '{"latency_ms": 0}'
expect_rc "--max-time 1, replies slower than that" 0
cp "$T/out" "$T/maxtime.0"
js "alice is partial, with a whole unit stored" 'J["alice@firm.example"]["status"] == "partial" and 0 < J["alice@firm.example"]["new"] < 1200 and all(r["status"] in ("ok", "partial") for r in L)'
grep_err "stderr says the rest comes on the next run" "alice@firm.example.*next run"
run mailsync-pull --json
expect_rc "the next run" 0
cp "$T/out" "$T/maxtime.1"
js "completes alice" 'J["alice@firm.example"]["status"] == "ok" and J["alice@firm.example"]["fetched"] < 1200'
check "the two runs stored the 1200 messages once" \
	test "$(cat "$T"/maxtime.* | python3 -c 'import json,sys; print(sum(r["new"] for r in map(json.loads, sys.stdin) if r["account"] == "alice@firm.example"))')" = 1200
consistent "after --max-time"

rm -f "$T"/maxtime.*
mailsync-config -q set quota.gmail_concurrency 1
emu POST "/_emu/mailboxes/$A/messages" '{"generate": 300, "seed": 8}' >/dev/null
emu POST "/_emu/mailboxes/$C/messages" '{"generate": 300, "seed": 9}' >/dev/null
econf '{"latency_ms": 300}'
runs=0 partial=0
for i in 1 2 3 4 5 6 7 8; do
	run mailsync-pull --json --max-time 1
	[ "$rc" -eq 0 ] || break
	runs=$i
	cp "$T/out" "$T/maxtime.$i"
	grep -q '"status":"partial"' "$T/out" && partial=$((partial + 1))
	grep -q '"status":"partial"' "$T/out" || break
done
econf '{"latency_ms": 0}'
mailsync-config -q unset quota.gmail_concurrency
check "300 new messages each for alice and carol: runs of --max-time 1 get through ($runs runs, $partial partial)" \
	test "$runs" -lt 8 -a "$rc" -eq 0
check "and store every message once" \
	test "$(cat "$T"/maxtime.* | python3 -c 'import json,sys; print(sum(r["new"] for r in map(json.loads, sys.stdin) if r["account"] in ("alice@firm.example", "carol@firm.example")))')" = 600
consistent "after runs of --max-time"
idle "at the end"

# --since on a first sync: only emails dated on or after it.
export MAILSYNC_DB="$T/since/mailsync.db"
setup_apps
connect_browser -p gmail --login-hint $A --member alice --timeout 30
connect_browser -p outlook --login-hint $C --member carol --timeout 30
run mailsync-pull --json --since 2026-10-20
expect_rc "--since 2026-10-20 on a first sync" 0
check "--since: new counts only the messages from that day on" \
	pc json-says "$T/out" $A.new=$(pc since $A 2026-10-20) $C.new=$(pc since $C 2026-10-20)
check "--since: nothing older stored" \
	test "$(q "SELECT count(*) FROM emails WHERE date < CAST(strftime('%s', '2026-10-20') AS INTEGER)")/$(q "SELECT count(*) FROM emails")" = "0/$(ACCTS="$A $C" pc since_distinct 2026-10-20)"
run mailsync-pull --since yesterday
expect_rc "a bad --since" 64

# A full sync of many pages, fast: pages are listed ahead and stored in
# order; the listing must go on when every listed page is stored.
export MAILSYNC_DB="$T/big/mailsync.db"
emu POST /_emu/mailboxes '{"provider": "gmail", "address": "big@firm.example"}' >/dev/null
emu POST /_emu/mailboxes/big@firm.example/messages '{"generate": 2600, "seed": 11}' >/dev/null
setup_apps
connect_browser -p gmail --login-hint big@firm.example --member big --timeout 30
run mailsync-pull --json
expect_rc "a first sync of 2600 messages, 6 pages" 0
check "every page is fetched and the sync is complete" \
	pc json-says "$T/out" big@firm.example=ok big@firm.example.new=2600
check "and stored" test "$(q "SELECT count(*) FROM emails")" = 2600
export MAILSYNC_DB="$T/data/mailsync.db"

# The whole run, as the emulator saw it.
check "never format=full or raw, never a body returned" pc log-no-body file
check "every messages.get asked for metadata with the needed headers" \
	pc log-metadata-headers file
check "every messages.get went through a batch" pc log-gets-batched file
check "Graph delta with immutable ids, a \$select without body on first calls" \
	pc log-graph-select-no-body file
check "Graph: only delta, only on folders synced (Inbox, Sent Items, Archive)" pc delta_folders $C

done_testing

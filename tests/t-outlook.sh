#!/bin/bash
# Outlook: every mail folder (nested ones too) but the ones that hold no
# correspondence; moves between folders; folders created, renamed and
# deleted between runs; outlook.exclude and outlook.folders; recent mail
# first under --max-time; shared mailboxes (a member with access, one
# without); --tenant with stored credentials; an idle run of 45 folders.
. "$MS_SRC/tests/lib.sh"
. "$MS_SRC/tests/lib-emu.sh"
export MAILSYNC_DB="$T/data/mailsync.db"
emu_start
S=support@firm.example F=finance@firm.example
BIG=big@firm.example
export ACCTS="$C"
folder() { # folder ADDRESS PATH: made with its parents; its id on stdout
	emu POST "/_emu/mailboxes/$1/folders" "{\"path\": \"$2\"}" |
	    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
}
folders_of() { # the tracked folders' paths, ;-joined, as show --json says
	mailsync-show --accounts --json |
	    python3 -c 'import json,sys; print(";".join(next(r["folders"] for r in map(json.loads, sys.stdin) if r["address"] == sys.argv[1])))' "$1"
}
# polled FOLDER-ID: whether the last run asked that folder's delta
polled() { pc log mem "any('$1' in e['path'] and e['path'].endswith('/messages/delta') for e in every('$2'))" >/dev/null; }

mailsync-clients -q import "$MS_SRC/share/sample/clients.jsonl"
setup_apps

# 1. Mail filed in a nested folder reaches the client's profile.
acme=$(folder $C "Inbox/Clients/Acme")
add $C '{"message_id": "<nested.1@acme.example>", "date": "2026-11-19T09:00:00Z", "from": "\"Doe, Jane\" <jane@acme.example>", "to": "carol@firm.example", "subject": "Filed under Clients/Acme", "body": "In a nested folder.", "folder": "Inbox/Clients/Acme"}' >/dev/null
connect_browser -p outlook --login-hint $C --member carol --timeout 30
[ "$rc" -eq 0 ] || { echo "Bail out! connecting carol failed"; cat "$T/err"; exit 1; }
clearlog
run mailsync-pull --json -a $C
expect_rc "a first pull of every folder" 0
check "the nested folder's mail is stored" has '<nested.1@acme.example>'
check "every folder but Drafts, Deleted Items, Junk, Outbox and the like is synced" pc links
check "and nothing else is stored" pc emails
mailsync-match -q
run mailsync-show --json c-17
grep_out "it reaches the client's profile" '"subject":"Filed under Clients/Acme"'
check "show --accounts --json names the tracked folders" \
	test "$(folders_of $C)" = "Archive;Inbox;Inbox/Clients;Inbox/Clients/Acme;Sent Items"
run mailsync-show --accounts
grep_out "the table counts them" "^outlook +carol@firm.example +carol +active .* 5 +-$"
lg "the first round of each folder asks the newest mail first" \
	'all(q(e, "$orderby") == "receivedDateTime desc" for e in every("carol@firm.example") if e["path"].endswith("/messages/delta") and e.get("round") == "initial")'
lg "each request of a \$batch carries its own Prefer" \
	'all(e.get("immutable") for e in parts("carol@firm.example") if e["path"].endswith("/messages/delta"))'

# 2. A message moved between folders is one email, the same row.
mid=$(add $C '{"message_id": "<move.1@acme.example>", "date": "2026-11-19T10:00:00Z", "from": "jane@acme.example", "to": "carol@firm.example", "subject": "Moved later", "body": "From the inbox to Clients/Acme."}')
run mailsync-pull -q -a $C
row=$(q "SELECT id FROM emails WHERE message_id = '<move.1@acme.example>'")
emu POST "/_emu/mailboxes/$C/move" "{\"id\": \"$mid\", \"to\": \"Inbox/Clients/Acme\"}" >/dev/null
run mailsync-pull --json -a $C
expect_rc "a pull after the move" 0
js "the move brings nothing new" 'J["carol@firm.example"]["new"] == 0'
check "the moved message is the same row" \
	test "$(q "SELECT group_concat(id) FROM emails WHERE message_id = '<move.1@acme.example>'")" = "$row"
check "linked once, with its immutable id" \
	test "$(q "SELECT count(*) || '|' || max(provider_id) FROM email_accounts WHERE email_id = $row")" = "1|$mid"

# 3. A folder created between runs is picked up; a renamed one renamed.
proj=$(folder $C "Projects")
add $C '{"message_id": "<new.folder.1@globex.example>", "date": "2026-11-19T11:00:00Z", "from": "finance@globex.example", "to": "carol@firm.example", "subject": "In a new folder", "body": "Projects", "folder": "Projects"}' >/dev/null
clearlog
run mailsync-pull --json -a $C
expect_rc "a pull after a folder was created" 0
check "the new folder's mail is stored" has '<new.folder.1@globex.example>'
check "the new folder is tracked" test "$(folders_of $C)" = "Archive;Inbox;Inbox/Clients;Inbox/Clients/Acme;Projects;Sent Items"
emu POST "/_emu/mailboxes/$C/folders/rename" "{\"id\": \"$proj\", \"name\": \"Projects 2026\"}" >/dev/null
run mailsync-pull -q -a $C
check "a renamed folder keeps its cursor under its new name" \
	test "$(folders_of $C)" = "Archive;Inbox;Inbox/Clients;Inbox/Clients/Acme;Projects 2026;Sent Items"

# 4. A deleted folder stops being polled and keeps its emails: deleted
# for good, or moved into Deleted Items as Outlook does.
emu POST "/_emu/mailboxes/$C/folders/delete" "{\"id\": \"$proj\", \"permanent\": true}" >/dev/null
run mailsync-pull --json -a $C
expect_rc "a pull after a folder was deleted" 0
check "its emails stay" has '<new.folder.1@globex.example>'
check "it is no longer tracked" test "$(folders_of $C)" = "Archive;Inbox;Inbox/Clients;Inbox/Clients/Acme;Sent Items"
check "its cursor is gone" test "$(q "SELECT count(*) FROM sync_state WHERE folder = '$proj'")" = 0
clearlog
run mailsync-pull -q -a $C
check "and the next run does not poll it" sh -c "$(declare -f pc polled); ! polled '$proj' $C"
emu POST "/_emu/mailboxes/$C/folders/delete" "{\"id\": \"$acme\"}" >/dev/null
run mailsync-pull -q -a $C
check "a folder moved into Deleted Items is no longer synced" \
	test "$(folders_of $C)" = "Archive;Inbox;Inbox/Clients;Sent Items"
check "and its emails stay" sh -c "$(declare -f q has); has '<nested.1@acme.example>' && has '<move.1@acme.example>'"
check "nothing is linked twice, nothing lost" test "$(q "SELECT count(*) FROM email_accounts ea JOIN emails e ON e.id = ea.email_id WHERE e.message_id IN ('<nested.1@acme.example>', '<move.1@acme.example>')")" = 2

# 5. outlook.exclude (names or paths) and outlook.folders inbox-sent.
old=$(folder $C "Clients/Old")
news=$(folder $C "Newsletters")
add $C '{"message_id": "<old.1@acme.example>", "date": "2026-11-19T12:00:00Z", "from": "jane@acme.example", "to": "carol@firm.example", "subject": "Old client", "body": "x", "folder": "Clients/Old"}' >/dev/null
add $C '{"message_id": "<news.1@news.example>", "date": "2026-11-19T12:05:00Z", "from": "news@news.example", "to": "carol@firm.example", "subject": "Weekly", "body": "x", "folder": "Newsletters"}' >/dev/null
add $C '{"message_id": "<clients.1@acme.example>", "date": "2026-11-19T12:10:00Z", "from": "jane@acme.example", "to": "carol@firm.example", "subject": "Clients", "body": "x", "folder": "Clients"}' >/dev/null
run mailsync-config set outlook.exclude 'Clients/Old; Newsletters'
expect_rc "outlook.exclude takes names and paths" 0
run mailsync-config get outlook.exclude
expect_out "stored trimmed" <<'EOF'
Clients/Old;Newsletters
EOF
run mailsync-config set outlook.exclude 'Clients;;Old'
expect_rc "an empty name is refused" 65
run mailsync-config set outlook.folders inbox
expect_rc "outlook.folders is all or inbox-sent" 65
clearlog
run mailsync-pull -q -a $C
check "excluded folders are not synced" sh -c "$(declare -f q hasnt); hasnt '<old.1@acme.example>' && hasnt '<news.1@news.example>'"
check "the folder above an excluded path is" has '<clients.1@acme.example>'
check "excluded folders are not polled" sh -c "$(declare -f pc polled); ! polled '$old' $C && ! polled '$news' $C"
mailsync-config -q unset outlook.exclude
run mailsync-pull -q -a $C
check "unexcluded, they are synced" sh -c "$(declare -f q has); has '<old.1@acme.example>' && has '<news.1@news.example>'"
mailsync-config -q set outlook.folders inbox-sent
add $C '{"message_id": "<arch.2@acme.example>", "date": "2026-11-19T13:00:00Z", "from": "jane@acme.example", "to": "carol@firm.example", "subject": "Archived", "body": "x", "folder": "archive"}' >/dev/null
clearlog
run mailsync-pull -q -a $C
expect_rc "inbox-sent" 0
check "inbox-sent tracks the Inbox and Sent Items" test "$(folders_of $C)" = "Inbox;Sent Items"
lg "and polls just those, in one \$batch" \
	'[e["path"] for e in by("carol@firm.example")] == ["/v1.0/$batch"] and len(parts("carol@firm.example")) == 2 and all(e["path"].endswith("/messages/delta") for e in parts("carol@firm.example"))'
check "mail filed elsewhere waits" hasnt '<arch.2@acme.example>'
mailsync-config -q unset outlook.folders
run mailsync-pull -q -a $C
check "back to all: it comes" has '<arch.2@acme.example>'
check "after all of it: what the mailbox holds is linked, once; what left it stays" pc covers

# 6. Recent mail first: a first sync cut short by --max-time has the newest.
emu POST /_emu/mailboxes '{"provider": "outlook", "address": "many@firm.example"}' >/dev/null
emu POST /_emu/mailboxes/many@firm.example/messages '{"generate": 1200, "seed": 3}' >/dev/null
connect_browser -p outlook --login-hint many@firm.example --member many --timeout 30
econf '{"latency_ms": 400}'
run mailsync-pull --json --max-time 1 -a many@firm.example
econf '{"latency_ms": 0}'
js "a first sync cut short" 'J["many@firm.example"]["status"] == "partial" and 0 < J["many@firm.example"]["new"] < 1200'
check "what it stored is the newest mail" python3 - <<'PY'
import json, os, sqlite3, urllib.request
box = json.load(urllib.request.urlopen(os.environ["EMU"] + "/_emu/mailboxes/many@firm.example?limit=100000"))
inbox = sorted((x for x in box["list"] if x["folder"] == "inbox"), key=lambda x: x["received"], reverse=True)
c = sqlite3.connect(os.environ["MAILSYNC_DB"])
got = {r[0] for r in c.execute("SELECT e.message_id FROM emails e JOIN email_accounts ea ON ea.email_id = e.id JOIN accounts a ON a.id = ea.account_id WHERE a.address = 'many@firm.example'")}
want = {"<" + x["messageId"].strip("<>") + ">" for x in inbox[:len(got)]}
assert got and got == want, (len(got), len(got & want))
PY
run mailsync-pull -q -a many@firm.example
check "the next run finishes it" test "$(q "SELECT count(*) FROM email_accounts ea JOIN accounts a ON a.id = ea.account_id WHERE a.address = 'many@firm.example'")" = 1200

# 7. A shared mailbox, synced with one member's grant; one the member may
# not read is refused and leaves nothing behind.
emu POST /_emu/mailboxes "{\"provider\": \"outlook\", \"address\": \"$S\", \"name\": \"Support\", \"shared\": true, \"members\": [\"$C\"]}" >/dev/null
emu POST /_emu/mailboxes "{\"provider\": \"outlook\", \"address\": \"$F\", \"name\": \"Finance\", \"shared\": true, \"members\": []}" >/dev/null
add $S '{"message_id": "<shared.in@acme.example>", "date": "2026-11-19T14:00:00Z", "from": "jane@acme.example", "to": "support@firm.example", "subject": "Help, please", "body": "To the shared mailbox."}' >/dev/null
add $S '{"message_id": "<shared.out@firm.example>", "date": "2026-11-19T14:30:00Z", "from": "Support <support@firm.example>", "to": "jane@acme.example", "subject": "Re: Help, please", "body": "From the shared mailbox.", "folder": "sentitems"}' >/dev/null
connect_browser -p outlook --shared $S --login-hint $C --member carol --timeout 30
expect_rc "connect --shared by a member with access" 0
expect_out "prints the shared mailbox" <<EOF
connected outlook $S member=carol
EOF
check "the authorization asked for Mail.Read.Shared" \
	pc log file 'any("Mail.Read.Shared" in (e.get("query", {}).get("scope") or "") for e in G if e["path"].endswith("/authorize"))'
check "it is an account of its own, shown as shared" \
	sh -c "mailsync-show --accounts --json | grep -q '\"address\":\"$S\",\"member\":\"carol\".*\"shared\":true'"
run mailsync-show --accounts
grep_out "the table says shared" "^outlook +$S \(shared\) +carol"
clearlog
run mailsync-pull --json -a $S
expect_rc "pulling the shared mailbox" 0
js "its mail is fetched" 'J["support@firm.example"]["new"] == 2'
lg "through /users/ADDRESS" \
	'every("carol@firm.example") and all(e["path"].startswith("/v1.0/users/support@firm.example/") for e in parts("carol@firm.example") if e["path"] != "/v1.0/$batch")'
check "mail from the shared mailbox is outbound, to it inbound" \
	test "$(q "SELECT group_concat(direction, ' ') FROM (SELECT direction FROM emails WHERE message_id IN ('<shared.in@acme.example>', '<shared.out@firm.example>') ORDER BY message_id)")" = "in out"
emu POST /_emu/tokens/expire "{\"mailbox\": \"$C\"}" >/dev/null
clearlog
run mailsync-pull --json -a $S
expect_rc "after its access token expired" 0
lg "the refresh is carol's grant" \
	'[e.get("mailbox") for e in G if e.get("grant_type") == "refresh_token"] == ["carol@firm.example"]'
accounts=$(q "SELECT count(*) FROM accounts")
tokens=$(q "SELECT count(*) FROM tokens")
connect_browser -p outlook --shared $F --login-hint $C --member carol --timeout 30
expect_rc "a member without access to the shared mailbox" 77
grep_err "a clear message" "$F: the signed-in member may not read this shared mailbox \(Graph HTTP 403 ErrorAccessDenied"
check "nothing is stored" test "$(q "SELECT count(*) FROM accounts")/$(q "SELECT count(*) FROM tokens")" = "$accounts/$tokens"
run mailsync-connect -p gmail --shared $S
expect_rc "--shared is Outlook's" 64

# 8. --tenant with stored credentials: the account is refreshed there.
connect_browser -p outlook --tenant contoso.example --login-hint $C --member carol --timeout 30
expect_rc "connect --tenant with the stored app" 0
check "the authorization went to the tenant" \
	pc log file 'any(e["path"] == "/contoso.example/oauth2/v2.0/authorize" for e in G)'
check "the account remembers its tenant" test "$(q "SELECT tenant FROM accounts WHERE address = '$C'")" = contoso.example
check "the app keeps its own" test -z "$(q "SELECT tenant FROM apps WHERE provider = 'outlook'")"
emu POST /_emu/tokens/expire "{\"mailbox\": \"$C\"}" >/dev/null
clearlog
run mailsync-pull -q -a $C
expect_rc "a pull with an expired token" 0
lg "the refresh went to the account's tenant" \
	'[e["path"] for e in G if e.get("grant_type") == "refresh_token"] == ["/contoso.example/oauth2/v2.0/token"]'

# 9. An idle run of a mailbox with 45 tracked folders costs 3 requests.
python3 - >"$T/big.json" <<'PY'
import json
paths = ["Clients/Client %02d" % i for i in range(1, 21)] + \
    ["Projects/%02d" % i for i in range(1, 11)] + \
    ["Inbox/Team %02d" % i for i in range(1, 11)]
print(json.dumps({"provider": "outlook", "address": "big@firm.example", "folders": paths}))
PY
emu POST /_emu/mailboxes "$(cat "$T/big.json")" >/dev/null
connect_browser -p outlook --login-hint $BIG --member big --timeout 30
run mailsync-pull -q -a $BIG
expect_rc "a first pull of 45 folders" 0
check "45 folders are tracked" \
	test "$(folders_of $BIG | tr ';' '\n' | wc -l)" = 45
clearlog
run mailsync-pull --json -a $BIG
expect_rc "an idle run" 0
lg "an idle run of 45 folders: 3 requests" \
	'[e["path"] for e in A] == ["/v1.0/$batch"] * 3 and len([e for e in parts("big@firm.example") if e["path"].endswith("/messages/delta")]) == 45'

# 10. Inside a $batch: a 429 for one request is asked again after its own
# Retry-After, the other answers are used; a reply whose ids do not
# answer the batch is asked again; a link to another origin is never
# followed.
add $C '{"message_id": "<b429.1@acme.example>", "date": "2026-11-19T15:00:00Z", "from": "jane@acme.example", "to": "carol@firm.example", "subject": "Beside a 429", "body": "x"}' >/dev/null
emu POST /_emu/faults '{"kind": "status", "status": 429, "retry_after": 2, "prefix": "/v1.0/me/mailFolders/delta", "mailbox": "carol@firm.example", "count": 1}' >/dev/null
clearlog
run mailsync-pull --json -a $C
expect_rc "a 429 inside the batch" 0
js "the mail beside it is fetched" 'J["carol@firm.example"]["new"] == 1'
lg "only the refused request was asked again, after its Retry-After" \
	'(lambda f: [e["status"] for e in f] == [429, 200] and f[1]["time"] - f[0]["time"] >= 1.9)([e for e in every("carol@firm.example") if e["path"] == "/v1.0/me/mailFolders/delta"]) and (lambda d: d and len(d) == len({e["path"] for e in d}))([e for e in every("carol@firm.example") if e["path"].endswith("/messages/delta")])'
emu POST /_emu/faults '{"kind": "batch", "mode": "dup_cid", "mailbox": "carol@firm.example"}' >/dev/null
add $C '{"message_id": "<bdup.1@acme.example>", "date": "2026-11-19T15:10:00Z", "from": "jane@acme.example", "to": "carol@firm.example", "subject": "Behind a bad batch", "body": "x"}' >/dev/null
clearlog
run mailsync-pull --json -a $C
expect_rc "a batch reply answering one request twice" 0
lg "is asked again" '[e["path"] for e in by("carol@firm.example")] == ["/v1.0/$batch"] * 2'
check "and its mail stored once" has '<bdup.1@acme.example>'
emu DELETE /_emu/spy >/dev/null
emu POST /_emu/faults '{"kind": "foreign_link", "link": "delta", "prefix": "/v1.0/me/mailFolders(", "mailbox": "carol@firm.example", "count": 1}' >/dev/null
run mailsync-pull -a $C
expect_rc "a deltaLink to another origin inside a batch" 0
grep_err "is not followed, with a warning" "leads to http://127.0.0.1:[0-9]+, not to the Graph API"
run mailsync-pull -q -a $C
check "and nothing ever reaches that origin" \
	test "$(emu GET /_emu/spy | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["requests"]))')" = 0
emu DELETE /_emu/faults >/dev/null
check "nothing lost, nothing doubled" pc covers

# 11. The member's grant revoked: the shared mailbox waits for its member
# to connect it again, and says how.
emu POST /_emu/grants/revoke "{\"mailbox\": \"$C\"}" >/dev/null
emu POST /_emu/tokens/expire "{\"mailbox\": \"$C\"}" >/dev/null
run mailsync-pull -a $S
expect_rc "the member's grant revoked" 77
run mailsync-pull -v -a $S
expect_rc "and while it waits (-v says everything)" 77
grep_err "the way back names --shared" "$S needs re-authorization: run mailsync-connect --provider outlook --shared $S"

check "the database is sound" test "$(q "PRAGMA integrity_check")" = ok
done_testing

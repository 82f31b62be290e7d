#!/bin/bash
# Gmail's first sync by thread (threads.list + threads.get) against the
# emulator: chosen when the profile's messages per thread make it cheaper,
# message by message when threads are single; exactly the rows of a
# message-by-message sync (field by field); killed and resumed; --since;
# spam, trash and drafts inside a thread left out; an incremental sync
# with several new messages of one thread asks one threads.get.
. "$MS_SRC/tests/lib.sh"
. "$MS_SRC/tests/lib-emu.sh"
# The sample data (alice: 15 messages in 14 threads) and a generated
# mailbox of 4000 messages in threads of mean length 3 (40 % single, a
# long tail), more than two pages of threads.list.
emu_start --generate gmail:1,messages:4000,threads:3
G=gmail1@firm.example
export ACCTS="$G $A"
savelog() { emu GET /_emu/log >"$T/log.$1.json"; }

# lg NAME DESCRIPTION EXPR (in place of lib-emu.sh's lg, which reads the
# live log): EXPR over the saved log NAME: L is every entry
# (batch parts included), by(op, box) the entries of one Gmail method for
# one mailbox, units(box) the quota units charged for it.
lg() {
	check "$2" python3 - "$T/log.$1.json" "$3" <<'EOF'
import json, sys
L = json.load(open(sys.argv[1]))["entries"]
def by(op, box):
    return [e for e in L if e.get("op") == op and e.get("mailbox") == box]
def q(e, k, d=None):
    return e.get("query", {}).get(k, d)
def units(box):
    return sum(e.get("units", 0) for e in L
               if e.get("mailbox") == box and e["path"].startswith("/gmail/"))
ok = eval(sys.argv[2])
if not ok:
    ops = {}
    for e in L:
        if e.get("op"):
            k = "%s %s" % (e.get("mailbox"), e["op"])
            ops[k] = ops.get(k, 0) + 1
    print("# false: %s" % sys.argv[2])
    for k in sorted(ops):
        print("#   %s: %d" % (k, ops[k]))
sys.exit(0 if ok else 1)
EOF
}

# same DB1 DB2 [ACCOUNT]: the rows of two databases, field by field: per
# account and provider id, the Message-ID, subject, date, snippet,
# attachment flag, direction, bulk mark, thread id, source, and From, To
# and Cc (addresses and names, in order). Not empty, no link twice.
# same --subset DB1 DB2 [ACCOUNT]: every row of DB1 is one of DB2's.
cat >"$T/same.py" <<'EOF'
import sqlite3, sys
def rows(path, acct):
    c = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=10)
    out = {}
    for r in c.execute(
            "SELECT e.id, a.address, ea.provider_id, e.message_id, e.subject, e.date,"
            " e.snippet, e.has_attachments, e.direction, e.bulk, e.thread_id, e.source"
            " FROM emails e JOIN email_accounts ea ON ea.email_id = e.id"
            " JOIN accounts a ON a.id = ea.account_id"
            " WHERE ?1 = '' OR a.address = ?1", (acct,)):
        who = c.execute(
            "SELECT x.role, x.pos, d.email, x.name FROM email_addrs x"
            " JOIN addresses d ON d.id = x.address_id WHERE x.email_id = ?"
            " ORDER BY x.role, x.pos", (r[0],)).fetchall()
        if (r[1], r[2]) in out:
            sys.exit("# %s: %s linked twice" % (path, r[2]))
        out[(r[1], r[2])] = tuple(r[3:]) + (tuple(who),)
    return out
subset = sys.argv[1] == "--subset"
if subset:
    del sys.argv[1]
a = rows(sys.argv[1], sys.argv[3] if len(sys.argv) > 3 else "")
b = rows(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "")
# --subset: every row of the first is the second's (some left out)
diff = sorted(k for k in (set(a) if subset else set(a) | set(b)) if a.get(k) != b.get(k))
for k in diff[:5]:
    print("# %s %s:\n#   %s\n#   %s" % (k[0], k[1], a.get(k), b.get(k)))
print("# %d and %d rows, %d differ" % (len(a), len(b), len(diff)))
sys.exit(0 if a and not diff else 1)
EOF
same() { python3 "$T/same.py" "$@"; }

# newdb NAME FETCH ACCOUNT...: a database of its own with the apps, the
# setting gmail.fetch (or none for the default) and the accounts.
newdb() {
	export MAILSYNC_DB="$T/$1/mailsync.db"
	local fetch=$2 who
	shift 2
	setup_apps
	# The emulator's quotas are off: the client's pacing would only
	# slow the test.
	mailsync-config -q set quota.gmail_units_per_minute 1000000
	[ "$fetch" = default ] || mailsync-config -q set gmail.fetch "$fetch"
	for who in "$@"; do
		connect_browser -p gmail --login-hint "$who" --member "${who%%@*}" --timeout 30
		[ "$rc" -eq 0 ] || { echo "Bail out! connecting $who to $MAILSYNC_DB failed"; cat "$T/err"; exit 1; }
	done
}
use() { export MAILSYNC_DB="$T/$1/mailsync.db"; }

# The setting.
newdb auto default $G $A
run mailsync-config get gmail.fetch
expect_out "gmail.fetch is auto by default" <<<auto
run mailsync-config set gmail.fetch sideways
expect_rc "gmail.fetch sideways is refused" 65
grep_err "the message names the three ways" 'gmail.fetch: "sideways" is not auto, messages or threads'
run mailsync-config set gmail.fetch THREADS
run mailsync-config get gmail.fetch
expect_out "gmail.fetch THREADS is stored as threads" <<<threads
mailsync-config -q unset gmail.fetch

# A thread of the generated mailbox's owner with a message in the inbox,
# one in spam, one in the trash, a draft and a sent reply: only the inbox
# and sent ones are mail to sync, whichever way they are fetched.
mixed=$(emu POST "/_emu/mailboxes/$G/messages" '{"messages": [
 {"message_id": "<mixed.in@acme.example>", "date": "2026-11-18T08:00:00Z", "from": "\"Doe, Jane\" <jane@acme.example>", "to": "gmail1@firm.example", "subject": "Thread of five", "body": "The first.", "thread": "mixed", "labels": ["INBOX"]},
 {"message_id": "<mixed.spam@bulk.example>", "date": "2026-11-18T09:00:00Z", "from": "spam@bulk.example", "to": "gmail1@firm.example", "subject": "Re: Thread of five", "body": "Spam.", "thread": "mixed", "labels": ["SPAM"]},
 {"message_id": "<mixed.trash@acme.example>", "date": "2026-11-18T10:00:00Z", "from": "jane@acme.example", "to": "gmail1@firm.example", "subject": "Re: Thread of five", "body": "Trashed.", "thread": "mixed", "labels": ["TRASH"]},
 {"message_id": "<mixed.draft@firm.example>", "date": "2026-11-18T11:00:00Z", "from": "gmail1@firm.example", "to": "jane@acme.example", "subject": "Re: Thread of five", "body": "Not yet.", "thread": "mixed", "labels": ["DRAFT"]},
 {"message_id": "<mixed.out@firm.example>", "date": "2026-11-18T12:00:00Z", "from": "Gmail User 1 <gmail1@firm.example>", "to": "jane@acme.example", "subject": "Re: Thread of five", "body": "Sent.", "thread": "mixed", "attachments": true, "labels": ["SENT"]}]}' |
    python3 -c 'import json, sys; a = json.load(sys.stdin)["added"]; assert len({x["threadId"] for x in a}) == 1; print(a[0]["threadId"])') ||
    { echo "Bail out! the mixed thread"; exit 1; }

# 1. A first sync in auto: by thread for the threaded mailbox, message by
# message for alice's.
clearlog
run mailsync-pull --json
expect_rc "auto: the first sync" 0
cp "$T/out" "$T/auto.json"
savelog auto
lg auto "auto, threaded mailbox: threads.list and threads.get, no messages.get" \
	'len(by("threads.list", "'$G'")) >= 3 and len(by("threads.get", "'$G'")) > 1000 and not by("messages.get", "'$G'") and all(q(e, "q") == "has:attachment" for e in by("messages.list", "'$G'"))'
lg auto "auto, threaded mailbox: threads.list pages of 500, threads.get in metadata format with the 9 headers, at most 25 to a batch" \
	'all(q(e, "maxResults") == "500" for e in by("threads.list", "'$G'")) and all(q(e, "format") == "metadata" and len(q(e, "metadataHeaders", [])) == 9 for e in by("threads.get", "'$G'")) and all(e.get("parts", 0) <= 25 for e in L if e["path"] == "/batch/gmail/v1" and e.get("mailbox") == "'$G'")'
lg auto "auto, single-message threads (alice): messages.get only, no threads request" \
	'by("messages.get", "'$A'") and not by("threads.get", "'$A'") and not by("threads.list", "'$A'")'
new_g=$(python3 -c 'import json, sys; print([r for r in map(json.loads, open(sys.argv[1])) if r["account"] == sys.argv[2]][0]["new"])' "$T/out" $G)
lg auto "auto: at most 3.6 quota units per message stored by thread ($new_g stored)" \
	"units('$G') <= 3.6 * $new_g"
check "auto: each account is linked to exactly the emails its mailbox holds" pc links
check "auto: the thread's inbox and sent messages are stored" \
	test "$(q "SELECT count(*) FROM emails WHERE message_id IN ('<mixed.in@acme.example>', '<mixed.out@firm.example>')")" = 2
check "auto: its spam, trash and draft are not" \
	test "$(q "SELECT count(*) FROM emails WHERE message_id IN ('<mixed.spam@bulk.example>', '<mixed.trash@acme.example>', '<mixed.draft@firm.example>')")" = 0
lg auto "auto: that thread came in one threads.get" \
	'len([e for e in by("threads.get", "'$G'") if e["path"].endswith("/'$mixed'")]) == 1'
check "auto: the sync by thread is finished: a historyId, no page, no way left in the cursor" \
	test "$(q "SELECT count(*) FROM sync_state WHERE json_extract(cursor, '$.historyId') IS NOT NULL AND json_extract(cursor, '$.pageToken') IS NULL AND json_extract(cursor, '$.fetch') IS NULL")" = 2

# 2. The same mailboxes message by message.
newdb messages messages $G $A
clearlog
run mailsync-pull --json
expect_rc "messages: the first sync" 0
cp "$T/out" "$T/messages.json"
savelog messages
lg messages "gmail.fetch messages: no threads request" \
	'not [e for e in L if e.get("op", "").startswith("threads.")] and len(by("messages.get", "'$G'")) > 3000'
lg messages "message by message costs 5 quota units per message or more" \
	"units('$G') >= 5 * $new_g"
check "the same rows both ways, field by field" same "$T/auto/mailsync.db" "$T/messages/mailsync.db"
check "as many new emails both ways" \
	python3 -c 'import json, sys; a, b = ([sorted((r["account"], r["new"]) for r in map(json.loads, open(f))) for f in sys.argv[1:]]); sys.exit(a != b)' "$T/auto.json" "$T/messages.json"

# gmail.fetch threads, even where threads are single: the same rows.
newdb forced threads $A
clearlog
run mailsync-pull
expect_rc "gmail.fetch threads: the first sync" 0
savelog forced
lg forced "gmail.fetch threads: by thread even for single-message threads" \
	'by("threads.get", "'$A'") and not by("messages.get", "'$A'")'
check "gmail.fetch threads: the same rows as message by message" \
	same "$T/forced/mailsync.db" "$T/messages/mailsync.db" $A

# 3. Killed during a sync by thread (kill -9), then run again: nothing
# lost, nothing doubled. Slow replies, one request at a time.
newdb kill default $G
q "INSERT OR REPLACE INTO settings VALUES ('quota.gmail_concurrency', '1')"
econf '{"latency_ms": 60}'
links() { q "SELECT count(*) FROM email_accounts"; }
# pull_kill POINT: a pull SIGKILLed after POINT seconds, or ("c") right
# after its first commit; 0 when the kill hit a running pull.
pull_kill() {
	local n0 p
	n0=$(links)
	mailsync-pull -q >/dev/null 2>>"$T/kill.err" &
	p=$!
	if [ "$1" = c ]; then
		for _ in $(seq 500); do
			kill -0 $p 2>/dev/null || break
			[ "$(links)" -gt "$n0" ] && break
			sleep 0.02
		done
	else
		sleep "$1"
	fi
	kill -9 $p 2>/dev/null
	local hit=$?
	wait $p 2>/dev/null
	echo "# killed at $1: $(links) links"
	return $hit
}
pull_kill c
check "killed after its first page: part of the mailbox is stored" \
	test "$(links)" -gt 0 -a "$(links)" -lt "$(pc count $G)"
check "the cursor says the sync goes by thread, and its next page" \
	test "$(q "SELECT json_extract(cursor, '$.fetch') || ' ' || (json_extract(cursor, '$.pageToken') IS NOT NULL) FROM sync_state")" = "threads 1"
clearlog
hits=0
for d in 0.2 c 0.5 c 0.3 c 1.0; do
	pull_kill $d && hits=$((hits + 1))
done
check "at least 3 kills hit a running pull ($hits)" test $hits -ge 3
econf '{"latency_ms": 0}'
run mailsync-pull --json
expect_rc "a run to the end after the kills" 0
savelog kill
lg kill "the runs after the first went on by thread from the cursor: no profile read again, no messages.get" \
	'not by("getProfile", "'$G'") and not by("messages.get", "'$G'") and any(q(e, "pageToken") for e in by("threads.list", "'$G'"))'
check "killed and resumed: the same rows as message by message, none twice" \
	same "$T/kill/mailsync.db" "$T/messages/mailsync.db" $G
check "killed and resumed: linked to exactly the emails the mailbox holds" \
	env ACCTS=$G python3 "$MS_SRC/tests/data/pull-check.py" links
check "killed and resumed: PRAGMA integrity_check" test "$(q "PRAGMA integrity_check")" = ok
check "the killed runs printed nothing" test -z "$(grep -v '^==[0-9]*==' "$T/kill.err")"
q "DELETE FROM settings WHERE key = 'quota.gmail_concurrency'"

# 4. --since: threads.list with after:, each message of a thread judged
# by its own date.
newdb since-t default $G
clearlog
run mailsync-pull --json --since 2026-01-01
expect_rc "--since by thread" 0
savelog since
newdb since-m messages $G
run mailsync-pull --json --since 2026-01-01
expect_rc "--since message by message" 0
use since-t
bound=$(date -u -d 2026-01-01 +%s)
lg since "--since: by thread, threads.list asked q=after:$bound" \
	'by("threads.get", "'$G'") and all(q(e, "q") == "after:'$bound'" for e in by("threads.list", "'$G'"))'
check "--since: the same rows both ways" same "$T/since-t/mailsync.db" "$T/since-m/mailsync.db"
check "--since: nothing older stored, all from that day on" \
	test "$(q "SELECT count(*) FROM emails WHERE date < $bound")/$(q "SELECT count(*) FROM emails")" = "0/$(pc since $G 2026-01-01)"
check "--since: some threads fetched held older messages, left out" python3 -c '
import json, sqlite3, sys, urllib.request
box = json.load(urllib.request.urlopen(sys.argv[1] + "/_emu/mailboxes/" + sys.argv[2] + "?limit=100000"))
old = {x["threadId"] for x in box["list"] if int(x["internalDate"]) // 1000 < int(sys.argv[4])}
got = {r[0] for r in sqlite3.connect(sys.argv[3]).execute("SELECT thread_id FROM emails")}
print("# %d threads stored with older messages" % len(old & got))
sys.exit(0 if old & got else 1)' "$EMU" $G "$T/since-t/mailsync.db" "$bound"

# 5. Incremental: three new messages of a thread the account has, two of
# a new thread, one alone: one threads.get for the three (only they
# stored, not the thread's older ones again), messages.get for the others.
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
emu POST "/_emu/mailboxes/$G/messages" '{"messages": [
 {"message_id": "<inc.1@acme.example>", "date": "'$now'", "from": "jane@acme.example", "to": "gmail1@firm.example", "subject": "Re: Thread of five", "body": "One.", "threadId": "'$mixed'", "labels": ["INBOX"]},
 {"message_id": "<inc.2@firm.example>", "date": "'$now'", "from": "gmail1@firm.example", "to": "jane@acme.example", "subject": "Re: Thread of five", "body": "Two.", "threadId": "'$mixed'", "labels": ["SENT"]},
 {"message_id": "<inc.3@acme.example>", "date": "'$now'", "from": "ops@acme.example", "to": "gmail1@firm.example", "subject": "Re: Thread of five", "body": "Three.", "threadId": "'$mixed'", "attachments": true, "labels": ["INBOX", "UNREAD"]},
 {"message_id": "<inc.4@globex.example>", "date": "'$now'", "from": "finance@globex.example", "to": "gmail1@firm.example", "subject": "Two of a new thread", "body": "Four.", "thread": "inc.two", "labels": ["INBOX"]},
 {"message_id": "<inc.5@globex.example>", "date": "'$now'", "from": "finance@globex.example", "to": "gmail1@firm.example", "subject": "Re: Two of a new thread", "body": "Five.", "thread": "inc.two", "labels": ["INBOX"]},
 {"message_id": "<inc.6@acme.example>", "date": "'$now'", "from": "jane@acme.example", "to": "gmail1@firm.example", "subject": "Alone", "body": "Six.", "labels": ["INBOX"]}]}' >/dev/null ||
    { echo "Bail out! the incremental messages"; exit 1; }
use auto
clearlog
run mailsync-pull --json -a $G
expect_rc "incremental" 0
savelog inc
check "incremental: 6 fetched, 6 new" pc json "$T/out" 'J["'$G'"]["fetched"] == 6 and J["'$G'"]["new"] == 6'
lg inc "incremental: history, then one threads.get for the thread's three and messages.get for the other three" \
	'len(by("history.list", "'$G'")) == 1 and [e["path"].rsplit("/", 1)[1] for e in by("threads.get", "'$G'")] == ["'$mixed'"] and len(by("messages.get", "'$G'")) == 3 and not by("threads.list", "'$G'") and not by("getProfile", "'$G'")'
use messages
run mailsync-pull --json -a $G
expect_rc "incremental message by message" 0
check "incremental: the same rows both ways" same "$T/auto/mailsync.db" "$T/messages/mailsync.db"
use auto
check "incremental: linked to exactly the emails the mailboxes hold" pc links
clearlog
run mailsync-pull --json
expect_rc "an idle run" 0
savelog idle
lg idle "an idle run: one history.list per account, nothing else" \
	'len([e for e in L if "batch" not in e and e.get("op")]) == 2 and len(by("history.list", "'$G'")) == 1 and len(by("history.list", "'$A'")) == 1'

# 6. A full sync again of an account that has its messages: message by
# message, where the stored ones cost only their listing (what it
# fetches are the drafts and chats it lists and leaves out).
clearlog
run mailsync-pull --json --full -a $G
expect_rc "--full on a synced account" 0
savelog full
cp "$T/out" "$T/full.json"
check "--full: nothing new" pc json "$T/out" 'J["'$G'"]["new"] == 0'
fetched=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["fetched"])' "$T/full.json")
lg full "--full: auto lists messages, gets only the $fetched it does not have, no threads.get" \
	'by("messages.list", "'$G'") and not by("threads.get", "'$G'") and len(by("messages.get", "'$G'")) == '$fetched' < 200'

# 7. Thread replies that fail or are not what was asked: a refusal for
# rate is asked again; a thread that is not one, or a message of it
# without a usable id, is left out with a warning, the rest stored.
newdb rate threads $A
fault '{"kind": "status", "status": 429, "prefix": "/gmail/v1/users/me/threads/", "count": 3}'
clearlog
run mailsync-pull --json
expect_rc "threads.get parts refused for rate" 0
savelog rate
lg rate "the refused threads.get parts were asked again" \
	'len([e for e in L if e["path"].startswith("/gmail/v1/users/me/threads/") and e["status"] == 429]) == 3 and {e["path"] for e in by("threads.get", "'$A'") if e["status"] == 200} == {e["path"] for e in L if e["path"].startswith("/gmail/v1/users/me/threads/")}'
check "refused for rate, asked again: the same rows as message by message" \
	same "$T/rate/mailsync.db" "$T/messages/mailsync.db" $A
emu DELETE /_emu/faults >/dev/null
newdb odd threads $A
fault '[{"kind": "json", "prefix": "/gmail/v1/users/me/threads/", "count": 1, "set": {"messages.0.id": "../../x y"}},
 {"kind": "json", "prefix": "/gmail/v1/users/me/threads/", "count": 1, "set": {"id": "ffffffffffffffff"}},
 {"kind": "json", "prefix": "/gmail/v1/users/me/threads/", "count": 1, "set": {"messages": {"id": "x"}}},
 {"kind": "raw", "prefix": "/gmail/v1/users/me/threads/", "count": 1, "body": "{\"id\": "}]'
run mailsync-pull --json
expect_rc "odd thread replies: the account still syncs" 0
emu DELETE /_emu/faults >/dev/null
grep_err "one warning says what was left out" "$A: message .* left out"
check "odd thread replies: the threads and the message left out, the others stored" \
	test "$(MAILSYNC_DB=$T/odd/mailsync.db q "SELECT count(*) FROM emails")" -ge 7 -a \
	"$(MAILSYNC_DB=$T/odd/mailsync.db q "SELECT count(*) FROM emails")" -lt "$(MAILSYNC_DB=$T/messages/mailsync.db q "SELECT count(*) FROM email_accounts ea JOIN accounts a ON a.id = ea.account_id WHERE a.address = '$A'")"
check "odd thread replies: what is stored is what message by message stores" \
	same --subset "$T/odd/mailsync.db" "$T/messages/mailsync.db" $A

done_testing

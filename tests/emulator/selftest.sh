#!/usr/bin/env bash
# selftest.sh: exercise every flow of msemu.py and assert on the answers.
# Needs bash, curl and python3.  Prints TAP.  Talks only to 127.0.0.1.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
EMU="$HERE/msemu.py"
DATA="$HERE/sample.json"
W=$(mktemp -d "${TMPDIR:-/tmp}/msemu-selftest.XXXXXX")
PID=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
nok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
# t DESCRIPTION PYTHON-EXPR: evaluated with d = JSON of $W/out, s = raw text,
# h = response headers text, c = HTTP status.
t() {
	_d=$1
	shift
	if python3 - "$W" "$1" <<'EOF'; then ok "$_d"; else nok "$_d"; fi
import json, sys, re
w, expr = sys.argv[1], sys.argv[2]
s = open(w + "/out", encoding="utf-8", errors="replace").read()
h = open(w + "/hdr", encoding="latin-1").read() if __import__("os").path.exists(w + "/hdr") else ""
c = int(open(w + "/code").read() or 0)
try:
    d = json.loads(s)
except Exception:
    d = None
try:
    r = eval(expr)
except Exception as e:
    print("# eval error: %r" % e)
    r = False
if not r:
    print("# status %s body: %s" % (c, s[:600].replace("\n", "\n# ")))
sys.exit(0 if r else 1)
EOF
}
# get VAR PYTHON-EXPR: extract a value from $W/out into VAR
get() {
	eval "$1=\$(python3 -c 'import json,sys;d=json.load(open(sys.argv[1]));print(eval(sys.argv[2]))' \"\$W/out\" \"\$2\")"
}
# r ARGS...: curl, body -> $W/out, headers -> $W/hdr, status -> $W/code
r() {
	curl -s -S -o "$W/out" -D "$W/hdr" -w '%{http_code}' "$@" >"$W/code" 2>"$W/curlerr"
	rc=$?
	return 0
}
ctl() { # ctl METHOD PATH [JSON]
	if [ $# -ge 3 ]; then
		r -X "$1" -H 'Content-Type: application/json' --data-binary "$3" "$B$2"
	else
		r -X "$1" "$B$2"
	fi
}
pkce() { # sets V (verifier) and CH (challenge)
	V=$(python3 -c 'import secrets;print(secrets.token_urlsafe(48))')
	CH=$(python3 -c 'import hashlib,base64,sys;print(base64.urlsafe_b64encode(hashlib.sha256(sys.argv[1].encode()).digest()).decode().rstrip("="))' "$V")
}
qparam() { # qparam URL NAME
	python3 -c 'import urllib.parse,sys;print(urllib.parse.parse_qs(urllib.parse.urlsplit(sys.argv[1]).query).get(sys.argv[2],[""])[0])' "$1" "$2"
}

python3 "$EMU" --data "$DATA" --port 0 --port-file "$W/port" --log "$W/log.jsonl" \
	--idle-timeout 300 >"$W/emu.out" 2>&1 &
PID=$!
for _ in $(seq 100); do [ -s "$W/port" ] && break; sleep 0.1; done
PORT=$(cat "$W/port" 2>/dev/null)
if [ -z "$PORT" ]; then
	echo "Bail out! emulator did not start"; cat "$W/emu.out"; exit 1
fi
B=http://127.0.0.1:$PORT

r "$B/_emu/health"
t "emulator answers health" 'c == 200 and d["ok"]'
r "$B/_emu/quotas"
t "Gmail quota default: 6,000 units per user per minute; concurrency 10" 'd["gmail_units_per_minute"] == 6000 and d["gmail_concurrency"] == 10 and not d["quotas"]'

# ------------------------------------------------------------------ Google OAuth
GCID=1023847561234-emusync.apps.googleusercontent.com
GSEC=GOCSPX-emulated-desktop-secret
RU=http://127.0.0.1:47123
META=https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fgmail.metadata
RO=https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fgmail.readonly
gauth() { # gauth SCOPE HINT -> LOC, CODE
	pkce
	LOC=$(curl -s -o /dev/null -w '%{redirect_url}' "$B/o/oauth2/v2/auth?client_id=$GCID&redirect_uri=$RU&response_type=code&scope=$1&code_challenge=$CH&code_challenge_method=S256&state=st8&access_type=offline&prompt=consent&login_hint=$2")
	CODE=$(qparam "$LOC" code)
}
gtoken() { # gtoken -> AT RT (after gauth)
	r "$B/token" -d "code=$CODE" -d "client_id=$GCID" -d "client_secret=$GSEC" \
		-d "redirect_uri=$RU" -d grant_type=authorization_code -d "code_verifier=$V"
}
gauth "$META" alice@firm.example
case $LOC in "$RU/?"*) ok "google authorize redirects to the loopback URI";; *) nok "google authorize redirect: $LOC";; esac
[ "$(qparam "$LOC" state)" = st8 ] && [ -n "$CODE" ] && ok "redirect carries code and state" || nok "code/state missing"
[ "$(qparam "$LOC" scope)" = https://www.googleapis.com/auth/gmail.metadata ] && ok "redirect carries granted scope" || nok "scope in redirect"
r "$B/token" -d "code=$CODE" -d "client_id=$GCID" -d "redirect_uri=$RU" -d grant_type=authorization_code -d "code_verifier=$V"
t "token without client_secret: client_secret is missing" 'c == 400 and d["error"] == "invalid_request" and "client_secret is missing" in d["error_description"]'
r "$B/token" -d "code=$CODE" -d "client_id=$GCID" -d "client_secret=$GSEC" -d "redirect_uri=http://127.0.0.1:1/" -d grant_type=authorization_code -d "code_verifier=$V"
t "token with another redirect_uri: redirect_uri_mismatch" 'c == 400 and d["error"] == "redirect_uri_mismatch"'
r "$B/token" -d "code=$CODE" -d "client_id=$GCID" -d "client_secret=$GSEC" -d "redirect_uri=$RU" -d grant_type=authorization_code -d "code_verifier=${V}x"
t "token with a wrong PKCE verifier: invalid_grant" 'c == 400 and d["error"] == "invalid_grant"'
gtoken
t "token exchange returns access, refresh, scope, expires_in" 'c == 200 and d["access_token"] and d["refresh_token"] and d["scope"] == "https://www.googleapis.com/auth/gmail.metadata" and d["token_type"] == "Bearer" and d["expires_in"] == 3600'
get AT 'd["access_token"]'
get RT 'd["refresh_token"]'
gtoken
t "an authorization code is single use" 'c == 400 and d["error"] == "invalid_grant"'
r "$B/token" -d "client_id=$GCID" -d "client_secret=wrong" -d grant_type=refresh_token -d "refresh_token=$RT"
t "wrong client_secret: invalid_client 401" 'c == 401 and d["error"] == "invalid_client"'
H="Authorization: Bearer $AT"

# ------------------------------------------------------------------ Gmail API
G=$B/gmail/v1/users/me
r -H "$H" "$G/profile"
t "profile: emailAddress, totals, historyId as a string" 'c == 200 and d["emailAddress"] == "alice@firm.example" and isinstance(d["historyId"], str) and d["messagesTotal"] > 10'
get HID0 'd["historyId"]'
r "$G/profile"
t "no token: 401 UNAUTHENTICATED" 'c == 401 and d["error"]["status"] == "UNAUTHENTICATED"'
r -H "Authorization: Bearer ya29.bogus" "$G/profile"
t "unknown token: 401 with Google error body" 'c == 401 and d["error"]["code"] == 401 and d["error"]["errors"][0]["reason"] == "authError" and "invalid authentication credentials" in d["error"]["message"]'
ids=""
tok=""
pages=0
total=-1
for _ in $(seq 20); do
	r -H "$H" "$G/messages?maxResults=4${tok:+&pageToken=$tok}"
	pages=$((pages + 1))
	get more '" ".join(m["id"] for m in d.get("messages", []))'
	ids="$ids $more"
	get total 'd["resultSizeEstimate"]'
	get tok 'd.get("nextPageToken", "")'
	[ -z "$tok" ] && break
done
cnt=$(echo $ids | wc -w)
[ "$pages" -ge 3 ] && [ "$cnt" -eq "$total" ] && ok "list pages with nextPageToken ($pages pages, $cnt ids)" || nok "list paging: pages=$pages cnt=$cnt total=$total"
r -H "$H" "$G/messages?maxResults=500"
t "list excludes SPAM/TRASH by default, includes DRAFT" 'len(d["messages"]) == d["resultSizeEstimate"] == 14'
r -H "$H" "$G/messages?maxResults=500&includeSpamTrash=true"
t "includeSpamTrash=true adds the trashed message" 'd["resultSizeEstimate"] == 15'
r -H "$H" "$G/messages?labelIds=INBOX&labelIds=UNREAD"
t "repeated labelIds mean AND" 'c == 200 and d["resultSizeEstimate"] == 4'
r -H "$H" "$G/messages?q=has:attachment"
t "metadata scope: q refused with 403" 'c == 403 and d["error"]["errors"][0]["reason"] == "forbidden" and "q" in d["error"]["message"]'
r -H "$H" "$G/messages?labelIds=INBOX&maxResults=500"
get ALLIDS '" ".join(m["id"] for m in d["messages"])'
# find the RFC 2047 message and the Message-Id one
MID_2047=
for id in $ALLIDS; do
	r -H "$H" "$G/messages/$id?format=metadata&metadataHeaders=Subject&metadataHeaders=From&metadataHeaders=Message-ID"
	if grep -q 'UTF-8?B?TGllZmVydW5n' "$W/out"; then MID_2047=$id; break; fi
done
[ -n "$MID_2047" ] && ok "an RFC 2047 subject arrives raw (undecoded)" || nok "RFC 2047 subject not found raw"
t "metadata: only requested headers, no parts, no body" 'set(x["name"] for x in d["payload"]["headers"]) == {"Subject", "From", "Message-Id"} and "parts" not in d["payload"] and "body" not in d["payload"] and d["payload"]["mimeType"].startswith("multipart/")'
t "metadata: header name keeps its case (Message-Id)" 'any(x["name"] == "Message-Id" for x in d["payload"]["headers"])'
t "message carries id, threadId, labelIds, snippet, historyId, internalDate strings, sizeEstimate" 'all(k in d for k in ("id","threadId","labelIds","snippet","historyId","internalDate","sizeEstimate")) and isinstance(d["internalDate"], str) and d["internalDate"].isdigit()'
r -H "$H" "$G/messages/$MID_2047?format=full"
t "metadata scope: format=full refused with 403" 'c == 403 and "FULL" in d["error"]["message"]'
r -H "$H" "$G/messages/$MID_2047?format=raw"
t "metadata scope: format=raw refused with 403" 'c == 403'
r -H "$H" "$G/messages/$MID_2047?format=minimal"
t "format=minimal: no payload" 'c == 200 and "payload" not in d and d["labelIds"]'
r -H "$H" "$G/messages/ffffffffffffffff?format=metadata"
t "unknown message id: 404 notFound" 'c == 404 and d["error"]["errors"][0]["reason"] == "notFound"'
r -H "$H" "$G/settings/sendAs"
t "settings/sendAs lists the aliases" 'c == 200 and d["sendAs"][0]["isPrimary"] and len(d["sendAs"]) == 2'
# group / undisclosed / List-Unsubscribe somewhere in alice's mailbox
found=""
for id in $ALLIDS; do
	r -H "$H" "$G/messages/$id?format=metadata&metadataHeaders=To&metadataHeaders=List-Unsubscribe"
	grep -q 'undisclosed-recipients:;' "$W/out" && found="$found U"
	grep -q 'List-Unsubscribe' "$W/out" && found="$found L"
	grep -q 'Firm team: alice@firm.example' "$W/out" && found="$found G"
done
case "$found" in *U*) case "$found" in *L*) case "$found" in *G*) ok "raw address groups, undisclosed-recipients and List-Unsubscribe present";; *) nok "group To missing";; esac;; *) nok "List-Unsubscribe missing";; esac;; *) nok "undisclosed missing: $found";; esac

# readonly token, both-scope token, untick
gauth "$RO" alice@firm.example; gtoken
get ATRO 'd["access_token"]'
r -H "Authorization: Bearer $ATRO" "$G/messages?q=has:attachment%20after:2026/10/10&maxResults=500"
t "readonly scope: q=has:attachment after:YYYY/MM/DD works" 'c == 200 and d["resultSizeEstimate"] == 3'
r -H "Authorization: Bearer $ATRO" "$G/messages?q=before:1792000000"
t "q before:EPOCH works" 'c == 200 and d["resultSizeEstimate"] >= 1'
r -H "Authorization: Bearer $ATRO" "$G/messages/$MID_2047?format=full"
t "readonly scope: format=full is served (and logged)" 'c == 200 and d["payload"]["parts"][0]["body"]["data"]'
gauth "$META%20$RO" alice@firm.example; gtoken
get ATBOTH 'd["access_token"]'
r -H "Authorization: Bearer $ATBOTH" "$G/messages?q=has:attachment"
t "metadata+readonly token still rejects q (Google quirk)" 'c == 403'
ctl POST /_emu/mailboxes/alice@firm.example/consent '{"untick":["https://www.googleapis.com/auth/gmail.readonly"]}'
gauth "$META%20$RO" alice@firm.example; gtoken
t "an unticked scope is missing from the granted scope" 'c == 200 and d["scope"] == "https://www.googleapis.com/auth/gmail.metadata"'
ctl POST /_emu/mailboxes/alice@firm.example/consent '{"untick":[]}'
ctl POST /_emu/authorize/deny '{"provider":"google","count":1}'
gauth "$META" alice@firm.example
[ "$(qparam "$LOC" error)" = access_denied ] && [ "$(qparam "$LOC" state)" = st8 ] && ok "a denied authorization redirects with error=access_denied" || nok "deny: $LOC"

# threads: threads.list and threads.get in metadata format
r -H "$H" "$G/messages?maxResults=500"
get NTHREADS 'len({m["threadId"] for m in d["messages"]})'
get TWO '[t for t in {m["threadId"] for m in d["messages"]} if sum(m["threadId"] == t for m in d["messages"]) == 2][0]'
r -H "$H" "$G/threads?maxResults=500"
t "threads.list: {id, snippet, historyId} per thread, no messages, one per thread of the listed messages" 'c == 200 and len(d["threads"]) == d["resultSizeEstimate"] == '"$NTHREADS"' and all(set(x) == {"id", "snippet", "historyId"} and isinstance(x["historyId"], str) for x in d["threads"])'
tids=""
tok=""
for _ in $(seq 20); do
	r -H "$H" "$G/threads?maxResults=4${tok:+&pageToken=$tok}"
	get more '" ".join(x["id"] for x in d.get("threads", []))'
	tids="$tids $more"
	get tok 'd.get("nextPageToken", "")'
	[ -z "$tok" ] && break
done
[ "$(echo $tids | wc -w)" -eq "$NTHREADS" ] && [ "$(echo $tids | tr ' ' '\n' | sort -u | grep -c .)" -eq "$NTHREADS" ] && ok "threads.list pages with nextPageToken, each thread once" || nok "threads.list paging: $tids"
r -H "$H" "$G/threads?maxResults=500&includeSpamTrash=true"
t "threads.list includeSpamTrash=true adds the trashed thread" 'd["resultSizeEstimate"] == '"$NTHREADS"' + 1'
r -H "$H" "$G/threads?q=has:attachment"
t "metadata scope: threads.list q refused with 403" 'c == 403 and d["error"]["errors"][0]["reason"] == "forbidden"'
r -H "$H" "$G/threads/$TWO?format=metadata&metadataHeaders=Subject&metadataHeaders=Message-ID"
cp "$W/out" "$W/thread"
t "threads.get: id, snippet, historyId and its messages oldest first, only the headers asked" 'c == 200 and d["id"] == "'"$TWO"'" and isinstance(d["historyId"], str) and "snippet" in d and len(d["messages"]) == 2 and int(d["messages"][0]["internalDate"]) <= int(d["messages"][1]["internalDate"]) and all(m["threadId"] == d["id"] and {x["name"].lower() for x in m["payload"]["headers"]} <= {"subject", "message-id"} for m in d["messages"]) and d["historyId"] == max((m["historyId"] for m in d["messages"]), key=int)'
get M2 'd["messages"][1]["id"]'
r -H "$H" "$G/messages/$M2?format=metadata&metadataHeaders=Subject&metadataHeaders=Message-ID"
t "threads.get: each message as messages.get gives it" 'd == json.load(open("'"$W"'/thread"))["messages"][1]'
r -H "$H" "$G/threads/$TWO?format=full"
t "metadata scope: threads.get format=full refused with 403" 'c == 403'
r -H "$H" "$G/threads/$TWO?format=raw"
t "threads.get has no raw format: 400" 'c == 400'
r -H "$H" "$G/threads/ffffffffffffffff?format=metadata"
t "unknown thread id: 404 notFound" 'c == 404 and d["error"]["errors"][0]["reason"] == "notFound"'
r "$B/_emu/log?prefix=/gmail/v1/users/me/threads"
t "log: threads.list and threads.get, 10 units each" 'any(e["op"] == "threads.list" for e in d["entries"]) and any(e["op"] == "threads.get" for e in d["entries"]) and all(e["units"] == 10 for e in d["entries"] if e["status"] == 200)'

# history
r -H "$H" "$G/history?startHistoryId=$HID0&historyTypes=messageAdded"
t "history with the current historyId: no history, historyId set" 'c == 200 and "history" not in d and d["historyId"] == "'"$HID0"'"'
ctl POST /_emu/mailboxes/alice@firm.example/messages '{"messages":[{"from":"\"Doe, Jane\" <jane@acme.example>","subject":"New request","body":"Hello again","attachments":true,"labels":["INBOX","UNREAD"]},{"from":"ops@acme.example","subject":"Second","body":"x"}]}'
t "control: messages added with ids" 'c == 200 and len(d["added"]) == 2'
get NEWID 'd["added"][0]["id"]'
r -H "$H" "$G/history?startHistoryId=$HID0&historyTypes=messageAdded"
t "history lists messagesAdded with labelIds" 'c == 200 and len(d["history"]) == 2 and d["history"][0]["messagesAdded"][0]["message"]["labelIds"] == ["INBOX","UNREAD"] and int(d["historyId"]) > '"$HID0"
r -H "$H" "$G/history?startHistoryId=$HID0&maxResults=1"
t "history pages with nextPageToken" 'len(d["history"]) == 1 and d.get("nextPageToken")'
ctl POST /_emu/mailboxes/alice@firm.example/delete "{\"id\":\"$NEWID\"}"
r -H "$H" "$G/history?startHistoryId=$HID0"
t "history lists messagesDeleted" 'any("messagesDeleted" in x for x in d["history"])'
r -H "$H" "$G/messages/$NEWID?format=metadata"
t "deleted message: 404" 'c == 404'
ctl POST /_emu/faults '{"kind":"history404","prefix":"/gmail/v1/users/me/history","count":1}'
r -H "$H" "$G/history?startHistoryId=$HID0"
t "fault history404: 404 notFound" 'c == 404 and d["error"]["errors"][0]["reason"] == "notFound"'
r -H "$H" "$G/history?startHistoryId=$HID0"
t "fault consumed: history works again" 'c == 200'
ctl POST /_emu/mailboxes/alice@firm.example/expire '{"what":"history"}'
r -H "$H" "$G/history?startHistoryId=$HID0"
t "startHistoryId older than the retained window: 404" 'c == 404'

# batch
BB=batch_foo_bar
{
	printf -- "--%s\r\nContent-Type: application/http\r\nContent-ID: <item1>\r\n\r\nGET /gmail/v1/users/me/messages/%s?format=metadata&metadataHeaders=Subject\r\n\r\n" $BB "$MID_2047"
	printf -- "--%s\r\nContent-Type: application/http\r\nContent-ID: <item2>\r\n\r\nGET /gmail/v1/users/me/messages/ffffffffffffffff?format=metadata\r\n\r\n" $BB
	printf -- "--%s\r\nContent-Type: application/http\r\nContent-ID: <item3>\r\n\r\nGET /gmail/v1/users/me/profile HTTP/1.1\r\n\r\n" $BB
	printf -- "--%s--\r\n" $BB
} >"$W/batch"
r -H "$H" -H "Content-Type: multipart/mixed; boundary=$BB" --data-binary @"$W/batch" "$B/batch/gmail/v1"
t "batch answers multipart/mixed with its own boundary" 'c == 200 and re.search(r"(?im)^content-type: multipart/mixed; boundary=", h)'
t "batch parts in order with Content-ID <response-...> and own status lines" '[m for m in re.findall(r"Content-ID: <response-(\w+)>", s)] == ["item1","item2","item3"] and [int(x) for x in re.findall(r"HTTP/1.1 (\d+)", s)] == [200,404,200]'
python3 - "$W" >"$W/many" <<'EOF'
import sys
for i in range(101):
    sys.stdout.write("--b\r\nContent-Type: application/http\r\n\r\nGET /gmail/v1/users/me/profile\r\n\r\n")
sys.stdout.write("--b--\r\n")
EOF
r -H "$H" -H "Content-Type: multipart/mixed; boundary=b" --data-binary @"$W/many" "$B/batch/gmail/v1"
t "batch of 101 parts refused" 'c == 400'

# refresh, revoke, expiry
r "$B/token" -d "client_id=$GCID" -d "client_secret=$GSEC" -d grant_type=refresh_token -d "refresh_token=$RT"
t "google refresh: new access token, no new refresh token" 'c == 200 and d["access_token"] and "refresh_token" not in d'
get AT2 'd["access_token"]'
r "$B/revoke" -d "token=$RT"
t "revoke: 200" 'c == 200'
r "$B/token" -d "client_id=$GCID" -d "client_secret=$GSEC" -d grant_type=refresh_token -d "refresh_token=$RT"
t "refresh after revoke: invalid_grant" 'c == 400 and d["error"] == "invalid_grant"'
r -H "Authorization: Bearer $AT2" "$G/profile"
t "access token of a revoked grant: 401" 'c == 401'
r "$B/revoke" -d "token=$RT"
t "revoking twice: 400 invalid_token" 'c == 400 and d["error"] == "invalid_token"'
ctl POST /_emu/config '{"token_lifetime":1}'
gauth "$META" bob@firm.example; gtoken
get ATB 'd["access_token"]'
t "token lifetime is configurable" 'd["expires_in"] == 1'
sleep 2
r -H "Authorization: Bearer $ATB" "$G/profile"
t "an expired access token: 401 UNAUTHENTICATED" 'c == 401 and d["error"]["status"] == "UNAUTHENTICATED"'
ctl POST /_emu/config '{"token_lifetime":3600}'
gauth "$META" bob@firm.example; gtoken
get ATB 'd["access_token"]'
HB="Authorization: Bearer $ATB"
r -H "$HB" "$G/profile"
t "login_hint picks the mailbox" 'd["emailAddress"] == "bob@firm.example"'

# ------------------------------------------------------------------ Microsoft identity
MPUB=4f6c3c1e-0b5e-4d59-9a43-6c1f3e2a7b10
MCONF=8a2d9e44-7c1b-4f0e-b6d3-2e5f9a1c0d77
MSEC='emu~confidential~secret.8Q'
MRU=http://localhost:47124/
MSCOPE='offline_access%20User.Read%20Mail.Read%20openid%20profile'
mauth() { # mauth TENANT CLIENT HINT
	pkce
	LOC=$(curl -s -o /dev/null -w '%{redirect_url}' "$B/$1/oauth2/v2.0/authorize?client_id=$2&response_type=code&redirect_uri=$MRU&response_mode=query&scope=$MSCOPE&state=ms1&code_challenge=$CH&code_challenge_method=S256&login_hint=$3")
	CODE=$(qparam "$LOC" code)
}
mauth common $MPUB carol@firm.example
[ -n "$CODE" ] && [ "$(qparam "$LOC" state)" = ms1 ] && ok "MS authorize (common) redirects with code and state" || nok "MS authorize: $LOC"
r "$B/common/oauth2/v2.0/token" -d "client_id=$MPUB" -d grant_type=authorization_code -d "code=$CODE" -d "redirect_uri=$MRU" -d "code_verifier=$V" -d "client_secret=nope"
t "public client sending a secret: AADSTS700025" 'c == 400 and d["error"] == "invalid_client" and d["error_codes"] == [700025] and d["trace_id"] and d["correlation_id"] and d["timestamp"]'
r "$B/common/oauth2/v2.0/token" -d "client_id=$MPUB" -d grant_type=authorization_code -d "code=$CODE" -d "redirect_uri=$MRU" -d "code_verifier=$V"
t "MS token: access, refresh, id_token, scope" 'c == 200 and d["refresh_token"] and d["id_token"].count(".") == 2 and "Mail.Read" in d["scope"].split() and d["token_type"] == "Bearer"'
get MAT 'd["access_token"]'
get MRT 'd["refresh_token"]'
r "$B/common/oauth2/v2.0/token" -d "client_id=$MPUB" -d grant_type=refresh_token -d "refresh_token=$MRT" -d "scope=offline_access%20Mail.Read"
t "MS refresh always returns a new refresh token" 'c == 200 and d["refresh_token"] and d["refresh_token"] != "'"$MRT"'"'
get MRT2 'd["refresh_token"]'
get MAT 'd["access_token"]'
r "$B/common/oauth2/v2.0/token" -d "client_id=$MPUB" -d grant_type=refresh_token -d "refresh_token=$MRT"
t "the rotated-out refresh token is refused (grace 0)" 'c == 400 and d["error"] == "invalid_grant"'
r "$B/_emu/grants"
t "control shows refreshes and rotations (no tokens)" 'any(g["refreshes"] == 1 and g["rotations"] == 1 for g in d["grants"]) and "'"$MRT2"'" not in s'
mauth organizations $MCONF carol@firm.example
r "$B/organizations/oauth2/v2.0/token" -d "client_id=$MCONF" -d grant_type=authorization_code -d "code=$CODE" -d "redirect_uri=$MRU" -d "code_verifier=$V"
t "confidential client without secret: AADSTS7000218" 'd["error"] == "invalid_client" and d["error_codes"] == [7000218]'
r "$B/organizations/oauth2/v2.0/token" -d "client_id=$MCONF" -d grant_type=authorization_code -d "code=$CODE" -d "redirect_uri=$MRU" -d "code_verifier=$V" --data-urlencode "client_secret=$MSEC"
t "confidential client with its secret gets tokens" 'c == 200 and d["access_token"]'
r "$B/common/oauth2/v2.0/token" -d "client_id=$MPUB" -d grant_type=authorization_code -d "code=$CODE" -d "redirect_uri=$MRU" -d "code_verifier=$V"
t "MS code reuse: invalid_grant AADSTS54005" 'c == 400 and d["error"] == "invalid_grant"'
mauth common $MPUB carol@firm.example
r "$B/common/oauth2/v2.0/token" -d "client_id=$MPUB" -d grant_type=authorization_code -d "code=$CODE" -d "redirect_uri=$MRU" -d "code_verifier=x${V}"
t "MS wrong PKCE verifier: AADSTS501481" 'c == 400 and d["error_codes"] == [501481]'
ctl POST /_emu/authorize/deny '{"provider":"microsoft"}'
mauth common $MPUB carol@firm.example
[ "$(qparam "$LOC" error)" = access_denied ] && ok "MS denied consent: error=access_denied&error_description" || nok "MS deny: $LOC"

# device code
ctl POST /_emu/config '{"device":{"pending":2,"slow_down":1,"interval":1,"outcome":"approve","mailbox":"dave@outlook.example"}}'
r "$B/consumers/oauth2/v2.0/devicecode" -d "client_id=$MPUB" -d "scope=offline_access%20Mail.Read%20User.Read"
t "devicecode: user_code, device_code, verification_uri, expires_in, interval, message" 'c == 200 and all(k in d for k in ("user_code","device_code","verification_uri","expires_in","interval","message")) and d["interval"] == 1'
get DC 'd["device_code"]'
seqs=""
for _ in $(seq 10); do
	r "$B/consumers/oauth2/v2.0/token" -d grant_type=urn:ietf:params:oauth:grant-type:device_code -d "client_id=$MPUB" -d "device_code=$DC"
	get e 'd.get("error", "tokens")'
	seqs="$seqs $e"
	[ "$e" = tokens ] && break
done
[ "$seqs" = " authorization_pending authorization_pending slow_down tokens" ] && ok "device polling: pending, pending, slow_down, tokens" || nok "device polling: $seqs"
get DAT 'd["access_token"]'
ctl POST /_emu/config '{"device":{"pending":0,"slow_down":0,"outcome":"declined"}}'
r "$B/consumers/oauth2/v2.0/devicecode" -d "client_id=$MPUB" -d "scope=Mail.Read"
get DC 'd["device_code"]'
r "$B/consumers/oauth2/v2.0/token" -d grant_type=urn:ietf:params:oauth:grant-type:device_code -d "client_id=$MPUB" -d "device_code=$DC"
t "device flow declined: authorization_declined" 'c == 400 and d["error"] == "authorization_declined"'
ctl POST /_emu/config '{"device":{"outcome":"expired"}}'
r "$B/consumers/oauth2/v2.0/devicecode" -d "client_id=$MPUB" -d "scope=Mail.Read"
get DC 'd["device_code"]'
r "$B/consumers/oauth2/v2.0/token" -d grant_type=urn:ietf:params:oauth:grant-type:device_code -d "client_id=$MPUB" -d "device_code=$DC"
t "device flow expired: expired_token" 'c == 400 and d["error"] == "expired_token"'

# ------------------------------------------------------------------ Graph
MH="Authorization: Bearer $MAT"
GR=$B/v1.0
r -H "$MH" "$GR/me"
t "/me: id, displayName, mail, userPrincipalName" 'c == 200 and d["mail"] == "carol@firm.example" and d["userPrincipalName"] == "carol@firm.example" and d["id"]'
r -H "Authorization: Bearer $DAT" "$GR/me"
t "/me of a personal account: mail is null" 'c == 200 and d["mail"] is None and d["userPrincipalName"] == "dave@outlook.example"'
r -H "$MH" "$GR/me/mailFolders"
t "mailFolders lists the standard folders" 'c == 200 and {"Inbox","Sent Items","Drafts","Deleted Items","Junk Email","Archive"} <= {f["displayName"] for f in d["value"]} and all("totalItemCount" in f and "parentFolderId" in f for f in d["value"])'
r -H "$MH" "$GR/me/mailFolders/sentitems"
t "mailFolders/{well-known name}" 'c == 200 and d["displayName"] == "Sent Items"'
get SENTID 'd["id"]'
r -H "$MH" "$GR/me/mailFolders/inbox"
get INBOXN 'd["totalItemCount"]'
SEL='$select=subject,from,sender,toRecipients,ccRecipients,bccRecipients,receivedDateTime,sentDateTime,bodyPreview,hasAttachments,internetMessageId,conversationId,isDraft,parentFolderId'
PREF='Prefer: odata.maxpagesize=2, IdType="ImmutableId"'
url="$GR/me/mailFolders/inbox/messages/delta?$SEL"
items=0
pages=0
DL=
for _ in $(seq 30); do
	r -H "$MH" -H "$PREF" "$url"
	pages=$((pages + 1))
	get k 'len(d["value"])'
	items=$((items + k))
	if ! python3 -c 'import json,sys;d=json.load(open(sys.argv[1]));sys.exit(0 if all("body" not in v and "@odata.etag" in v and "id" in v and v["internetMessageId"].startswith("<") and len(v["bodyPreview"]) <= 255 for v in d["value"]) else 1)' "$W/out"; then
		nok "delta page $pages has the wrong fields"
	fi
	get DL 'd.get("@odata.deltaLink", "")'
	[ -n "$DL" ] && break
	get url 'd["@odata.nextLink"]'
	case $url in *'$skiptoken='*) ;; *) nok "nextLink without skiptoken"; break;; esac
done
[ -n "$DL" ] && [ "$items" -eq "$INBOXN" ] && [ "$pages" -ge 3 ] && ok "delta pages with nextLink/\$skiptoken to a deltaLink ($pages pages, $items items)" || nok "delta: pages=$pages items=$items inbox=$INBOXN"
case $DL in *'$deltatoken='*) ok "deltaLink carries \$deltatoken";; *) nok "deltaLink: $DL";; esac
t "Preference-Applied echoes the page size" 're.search(r"(?i)^preference-applied: .*odata.maxpagesize=2", h, re.M)'
r -H "$MH" -H "$PREF" "$DL"
t "incremental delta with no change: empty page, new deltaLink" 'c == 200 and d["value"] == [] and "@odata.deltaLink" in d'
get DL 'd["@odata.deltaLink"]'
ctl POST /_emu/mailboxes/carol@firm.example/messages '{"from":"Jane Doe <jane@acme.example>","subject":"Fresh","body":"new one","folder":"inbox"}'
get NEWO 'd["added"][0]["id"]'
r "$B/_emu/mailboxes/carol@firm.example"
get MOVEID '[m["id"] for m in d["list"] if m["folder"] == "inbox" and m["id"] != "'"$NEWO"'"][0]'
ctl POST /_emu/mailboxes/carol@firm.example/move "{\"id\":\"$MOVEID\",\"to\":\"archive\"}"
r -H "$MH" -H "$PREF" "$DL"
t "incremental delta: the new message and the moved one as @removed" 'c == 200 and {v["id"] for v in d["value"] if "@removed" not in v} == {"'"$NEWO"'"} and [v["@removed"]["reason"] for v in d["value"] if "@removed" in v] == ["deleted"]'
t "incremental delta keeps the \$select of the first call" 'all(set(v) <= {"@odata.type","@odata.etag","id","subject","from","sender","toRecipients","ccRecipients","bccRecipients","receivedDateTime","sentDateTime","bodyPreview","hasAttachments","internetMessageId","conversationId","isDraft","parentFolderId","@removed"} for v in d["value"])'
get DL2 'd["@odata.deltaLink"]'
ctl POST /_emu/faults '{"kind":"delta410","prefix":"/v1.0/","count":1,"code":"resyncRequired"}'
r -H "$MH" -H "$PREF" "$DL2"
t "fault delta410: 410 with resyncRequired" 'c == 410 and d["error"]["code"] == "resyncRequired"'
ctl POST /_emu/mailboxes/carol@firm.example/expire '{"what":"delta"}'
r -H "$MH" -H "$PREF" "$DL2"
t "expired delta token: 410 SyncStateNotFound (as Graph spells it)" 'c == 410 and d["error"]["code"] == "SyncStateNotFound" and d["error"]["message"].startswith("The sync state generation is not found")'
r -H "$MH" "$GR/me/mailFolders/inbox/messages/delta?\$select=subject"
t "delta without IdType: REST ids, body not returned when not selected" 'c == 200 and all(v["id"].startswith("AAMkAD") and "body" not in v for v in d["value"]) and 1 <= len(d["value"]) <= 10'
r -H "$MH" "$GR/me/messages?\$top=3&\$select=subject,receivedDateTime"
t "/me/messages \$top with @odata.nextLink" 'c == 200 and len(d["value"]) == 3 and "@odata.nextLink" in d and set(d["value"][0]) == {"@odata.etag","id","subject","receivedDateTime"}'
get NL 'd["@odata.nextLink"]'
r -H "$MH" "$NL"
t "/me/messages nextLink works" 'c == 200 and len(d["value"]) == 3'
r -H "$MH" "$GR/me/messages?\$top=0"
t "\$top out of 1..1000: 400" 'c == 400'
r -H "$MH" "$GR/me/messages?\$filter=receivedDateTime%20ge%202026-10-20T00:00:00Z&\$orderby=receivedDateTime%20desc&\$top=100&\$select=receivedDateTime"
t "\$filter receivedDateTime ge with \$orderby" 'c == 200 and len(d["value"]) > 0 and all(v["receivedDateTime"] >= "2026-10-20" for v in d["value"])'
r -H "$MH" "$GR/me/messages?\$filter=hasAttachments%20eq%20true&\$orderby=receivedDateTime%20desc"
t "\$orderby not led by the \$filter property: InefficientFilter" 'c == 400 and d["error"]["code"] == "InefficientFilter"'
r -H "$MH" "$GR/me/mailFolders/sentitems/messages?\$top=1"
t "no \$select: body is returned (and logged)" 'c == 200 and "body" in d["value"][0]'
r -H "$MH" "$GR/me/messages?\$top=1&\$select=internetMessageHeaders"
t "internetMessageHeaders only when selected" 'c == 200 and d["value"][0]["internetMessageHeaders"]'
r -H "$MH" -H 'Content-Type: application/json' --data-binary '{"requests":[{"id":"1","method":"GET","url":"/me"},{"id":"2","method":"GET","url":"/me/mailFolders/inbox/messages/delta?$select=subject","headers":{"Prefer":"odata.maxpagesize=1"}},{"id":"3","method":"GET","url":"/me/messages/AAMkADnope"}]}' "$GR/\$batch"
t "\$batch: responses with id, status, headers, body" 'c == 200 and {x["id"]: x["status"] for x in d["responses"]} == {"1": 200, "2": 200, "3": 404} and len([x for x in d["responses"] if x["id"] == "2"][0]["body"]["value"]) == 1'
python3 -c 'import json;print(json.dumps({"requests":[{"id":str(i),"method":"GET","url":"/me"} for i in range(21)]}))' >"$W/b21"
r -H "$MH" -H 'Content-Type: application/json' --data-binary @"$W/b21" "$GR/\$batch"
t "\$batch of 21: 400" 'c == 400'
# nested folders, the folder delta, $orderby on delta, /users access,
# a $batch's inner Prefer
ctl POST /_emu/mailboxes/carol@firm.example/folders '{"path":"Inbox/Clients/Acme"}'
get ACME 'd["id"]'
r -H "$MH" "$GR/me/mailFolders"
t "mailFolders lists the top folders only" 'c == 200 and not {"Clients","Acme","Conflicts"} & {f["displayName"] for f in d["value"]} and "Sync Issues" in {f["displayName"] for f in d["value"]}'
r -H "$MH" "$GR/me/mailFolders/inbox/childFolders"
t "childFolders: one level below" 'c == 200 and [f["displayName"] for f in d["value"]] == ["Clients"] and d["value"][0]["childFolderCount"] == 1'
r -H "$MH" "$GR/me/mailFolders/msgfolderroot?\$select=id"
t "mailFolders/msgfolderroot: the top of the tree" 'c == 200 and d["id"] and set(d) <= {"@odata.context", "id"}'
r -H "$MH" -H 'Prefer: odata.maxpagesize=100' "$GR/me/mailFolders/delta?\$select=displayName,parentFolderId"
t "mailFolders/delta: every folder, nested ones too, flat, with parents" 'c == 200 and {"Acme","Clients","Conflicts","Inbox"} <= {f["displayName"] for f in d["value"]} and all(set(f) == {"id","displayName","parentFolderId"} for f in d["value"]) and "@odata.deltaLink" in d'
get FDL 'd["@odata.deltaLink"]'
ctl POST /_emu/mailboxes/carol@firm.example/folders/rename "{\"id\":\"$ACME\",\"name\":\"Acme Ltd\"}"
r -H "$MH" "$FDL"
t "mailFolders/delta later: the folder renamed, alone" 'c == 200 and [f["displayName"] for f in d["value"]] == ["Acme Ltd"]'
get FDL 'd["@odata.deltaLink"]'
ctl POST /_emu/mailboxes/carol@firm.example/folders/delete "{\"id\":\"$ACME\",\"permanent\":true}"
r -H "$MH" "$FDL"
t "mailFolders/delta: a folder deleted comes as @removed" 'c == 200 and d["value"] == [{"id": "'"$ACME"'", "@removed": {"reason": "deleted"}}]'
r -H "$MH" "$GR/me/mailFolders/$ACME/messages/delta"
t "the deleted folder's delta: 404 ErrorItemNotFound" 'c == 404 and d["error"]["code"] == "ErrorItemNotFound"'
r -H "$MH" -H 'Prefer: odata.maxpagesize=100' "$GR/me/mailFolders/inbox/messages/delta?\$select=receivedDateTime&\$orderby=receivedDateTime%20desc"
t "delta with \$orderby=receivedDateTime desc: newest first" 'c == 200 and len(d["value"]) > 2 and [v["receivedDateTime"] for v in d["value"]] == sorted((v["receivedDateTime"] for v in d["value"]), reverse=True)'
r -H "$MH" -H 'Prefer: odata.maxpagesize=100' "$GR/me/mailFolders/inbox/messages/delta?\$select=receivedDateTime"
t "delta without \$orderby: in no guaranteed order" 'c == 200 and [v["receivedDateTime"] for v in d["value"]] != sorted((v["receivedDateTime"] for v in d["value"]), reverse=True)'
r -H "$MH" "$GR/me/mailFolders/inbox/messages/delta?\$orderby=subject"
t "delta with another \$orderby: 400" 'c == 400'
ctl POST /_emu/mailboxes '{"provider":"outlook","address":"desk@firm.example","shared":true,"members":["carol@firm.example"]}'
r -H "$MH" "$GR/users/desk@firm.example/mailFolders/inbox"
t "another mailbox without Mail.Read.Shared: 403 ErrorAccessDenied" 'c == 403 and d["error"]["code"] == "ErrorAccessDenied"'
r -H "$MH" "$GR/users/nobody@firm.example/mailFolders/inbox"
t "no such user: 404" 'c == 404'
r -H "$MH" -H 'Prefer: IdType="ImmutableId"' -H 'Content-Type: application/json' --data-binary '{"requests":[{"id":"1","method":"GET","url":"/me/mailFolders/inbox/messages/delta?$select=subject"},{"id":"2","method":"GET","url":"/me/mailFolders/inbox/messages/delta?$select=subject","headers":{"Prefer":"IdType=\"ImmutableId\""}}]}' "$GR/\$batch"
t "\$batch: the outer Prefer reaches no request, an inner one its own" 'c == 200 and (lambda a: a["1"]["body"]["value"][0]["id"].startswith("AAMkAD") and a["2"]["body"]["value"][0]["id"].startswith("AAkALg"))({x["id"]: x for x in d["responses"]})'
ctl POST /_emu/tokens/expire '{"mailbox":"carol@firm.example"}'
r -H "$MH" "$GR/me"
t "expired Graph token: 401 InvalidAuthenticationToken" 'c == 401 and d["error"]["code"] == "InvalidAuthenticationToken" and "innerError" in d["error"]'
r "$B/common/oauth2/v2.0/token" -d "client_id=$MPUB" -d grant_type=refresh_token -d "refresh_token=$MRT2"
get MAT 'd["access_token"]'
MH="Authorization: Bearer $MAT"

# ------------------------------------------------------------------ faults
ctl POST /_emu/faults '{"kind":"status","status":429,"retry_after":3,"prefix":"/gmail/v1/users/me/messages","count":1}'
r -H "$HB" "$G/messages"
t "fault 429 with Retry-After" 'c == 429 and re.search(r"(?im)^retry-after: 3", h) and d["error"]["code"] == 429'
r -H "$HB" "$G/messages"
t "fault count consumed" 'c == 200'
ctl POST /_emu/faults '{"kind":"status","status":403,"reason":"userRateLimitExceeded","prefix":"/gmail/","count":1}'
r -H "$HB" "$G/profile"
t "fault 403 userRateLimitExceeded" 'c == 403 and d["error"]["errors"][0]["reason"] == "userRateLimitExceeded" and d["error"]["errors"][0]["domain"] == "usageLimits"'
ctl POST /_emu/faults '{"kind":"status","status":403,"reason":"dailyLimitExceeded","prefix":"/gmail/","count":1}'
r -H "$HB" "$G/profile"
t "fault 403 dailyLimitExceeded" 'c == 403 and d["error"]["errors"][0]["reason"] == "dailyLimitExceeded"'
ctl POST /_emu/faults '{"kind":"status","status":503,"prefix":"/v1.0/me","count":1}'
r -H "$MH" "$GR/me"
t "fault 503 on Graph with Graph error body" 'c == 503 and d["error"]["code"]'
ctl POST /_emu/faults '{"kind":"malformed","prefix":"/gmail/v1/users/me/profile","count":1}'
r -H "$HB" "$G/profile"
t "fault malformed: 200 with a body that is not JSON" 'c == 200 and d is None'
ctl POST /_emu/faults '{"kind":"truncate","prefix":"/gmail/v1/users/me/profile","count":1}'
r -H "$HB" "$G/profile"
[ "$rc" -eq 18 ] && ok "fault truncate: connection closed mid-body (curl 18)" || nok "truncate: curl rc=$rc"
ctl POST /_emu/faults '{"kind":"drop","prefix":"/gmail/v1/users/me/profile","count":1}'
r -H "$HB" "$G/profile"
[ "$rc" -eq 52 ] && ok "fault drop: connection closed, no answer (curl 52)" || nok "drop: curl rc=$rc"
ctl POST /_emu/faults '{"kind":"latency","latency_ms":400,"prefix":"/gmail/v1/users/me/profile","count":1}'
s0=$(date +%s%N)
r -H "$HB" "$G/profile"
s1=$(date +%s%N)
[ $(((s1 - s0) / 1000000)) -ge 390 ] && ok "fault latency delays the answer" || nok "latency: $(((s1 - s0) / 1000000)) ms"
ctl POST /_emu/faults '{"kind":"invalid_grant","prefix":"/common/oauth2/v2.0/token","count":1}'
r "$B/common/oauth2/v2.0/token" -d "client_id=$MPUB" -d grant_type=refresh_token -d "refresh_token=whatever"
t "fault invalid_grant at the MS token endpoint" 'c == 400 and d["error"] == "invalid_grant" and d["error_codes"]'
ctl POST /_emu/faults '{"kind":"status","status":500,"prefix":"/gmail/v1/users/me/settings","probability":0.5,"seed":7}'
hits=0
for _ in $(seq 20); do r -H "$HB" "$G/settings/sendAs"; [ "$(cat "$W/code")" = 500 ] && hits=$((hits + 1)); done
[ $hits -gt 2 ] && [ $hits -lt 18 ] && ok "probabilistic fault hits some requests ($hits/20)" || nok "probability: $hits/20"
ctl DELETE /_emu/faults
t "faults cleared" 'd["faults"] == []'
# a fault on an inner batch request fails that part only
ctl POST /_emu/faults "{\"kind\":\"status\",\"status\":503,\"prefix\":\"/gmail/v1/users/me/profile\",\"count\":1}"
{
	printf -- "--b\r\nContent-Type: application/http\r\nContent-ID: a\r\n\r\nGET /gmail/v1/users/me/profile\r\n\r\n"
	printf -- "--b\r\nContent-Type: application/http\r\nContent-ID: b\r\n\r\nGET /gmail/v1/users/me/profile\r\n\r\n--b--\r\n"
} >"$W/batch2"
r -H "$HB" -H "Content-Type: multipart/mixed; boundary=b" --data-binary @"$W/batch2" "$B/batch/gmail/v1"
t "a fault on an inner request fails only that part" 'c == 200 and [int(x) for x in re.findall(r"HTTP/1.1 (\d+)", s)] == [503, 200]'

# ------------------------------------------------------------------ quotas
ctl POST /_emu/quotas '{"enabled":true,"gmail_units_per_minute":10,"time_scale":60}'
codes=""
for _ in $(seq 11); do r -H "$HB" "$G/profile"; codes="$codes $(cat "$W/code")"; done
t "gmail quota exceeded: 403 userRateLimitExceeded" 'c == 403 and d["error"]["errors"][0]["reason"] == "userRateLimitExceeded"'
[ "$codes" = " 200 200 200 200 200 200 200 200 200 200 403" ] && ok "getProfile costs 1 unit (10 per window)" || nok "quota codes: $codes"
sleep 1.2
r -H "$HB" "$G/profile"
t "quota window (scaled to 1 s) refills" 'c == 200'
r -H "$HB" "$G/messages"
sleep 1.2
ctl POST /_emu/quotas '{"gmail_units_per_minute":12}'
{
	for i in 1 2 3; do printf -- "--b\r\nContent-Type: application/http\r\nContent-ID: q$i\r\n\r\nGET /gmail/v1/users/me/messages/%s?format=minimal\r\n\r\n" ffffffffffffffff; done
	printf -- "--b--\r\n"
} >"$W/batch3"
r -H "$HB" -H "Content-Type: multipart/mixed; boundary=b" --data-binary @"$W/batch3" "$B/batch/gmail/v1"
t "batch counts each inner request (5 units each)" '[int(x) for x in re.findall(r"HTTP/1.1 (\d+)", s)] == [404, 404, 403]'
ctl POST /_emu/quotas '{"enabled":true,"gmail_units_per_minute":15000,"time_scale":1,"graph_concurrency":4,"latency_ms":600}'
pids=
for i in 1 2 3 4 5 6; do
	curl -s -m 20 -o "$W/par$i" -w '%{http_code}\n' -H "$MH" "$GR/me" >"$W/pc$i" &
	pids="$pids $!"
done
wait $pids
c429=$(cat "$W"/pc* | grep -c 429)
[ "$c429" -ge 1 ] && grep -q ApplicationThrottled "$W"/par* && ok "Graph: over 4 concurrent requests per mailbox -> 429 ApplicationThrottled ($c429)" || nok "graph concurrency: $(cat "$W"/pc*)"
ctl POST /_emu/quotas '{"enabled":false,"latency_ms":0}'

# ------------------------------------------------------------------ hostile faults
# a Gmail message of bob's to fetch
r -H "$HB" "$G/messages?labelIds=INBOX&maxResults=2"
get BID1 'd["messages"][0]["id"]'
get BID2 'd["messages"][1]["id"]'
MG="$G/messages/$BID1?format=metadata&metadataHeaders=Subject&metadataHeaders=From"
ctl POST /_emu/faults '{"kind":"json","prefix":"/gmail/v1/users/me/messages/","count":1,"set":{"payload.headers.0.value":"\u001b]8;;http://evil.example\u0007x","sizeEstimate":null,"labelIds.5":"NEW"},"delete":["snippet"]}'
r -H "$HB" "$MG"
t "fault json: set a header value, null a number, delete a key" 'c == 200 and d["payload"]["headers"][0]["value"].startswith("\x1b]8;;") and d["sizeEstimate"] is None and "snippet" not in d and d["id"] == "'"$BID1"'"'
r -H "$HB" "$MG"
t "fault json consumed: the next answer is whole" 'c == 200 and "snippet" in d and isinstance(d["sizeEstimate"], int)'
ctl POST /_emu/faults '{"kind":"json","prefix":"/gmail/v1/users/me/messages/","count":1,"set":{"payload.headers.*.name":"X-Evil"}}'
r -H "$HB" "$MG"
t "fault json: * edits every element" 'c == 200 and {x["name"] for x in d["payload"]["headers"]} == {"X-Evil"} and len(d["payload"]["headers"]) == 2'
ctl POST /_emu/faults '{"kind":"json","prefix":"/gmail/v1/users/me/messages/","count":1,"set":{"x":1}}'
r -H "$HB" "$G/messages/ffffffffffffffff?format=minimal"
t "fault json leaves an answer that is no 200 alone" 'c == 404 and "x" not in d'
r -H "$HB" "$MG"
t "fault json waits for a 200 JSON answer of its prefix" 'c == 200 and d.get("x") == 1'
ctl POST /_emu/faults '{"kind":"json","count":1,"set":{"id":"0000000000000bad"}}'
python3 - "$BID1" "$BID2" >"$W/jbatch" <<'EOF'
import sys
for i, m in enumerate(sys.argv[1:]):
    sys.stdout.write("--b\r\nContent-Type: application/http\r\nContent-ID: <p%d>\r\n\r\nGET /gmail/v1/users/me/messages/%s?format=minimal\r\n\r\n" % (i, m))
sys.stdout.write("--b--\r\n")
EOF
r -H "$HB" -H "Content-Type: multipart/mixed; boundary=b" --data-binary @"$W/jbatch" "$B/batch/gmail/v1"
t "fault json edits an inner batch part only" 'c == 200 and s.count("0000000000000bad") == 1 and "'"$BID2"'" in s'
ctl POST /_emu/faults '{"kind":"json","prefix":"/common/oauth2/v2.0/devicecode","count":1,"set":{"interval":-7,"user_code":null}}'
r "$B/common/oauth2/v2.0/devicecode" -d "client_id=$MPUB" -d "scope=Mail.Read"
t "fault json on a token-endpoint reply" 'c == 200 and d["interval"] == -7 and d["user_code"] is None and d["device_code"]'
ctl POST /_emu/faults '{"kind":"json","prefix":"/x","set":{"a..b":1},"delete":"notalist"}'
t "fault json with a bad delete: 400" 'c == 400'
# raw
ctl POST /_emu/faults '{"kind":"raw","prefix":"/gmail/v1/users/me/profile","count":1,"body_b64":"eyJlbWFpbEFkZHJlc3MiOiJceGZmIiwiZW1haWxBZGRyZXNzIjoi/yJ9"}'
r -H "$HB" "$G/profile"
python3 -c 'import sys;b=open(sys.argv[1],"rb").read();sys.exit(0 if b==__import__("base64").b64decode("eyJlbWFpbEFkZHJlc3MiOiJceGZmIiwiZW1haWxBZGRyZXNzIjoi/yJ9") else 1)' "$W/out" && ok "fault raw: exactly those bytes (invalid UTF-8, duplicate keys)" || nok "fault raw bytes"
t "fault raw: its status and Content-Type" 'c == 200 and re.search(r"(?im)^content-type: application/json\r?$", h)'
ctl POST /_emu/faults '{"kind":"raw","prefix":"/gmail/v1/users/me/messages/","count":1,"status":203,"content_type":"text/plain","body":"{\"id\":\"a\",\"id\":\"b\"}"}'
r -H "$HB" -H "Content-Type: multipart/mixed; boundary=b" --data-binary @"$W/jbatch" "$B/batch/gmail/v1"
t "fault raw on an inner batch part: that part's status, type and body" 'c == 200 and "HTTP/1.1 203" in s and "text/plain" in s and "{\"id\":\"a\",\"id\":\"b\"}" in s and s.count("HTTP/1.1 200") == 1'
ctl POST /_emu/faults '{"kind":"raw","prefix":"/v1.0/me","count":1,"body":"{\"id\":1,\"id\":2}"}'
r -H "$MH" -H 'Content-Type: application/json' --data-binary '{"requests":[{"id":"1","method":"GET","url":"/me"}]}' "$GR/\$batch"
t "fault raw in a Graph \$batch: the bytes spliced in as the body" 'c == 200 and "\"body\":{\"id\":1,\"id\":2}" in s'
# huge
ctl POST /_emu/faults '{"kind":"huge","prefix":"/v1.0/me/mailFolders","count":1,"bytes":300000}'
r -H "$MH" "$GR/me/mailFolders/inbox/messages/delta"
t "fault huge objects: {\"value\":[{},...]} of about the size asked" 'c == 200 and 299990 <= len(s) <= 300000 and len(d["value"]) > 90000 and d["value"][0] == {}'
ctl POST /_emu/faults '{"kind":"huge","prefix":"/gmail/v1/users/me/messages","count":1,"bytes":3000}'
r -H "$HB" "$G/messages"
t "fault huge objects on a Gmail path: key messages" 'c == 200 and len(d["messages"]) > 900'
ctl POST /_emu/faults '{"kind":"huge","shape":"deep","prefix":"/v1.0/me","count":1,"bytes":2000}'
r -H "$MH" "$GR/me"
t "fault huge deep: [[[...]]] nested bytes/2 levels" 'c == 200 and s == "[" * 1000 + "]" * 1000'
ctl POST /_emu/faults '{"kind":"huge","shape":"string","prefix":"/v1.0/me","count":1,"bytes":100000}'
r -H "$MH" "$GR/me"
t "fault huge string: {\"value\":\"xxx...\"}" 'c == 200 and len(d["value"]) == 100000 - 12 and set(d["value"]) == {"x"}'
ctl POST /_emu/faults '{"kind":"huge","prefix":"/v1.0/me","count":1}'
sz=$(curl -s -o /dev/null -w '%{size_download}' -H "$MH" "$GR/me")
[ "$sz" -ge 50000000 ] && [ "$sz" -le 50331648 ] && ok "fault huge defaults to 48 MiB, streamed ($sz bytes)" || nok "huge default size: $sz"
# trickle
ctl POST /_emu/faults '{"kind":"trickle","bytes_per_sec":400,"prefix":"/gmail/v1/users/me/profile","count":1}'
s0=$(date +%s%N)
r -H "$HB" "$G/profile"
s1=$(date +%s%N)
ms=$(((s1 - s0) / 1000000))
t "fault trickle: the whole answer, with Content-Length" 'c == 200 and d["emailAddress"] == "bob@firm.example" and re.search(r"(?im)^content-length: %d\r?$" % len(s.encode()), h)'
sz=$(wc -c <"$W/out")
[ "$ms" -ge $((sz * 1000 / 400 - 200)) ] && ok "fault trickle: body at bytes_per_sec ($sz bytes in $ms ms)" || nok "trickle too fast: $sz bytes in $ms ms"
ctl POST /_emu/faults '{"kind":"trickle","bytes_per_sec":1,"prefix":"/gmail/v1/users/me/profile","count":1}'
curl -s -m 1 -o /dev/null -H "$HB" "$G/profile"
rc=$?
[ "$rc" -eq 28 ] && ok "fault trickle: a client may give up (curl 28)" || nok "trickle give up: rc=$rc"
# endless
ctl POST /_emu/faults '{"kind":"endless","prefix":"/v1.0/me/mailFolders","count":1}'
python3 - "$PORT" "$MAT" >"$W/endless" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(("GET /v1.0/me/mailFolders/inbox/messages/delta HTTP/1.1\r\nHost: x\r\n"
           "Authorization: Bearer %s\r\n\r\n" % sys.argv[2]).encode())
got = b""
while len(got) < 4 << 20:
    c = s.recv(1 << 16)
    if not c:
        break
    got += c
s.close()
head, _, body = got.partition(b"\r\n\r\n")
first = body.split(b"\r\n", 2)
print("chunked" if b"transfer-encoding: chunked" in head.lower() else "not-chunked",
      len(got) >= 4 << 20, first[1].decode(), first[2].split(b"\r\n", 2)[1][:9].decode())
EOF
[ "$(cat "$W/endless")" = 'chunked True {"value":[ {},{},{},' ] && ok "fault endless: chunked {\"value\":[{},{},... past 4 MiB" || nok "endless: $(cat "$W/endless")"
r "$B/_emu/health"
t "the emulator serves on after a client left an endless answer" 'c == 200 and d["ok"]'
ctl POST /_emu/faults '{"kind":"chunked_truncated","prefix":"/gmail/v1/users/me/profile","count":1}'
r -H "$HB" "$G/profile"
{ [ "$rc" -eq 18 ] || [ "$rc" -eq 56 ]; } && grep -qi '^transfer-encoding: chunked' "$W/hdr" && ok "fault chunked_truncated: stops mid-chunk (curl $rc)" || nok "chunked_truncated: rc=$rc"
# spy and foreign links
r "$B/_emu/health"
get SPY 'd["spy"]'
case $SPY in http://127.0.0.1:[0-9]*) ok "health names the spy origin";; *) nok "spy origin: $SPY";; esac
ctl DELETE /_emu/spy
r -H "Authorization: Bearer leak" "$SPY/v1.0/anything?a=1"
t "the spy answers a valid-looking delta page pointing back at itself" 'c == 200 and d["value"] == [] and d["@odata.deltaLink"] == "'"$SPY"'/v1.0/spy/delta?$deltatoken=x"'
r "$SPY/other"
r "$B/_emu/spy"
t "GET /_emu/spy lists what reached the spy" 'd["origin"] == "'"$SPY"'" and [(x["method"], x["path"], x["query"], x["authorization"]) for x in d["requests"]] == [("GET", "/v1.0/anything", "a=1", True), ("GET", "/other", "", False)] and all("time" in x for x in d["requests"])'
ctl DELETE /_emu/spy
r "$B/_emu/spy"
t "DELETE /_emu/spy clears it" 'd["requests"] == []'
ctl POST /_emu/faults '{"kind":"foreign_link","link":"next","prefix":"/v1.0/","count":1}'
r -H "$MH" -H "$PREF" "$GR/me/mailFolders/inbox/messages/delta?\$select=subject"
t "fault foreign_link next: the nextLink names the spy origin, same path and query" 'c == 200 and d["@odata.nextLink"].startswith("'"$SPY"'/v1.0/me/mailFolders(") and "$skiptoken=" in d["@odata.nextLink"] and len(d["value"]) == 2'
ctl POST /_emu/faults '{"kind":"foreign_link","link":"delta","prefix":"/v1.0/","count":1}'
r -H "$MH" -H "$PREF" "$GR/me/mailFolders/inbox/messages/delta?\$select=subject"
t "fault foreign_link delta on a page with only a nextLink rewrites that" 'd["@odata.nextLink"].startswith("'"$SPY"'/") and "@odata.deltaLink" not in d'
ctl POST /_emu/faults '{"kind":"foreign_link","link":"delta","prefix":"/v1.0/","count":1}'
r -H "$MH" "$GR/me/mailFolders/drafts/messages/delta?\$select=subject"
t "fault foreign_link delta: the deltaLink names the spy origin" 'd["@odata.deltaLink"].startswith("'"$SPY"'/v1.0/me/mailFolders(") and "$deltatoken=" in d["@odata.deltaLink"]'
ctl POST /_emu/faults '{"kind":"foreign_link","link":"both","prefix":"/v1.0/","count":1}'
r -H "$MH" "$GR/me/mailFolders"
r -H "$MH" "$GR/me/mailFolders/drafts/messages/delta"
t "fault foreign_link waits for a delta request" 'd["@odata.deltaLink"].startswith("'"$SPY"'/")'
# Gmail batch reply faults
python3 - "$BID1" "$BID2" >"$W/b3" <<'EOF'
import sys
ids = sys.argv[1:] + ["ffffffffffffffff"]
for i, m in enumerate(ids):
    sys.stdout.write("--b\r\nContent-Type: application/http\r\nContent-ID: <c%d>\r\n\r\nGET /gmail/v1/users/me/messages/%s?format=minimal\r\n\r\n" % (i, m))
sys.stdout.write("--b--\r\n")
EOF
bmode() { # bmode MODE: the reply's (Content-ID, status) list in $W/out
	ctl POST /_emu/faults "{\"kind\":\"batch\",\"mode\":\"$1\",\"count\":1}"
	r -H "$HB" -H "Content-Type: multipart/mixed; boundary=b" --data-binary @"$W/b3" "$B/batch/gmail/v1"
}
PARTS='[(a, int(b)) for a, b in re.findall(r"Content-ID: <response-([\w-]+)>\r?\n\r?\nHTTP/1.1 (\d+)", s)]'
bmode dup_cid
t "batch dup_cid: part 2 carries part 1's Content-ID" "$PARTS"' == [("c0", 200), ("c0", 200), ("c2", 404)]'
bmode missing
t "batch missing: the last part is gone" "$PARTS"' == [("c0", 200), ("c1", 200)]'
bmode unknown_cid
t "batch unknown_cid: a part names no request" "$PARTS"'[:2] == [("c0", 200), ("c1", 200)] and '"$PARTS"'[2][0].startswith("emu-unknown-")'
bmode extra
t "batch extra: one part more than asked" 'len('"$PARTS"') == 4 and '"$PARTS"'[3][0].startswith("emu-extra-")'
bmode reorder
t "batch reorder: reversed, each part with its own Content-ID" "$PARTS"' == [("c2", 404), ("c1", 200), ("c0", 200)]'
ctl POST /_emu/faults '{"kind":"batch","mode":"sideways"}'
t "batch fault with an unknown mode: 400" 'c == 400'
ctl DELETE /_emu/faults
r -H "$HB" -H "Content-Type: multipart/mixed; boundary=b" --data-binary @"$W/b3" "$B/batch/gmail/v1"
t "batch faults gone: parts in order" "$PARTS"' == [("c0", 200), ("c1", 200), ("c2", 404)]'
GB3='{"requests":[{"id":"a","method":"GET","url":"/me"},{"id":"b","method":"GET","url":"/me/mailFolders/inbox"},{"id":"c","method":"GET","url":"/me/messages/AAMkADnope"}]}'
IDS='[(x["id"], x["status"]) for x in d["responses"]]'
r -H "$MH" -H 'Content-Type: application/json' --data-binary "$GB3" "$GR/\$batch"
t "Graph \$batch answers out of request order (Graph may), ids correlate" "$IDS"' == [("c", 404), ("b", 200), ("a", 200)]'
gbmode() {
	ctl POST /_emu/faults "{\"kind\":\"batch\",\"mode\":\"$1\",\"count\":1}"
	r -H "$MH" -H 'Content-Type: application/json' --data-binary "$GB3" "$GR/\$batch"
}
gbmode dup_cid
t "Graph \$batch dup_cid: item 2 carries item 1's id" "$IDS"' == [("c", 404), ("c", 200), ("a", 200)]'
gbmode missing
t "Graph \$batch missing: an item is gone" "$IDS"' == [("c", 404), ("b", 200)]'
gbmode unknown_cid
t "Graph \$batch unknown_cid: an id names no request" "$IDS"'[:2] == [("c", 404), ("b", 200)] and '"$IDS"'[2][0].startswith("emu-unknown-")'
gbmode extra
t "Graph \$batch extra: one item more" 'len('"$IDS"') == 4 and '"$IDS"'[3][0].startswith("emu-extra-")'
gbmode reorder
t "Graph \$batch reorder: reversed (here: back in request order)" "$IDS"' == [("a", 200), ("b", 200), ("c", 404)]'
ctl POST /_emu/config '{"graph_batch_order":"request"}'
r -H "$MH" -H 'Content-Type: application/json' --data-binary "$GB3" "$GR/\$batch"
t "graph_batch_order request: in request order" "$IDS"' == [("a", 200), ("b", 200), ("c", 404)]'
ctl POST /_emu/config '{"graph_batch_order":"reverse"}'

# ------------------------------------------------------------------ data: snippet, preview, controls
ESCS='\u001b[31mRED\u0007\u0008\u007f\u009b\u009d\u202eRTL\u2066\u2069\u200b\ufeff\u001c\u0085'
ctl POST /_emu/mailboxes/bob@firm.example/messages "{\"from\":\"=?UTF-8?B?RXZlIBtbMm0=?= <eve@evil.example>\",\"subject\":\"Pay $ESCS now\",\"body\":\"Body $ESCS end\",\"snippet\":\"&#27;[31m verbatim \u0007\",\"labels\":[\"INBOX\"]}"
get HOSTID 'd["added"][0]["id"]'
ctl POST /_emu/mailboxes/bob@firm.example/messages "{\"from\":\"x@evil.example\",\"subject\":\"s\",\"body\":\"A${ESCS}B\",\"labels\":[\"INBOX\"]}"
get HOSTID2 'd["added"][0]["id"]'
r -H "$HB" "$G/messages/$HOSTID?format=metadata&metadataHeaders=Subject&metadataHeaders=From"
t "Gmail: snippet from the data, verbatim" 'd["snippet"] == "&#27;[31m verbatim \x07"'
t "Gmail: raw header values keep ESC, BEL, BS, DEL, C1, bidi, ZWSP, BOM" '[x["value"] for x in d["payload"]["headers"] if x["name"] == "Subject"] == ["Pay \x1b[31mRED\x07\x08\x7f\x9b\x9d\u202eRTL\u2066\u2069\u200b\ufeff\x1c\x85 now"] and "=?UTF-8?B?RXZlIBtbMm0=?= <eve@evil.example>" in s'
r -H "$HB" "$G/messages/$HOSTID2?format=minimal"
t "Gmail: the made snippet keeps every character but runs of ASCII white space" 'd["snippet"] == "A\x1b[31mRED\x07\x08\x7f\x9b\x9d\u202eRTL\u2066\u2069\u200b\ufeff\x1c\x85B"'
ctl POST /_emu/mailboxes/carol@firm.example/messages "{\"from\":\"=?UTF-8?B?RXZlIBtbMm0=?= <eve@evil.example>\",\"subject\":\"=?UTF-8?B?UGF5IBtbMzFtUkVEB+KArg==?=\",\"body\":\"b\",\"preview\":\"pre $ESCS view\",\"folder\":\"inbox\"}"
get HOSTO 'd["added"][0]["id"]'
r -H "$MH" -H 'Prefer: IdType="ImmutableId"' "$GR/me/messages/$HOSTO?\$select=subject,from,bodyPreview"
t "Graph: bodyPreview from the data, verbatim" 'd["bodyPreview"] == "pre \x1b[31mRED\x07\x08\x7f\x9b\x9d\u202eRTL\u2066\u2069\u200b\ufeff\x1c\x85 view"'
t "Graph: decoded subject and display name keep ESC, BEL, U+202E" 'd["subject"] == "Pay \x1b[31mRED\x07\u202e" and d["from"]["emailAddress"]["name"] == "Eve \x1b[2m"'
# device flow values
ctl POST /_emu/config '{"device":{"interval":-1,"expires_in":"soon"}}'
r "$B/consumers/oauth2/v2.0/devicecode" -d "client_id=$MPUB" -d "scope=Mail.Read"
t "device.interval -1 and a non-number expires_in go out verbatim" 'c == 200 and d["interval"] == -1 and d["expires_in"] == "soon"'
ctl POST /_emu/config '{"device":{"interval":0,"expires_in":-5}}'
r "$B/consumers/oauth2/v2.0/devicecode" -d "client_id=$MPUB" -d "scope=Mail.Read"
t "device.interval 0 and a negative expires_in go out verbatim" 'c == 200 and d["interval"] == 0 and d["expires_in"] == -5'
get DC 'd["device_code"]'
r "$B/consumers/oauth2/v2.0/token" -d grant_type=urn:ietf:params:oauth:grant-type:device_code -d "client_id=$MPUB" -d "device_code=$DC"
t "a device code that expires_in -5 is expired at once" 'c == 400 and d["error"] == "expired_token"'
ctl POST /_emu/config '{"device":{"interval":5,"expires_in":900}}'

# ------------------------------------------------------------------ closer to the real services
ctl POST /_emu/config '{"latency_ms":1200}'
pids=
for i in $(seq 14); do
	curl -s -m 20 -o "$W/gpar$i" -w '%{http_code}\n' -H "$HB" "$G/profile" >"$W/gpc$i" &
	pids="$pids $!"
done
wait $pids
g429=$(cat "$W"/gpc* | grep -c 429)
g200=$(cat "$W"/gpc* | grep -c 200)
[ "$g429" -ge 1 ] && [ "$g200" -ge 10 ] && grep -q 'Too many concurrent requests for user.' "$W"/gpar* && grep -q '"reason": "rateLimitExceeded"' "$W"/gpar* && ok "Gmail: over 10 concurrent requests per user -> 429 rateLimitExceeded ($g200 ok, $g429 refused)" || nok "gmail concurrency: $(cat "$W"/gpc* | tr '\n' ' ')"
ctl POST /_emu/config '{"gmail_concurrency":0}'
pids=
for i in $(seq 12); do
	curl -s -m 20 -o /dev/null -w '%{http_code}\n' -H "$HB" "$G/profile" >"$W/gqc$i" &
	pids="$pids $!"
done
wait $pids
[ "$(cat "$W"/gqc* | grep -c 200)" -eq 12 ] && ok "gmail_concurrency 0 turns the limit off" || nok "gmail_concurrency 0: $(cat "$W"/gqc* | tr '\n' ' ')"
ctl POST /_emu/config '{"gmail_concurrency":10,"latency_ms":0}'
r -X POST -H "$HB" -H "Content-Type: multipart/mixed; boundary=b" --data-binary @"$W/b3" "$B/batch"
t "the retired global batch endpoint: 404" 'c == 404 and "text/html" in h'
r -X POST -H "$HB" -H "Content-Type: multipart/mixed; boundary=b" --data-binary @"$W/b3" "$B/batch/"
t "/batch/ without an API: 404" 'c == 404'
r -X POST -H "$HB" -H "Content-Type: multipart/mixed; boundary=b" --data-binary @"$W/b3" "$B/batch/drive/v3"
t "another API's batch path: 404" 'c == 404'
# redirect URIs
pkce
r "$B/o/oauth2/v2/auth?client_id=$GCID&redirect_uri=http://127.0.0.1:5555/callback&response_type=code&scope=$META&code_challenge=$CH&code_challenge_method=S256&state=s"
t "Google: a loopback redirect_uri with another path: 400 redirect_uri_mismatch page, no redirect" 'c == 400 and "redirect_uri_mismatch" in s and "text/html" in h and not re.search(r"(?im)^location:", h)'
r "$B/o/oauth2/v2/auth?client_id=$GCID&redirect_uri=http://127.0.0.1:5555&response_type=code&scope=$META&code_challenge=$CH&code_challenge_method=S256&state=s"
t "Google: any port, the registered path (none = /)" 'c == 302 and re.search(r"(?im)^location: http://127\.0\.0\.1:5555\?code=", h)'
r "$B/o/oauth2/v2/auth?client_id=$GCID&redirect_uri=http://evil.example/&response_type=code&scope=$META&code_challenge=$CH&code_challenge_method=S256&state=s"
t "Google: an unregistered host: 400, no redirect" 'c == 400 and not re.search(r"(?im)^location:", h)'
r "$B/common/oauth2/v2.0/authorize?client_id=$MPUB&response_type=code&redirect_uri=http://localhost:47124/cb&response_mode=query&scope=$MSCOPE&state=m&code_challenge=$CH&code_challenge_method=S256"
t "Microsoft: another path: 400 AADSTS50011 page, no redirect" 'c == 400 and "AADSTS50011" in s and "text/html" in h and not re.search(r"(?im)^location:", h)'
r "$B/common/oauth2/v2.0/authorize?client_id=$MPUB&response_type=code&redirect_uri=http://localhost:47199&response_mode=query&scope=$MSCOPE&state=m&code_challenge=$CH&code_challenge_method=S256"
t "Microsoft: a redirect URI without a path comes back with a trailing slash" 'c == 302 and re.search(r"(?im)^location: http://localhost:47199/\?code=", h)'
# Graph: expired delta state, partial items
ctl POST /_emu/config '{"delta_410_code":"resyncRequired"}'
r -H "$MH" -H "$PREF" "$DL2"
t "delta_410_code resyncRequired is still selectable" 'c == 410 and d["error"]["code"] == "resyncRequired"'
ctl POST /_emu/config '{"delta_410_code":"SyncStateNotFound"}'
deltaend() { # deltaend URL: follow the pages to the deltaLink -> DLX, all items in $W/items
	u=$1
	: >"$W/items"
	for _ in $(seq 40); do
		r -H "$MH" -H "$PREF" "$u"
		python3 -c 'import json,sys;[print(json.dumps(v)) for v in json.load(open(sys.argv[1]))["value"]]' "$W/out" >>"$W/items"
		get DLX 'd.get("@odata.deltaLink", "")'
		[ -n "$DLX" ] && break
		get u 'd["@odata.nextLink"]'
	done
}
deltaend "$GR/me/mailFolders/inbox/messages/delta?$SEL"
DLI=$DLX
deltaend "$GR/me/mailFolders/archive/messages/delta?$SEL"
DLA=$DLX
r "$B/_emu/mailboxes/carol@firm.example"
get UPD '[m["id"] for m in d["list"] if m["folder"] == "inbox"][0]'
get MOV '[m["id"] for m in d["list"] if m["folder"] == "inbox"][1]'
ctl POST /_emu/mailboxes/carol@firm.example/update "{\"id\":\"$UPD\",\"isRead\":false}"
ctl POST /_emu/mailboxes/carol@firm.example/move "{\"id\":\"$MOV\",\"to\":\"archive\"}"
ctl POST /_emu/mailboxes/carol@firm.example/messages '{"from":"jane@acme.example","subject":"Brand new","body":"n","folder":"inbox"}'
get NEWI 'd["added"][0]["id"]'
deltaend "$DLI"
ITEMS='[json.loads(x) for x in open(w + "/items")]'
t "delta: an updated message comes back with only id, isRead, parentFolderId (+ @odata.type, @odata.etag)" '[sorted(v) for v in '"$ITEMS"' if v["id"] == "'"$UPD"'"] == [["@odata.etag", "@odata.type", "id", "isRead", "parentFolderId"]] and [v["isRead"] for v in '"$ITEMS"' if v["id"] == "'"$UPD"'"] == [False]'
t "delta: a new message is a full item, a moved-out one @removed" '[v["subject"] for v in '"$ITEMS"' if v["id"] == "'"$NEWI"'"] == ["Brand new"] and [v.get("@removed") for v in '"$ITEMS"' if v["id"] == "'"$MOV"'"] == [{"reason": "deleted"}]'
DLI=$DLX
deltaend "$DLA"
t "delta: in the destination folder a moved message is a full item" '[("subject" in v, v["parentFolderId"] != "") for v in '"$ITEMS"' if v["id"] == "'"$MOV"'"] == [(True, True)]'
ctl POST /_emu/config '{"graph_partial_updates":false}'
ctl POST /_emu/mailboxes/carol@firm.example/update "{\"id\":\"$UPD\",\"isRead\":true}"
deltaend "$DLI"
t "graph_partial_updates false: the updated message is a full item" '[("subject" in v, v["isRead"] if "isRead" in v else None) for v in '"$ITEMS"' if v["id"] == "'"$UPD"'"] == [(True, None)]'
ctl POST /_emu/config '{"graph_partial_updates":true}'
# Gmail: an access token that expires inside a batch
ctl POST /_emu/tokens/expire '{"mailbox":"bob@firm.example"}'
r -H "$HB" -H "Content-Type: multipart/mixed; boundary=b" --data-binary @"$W/b3" "$B/batch/gmail/v1"
t "an expired token on a batch: 200, every part 401 with Google's body" 'c == 200 and [int(x) for x in re.findall(r"HTTP/1.1 (\d+)", s)] == [401, 401, 401] and s.count("UNAUTHENTICATED") == 3'
gauth "$META" bob@firm.example; gtoken
get ATB 'd["access_token"]'
HB="Authorization: Bearer $ATB"
# Gmail history: label changes
r -H "$HB" "$G/profile"
get BH0 'd["historyId"]'
r "$B/_emu/mailboxes/bob@firm.example"
get BSPAM '[m["id"] for m in d["list"] if "SPAM" in m["labelIds"]][0]'
ctl POST /_emu/mailboxes/bob@firm.example/move "{\"id\":\"$BSPAM\",\"add\":[\"INBOX\"],\"remove\":[\"SPAM\"]}"
ctl POST /_emu/mailboxes/bob@firm.example/messages '{"from":"bob@firm.example","to":"x@acme.example","subject":"draft","body":"d","labels":["DRAFT"]}'
get BDRAFT 'd["added"][0]["id"]'
ctl POST /_emu/mailboxes/bob@firm.example/move "{\"id\":\"$BDRAFT\",\"add\":[\"SENT\"],\"remove\":[\"DRAFT\"]}"
r -H "$HB" "$G/history?startHistoryId=$BH0"
t "history: out of SPAM is labelsAdded + labelsRemoved, not messagesAdded" '[sorted(k for k in x if k not in ("id", "messages")) for x in d["history"] if x["messages"][0]["id"] == "'"$BSPAM"'"] == [["labelsAdded"], ["labelsRemoved"]]'
r -H "$HB" "$G/history?startHistoryId=$BH0&historyTypes=labelAdded"
t "historyTypes=labelAdded: the labelsAdded records only (spam rescue, draft sent)" '[(x["messages"][0]["id"], x["labelsAdded"][0]["labelIds"]) for x in d["history"]] == [("'"$BSPAM"'", ["INBOX"]), ("'"$BDRAFT"'", ["SENT"])] and all(set(x) == {"id", "messages", "labelsAdded"} for x in d["history"])'
r -H "$HB" "$G/history?startHistoryId=$BH0&historyTypes=messageAdded"
t "historyTypes=messageAdded: the new draft only" '[x["messagesAdded"][0]["message"]["id"] for x in d["history"]] == ["'"$BDRAFT"'"]'
r -H "$HB" "$G/history?startHistoryId=$BH0&historyTypes=labelAdded&historyTypes=labelRemoved"
t "several historyTypes combine" 'len(d["history"]) == 4 and {k for x in d["history"] for k in x} == {"id", "messages", "labelsAdded", "labelsRemoved"}'
r -H "$HB" "$G/history?startHistoryId=$BH0&historyTypes=labelsAdded"
t "historyTypes takes the singular enum: labelsAdded is 400" 'c == 400 and d["error"]["errors"][0]["reason"] == "invalidArgument"'

# ------------------------------------------------------------------ log
r "$B/_emu/log?prefix=/gmail/v1/users/me/messages"
t "log: method, path, query, status, mailbox, units, time" 'all(k in d["entries"][0] for k in ("method","path","query","status","mailbox","units","time"))'
r "$B/_emu/log"
t "log records a format=full request (body_requested) and Graph body_returned" 'any(e.get("body_requested") for e in d["entries"]) and any(e.get("body_returned") and e["path"].startswith("/v1.0") for e in d["entries"])'
t "log links inner batch requests to their batch" 'any("batch" in e for e in d["entries"]) and any("batch_id" in e for e in d["entries"])'
if grep -q -e "$AT" -e "$RT" -e "$MRT2" -e "$MAT" "$W/log.jsonl" "$W/out"; then nok "tokens leaked into the log"; else ok "no token in the log or log file"; fi
[ "$(wc -l <"$W/log.jsonl")" -gt 50 ] && ok "--log writes JSON Lines" || nok "--log file"
ctl DELETE /_emu/log
r "$B/_emu/log"
t "log cleared" 'd["entries"] == []'

# ------------------------------------------------------------------ lifecycle
kill -TERM "$PID"
for _ in $(seq 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$PID" 2>/dev/null; then nok "SIGTERM stops the emulator"; else wait "$PID"; rc=$?; [ $rc -eq 0 ] && ok "SIGTERM stops the emulator cleanly" || nok "exit status $rc"; fi
PID=
python3 "$EMU" --generate gmail:1,outlook:1,messages:50 --port 0 --port-file "$W/port2" --idle-timeout 1 >/dev/null 2>&1 &
PID=$!
for _ in $(seq 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$PID" 2>/dev/null; then nok "--idle-timeout exits"; else ok "--idle-timeout exits on its own"; PID=; fi

# the generator's threads: 40 % single messages and a long tail, mean 3
python3 "$EMU" --generate gmail:1,messages:3000,threads:3 --port 0 --port-file "$W/port3" --idle-timeout 30 >/dev/null 2>&1 &
PID=$!
for _ in $(seq 100); do [ -s "$W/port3" ] && break; sleep 0.1; done
B3=http://127.0.0.1:$(cat "$W/port3")
r "$B3/_emu/mailboxes/gmail1@firm.example?limit=100000"
t "--generate threads:3: mean thread length about 3, about 40 % single, none over 100" 'len({x["threadId"] for x in d["list"]}) and 2.7 <= len(d["list"]) / len({x["threadId"] for x in d["list"]}) <= 3.3 and 0.3 <= (lambda c: sum(1 for v in c.values() if v == 1) / len(c))(__import__("collections").Counter(x["threadId"] for x in d["list"])) <= 0.5 and max(__import__("collections").Counter(x["threadId"] for x in d["list"]).values()) <= 100'
kill "$PID" 2>/dev/null
wait "$PID" 2>/dev/null
PID=

echo "1..$n"
[ $failed -eq 0 ]

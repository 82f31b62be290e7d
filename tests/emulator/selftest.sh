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
t "expired delta token: 410 syncStateNotFound" 'c == 410 and d["error"]["code"] == "syncStateNotFound"'
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

echo "1..$n"
[ $failed -eq 0 ]

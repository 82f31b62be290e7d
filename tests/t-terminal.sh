#!/bin/bash
# What reaches a person's terminal: hostile text from emails and
# providers (escape sequences, bidi and invisible characters, invalid
# UTF-8) is neutralised in every output, and the outputs for people fit
# the terminal.
. "$MS_SRC/tests/lib.sh"
export MAILSYNC_DB="$T/db"
q() { sqlite3 -cmd ".timeout 5000" "$MAILSYNC_DB" "$1"; }
tc() { python3 "$MS_SRC/tests/data/term-check.py" "$@"; }

# The hostile text: clear the screen, retitle the window (OSC ... BEL),
# backspace, DEL, 8-bit CSI and OSC (U+009B, U+009D), a right-to-left
# override that turns "exe.png" around, a zero-width space, a BOM.
EVIL=$'\e[2J\e]0;pwned\a\b\x7f\u009b31m\u009d2;x\u202egnp.exe\u200b\ufeff'
export EVIL

mailsync-clients -q import "$MS_SRC/share/sample/clients.jsonl"
printf '%s\n' '{"id": "c-evil", "name": "Evil\u001b[2J\u202eCorp\u0007", "email": "boss@evil.example", "contacts": [{"name": "Bad\u009bName", "email": "bad@evil.example"}]}' \
	>"$T/evil.jsonl"
mailsync-clients -q import "$T/evil.jsonl"

# A CRM email with hostile headers (RFC 2047, as a CRM would encode them)
# and body (raw 8-bit), recorded as the CRM records it.
python3 - "$T/evil.eml" <<'PY'
import base64, os, sys
evil = os.environ["EVIL"]
enc = lambda s: "=?UTF-8?B?" + base64.b64encode(s.encode()).decode() + "?="
head = (f"From: {enc('Mal' + evil + 'lory')} <billing@firm.example>\r\n"
        "To: ops@acme.example\r\n"
        f"Subject: Invoice {enc(evil)} Q4\r\n"
        "Date: Fri, 20 Nov 2026 14:03:00 +0000\r\n"
        "Message-ID: <evil1@crm.firm.example>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n")
body = ("Dear team," + evil + "\nsecond line\nend\n").encode()
open(sys.argv[1], "wb").write(head.encode() + body)
PY
crm=$(mailsync-record "$T/evil.eml")
check "mailsync-record stores the hostile CRM email" test -n "$crm"

# A synced email as pull stores it (Gmail decodes "&#27;" in snippets to
# a raw ESC), with invalid UTF-8 besides: a lone continuation byte, an
# overlong "/", a truncated sequence. An account whose last error quotes
# a provider's hostile reply.
ev=$(printf '%s' "$EVIL" | xxd -p | tr -d '\n')
q "INSERT INTO accounts (id, provider, address, member, created, last_sync,
       status, last_error)
     VALUES (1, 'gmail', 'alice@firm.example', 'alice', 0, unixepoch() - 300,
             'error', CAST(X'48545450203530333a20' || X'$ev' || X'80c0afe282' AS TEXT));
   INSERT OR IGNORE INTO addresses (email) VALUES ('jane@acme.example'),
     ('alice@firm.example');
   INSERT INTO emails (id, message_id, source, direction, date, subject,
       snippet, has_attachments)
     VALUES (100, '<g-evil@acme.example>', 'gmail', 'in', 1794956800,
             CAST(X'52656e6577616c20' || X'$ev' || X'2080c0afe282' || X'20646f6e65' AS TEXT),
             CAST(X'4869' || X'$ev' || X'ff' || X'207468657265' AS TEXT), 1);
   INSERT INTO email_addrs (email_id, role, pos, address_id, name)
     SELECT 100, 0, 0, id, CAST(X'4a616e65' || X'$ev' || X'fe' AS TEXT)
       FROM addresses WHERE email = 'jane@acme.example'
     UNION ALL SELECT 100, 1, 0, id, '' FROM addresses WHERE email = 'alice@firm.example';
   INSERT INTO email_accounts VALUES (100, 1, '18cevil');"
mailsync-match -q

# outcheck NAME MODE [WORD...] -- COMMAND...: run it (exit 0, or the
# status in $want), and check its stdout's bytes in MODE.
outcheck() {
	local name=$1 mode=$2 words=()
	shift 2
	while [ "$1" != -- ]; do words+=("$1"); shift; done
	shift
	run "$@"
	if [ "$rc" -ne "${want:-0}" ]; then
		not_ok "$name: exit $rc"
		sed 's/^/# stderr: /' "$T/err"
		return
	fi
	if tc $mode "$T/out" "${words[@]}" 2>"$T/why"; then ok "$name"; else
		not_ok "$name"
		sed 's/^/# /' "$T/why"
	fi
}
R=$'\ufffd'

outcheck "the Emails table: no control character, the text around kept, U+FFFD where they were" \
	people Invoice Q4 Renewal done "$R[2J$R]0;pwned" gnp.exe -- mailsync-show c-17
outcheck "the Emails table in colour: only its own SGR sequences" \
	people+sgr Invoice Renewal -- mailsync-show --color always c-17
outcheck "the table on a narrow terminal too" \
	people Invoice Renewal -- env COLUMNS=60 mailsync-show c-17
outcheck "--tsv: every control character a space, seven fields a line" \
	tsv Invoice Renewal "Invoice  [2J ]0;pwned" -- mailsync-show --tsv c-17
check "--tsv: seven fields" test "$(awk -F'\t' '{print NF}' "$T/out" | sort -u)" = 7
outcheck "--json: valid UTF-8, controls only as JSON escapes" \
	json Invoice Renewal -- mailsync-show --json c-17
check "--json: the CRM email's subject and sender name exact" python3 - "$T/out" <<'PY'
import json, os, sys
evil = os.environ["EVIL"]
rows = {r["id"]: r for r in map(json.loads, open(sys.argv[1]))}
crm = next(r for r in rows.values() if r["source"] == "crm" and "Invoice" in r["subject"])
assert crm["subject"] == "Invoice " + evil + " Q4", repr(crm["subject"])
assert crm["from"]["name"] == "Mal" + evil + "lory", repr(crm["from"])
g = rows[100]
assert g["subject"].startswith("Renewal " + evil) and g["subject"].endswith(" done"), repr(g["subject"])
assert "\ufffd" in g["subject"] and "\ufffd" in g["snippet"] and "\ufffd" in g["from"]["name"]
PY
outcheck "--html: controls dropped, all escaped, well formed" \
	html Invoice Renewal "Invoice [2J]0;pwned31m2;xgnp.exe Q4" -- mailsync-show --html c-17
outcheck "--html --fragment" html Invoice -- mailsync-show --html --fragment c-17
outcheck "--view of the CRM email: headers and body clean, the body's lines kept" \
	people "Subject: Invoice $R[2J" "From: Mal$R" "Dear team,$R[2J" "second line" -- \
	mailsync-show --view "$crm"
check "--view keeps the body's line breaks" \
	bash -c "grep -qx 'second line' '$T/out' && grep -qx 'end' '$T/out'"
outcheck "--view --html of the CRM email" html "Dear team," "second line" -- \
	mailsync-show --view "$crm" --html
want=65 outcheck "--view of the synced email: its snippet, clean" people Hi there -- \
	mailsync-show --view 100
outcheck "--accounts: the last error clean" people alice@firm.example "HTTP 503:" -- \
	mailsync-show --accounts
outcheck "--accounts on 80 columns" people "HTTP 503" -- env COLUMNS=80 mailsync-show --accounts
outcheck "--accounts --tsv" tsv "HTTP 503:" -- mailsync-show --accounts --tsv
outcheck "--accounts --json" json "HTTP 503:" -- mailsync-show --accounts --json
outcheck "--accounts --html" html "HTTP 503:" -- mailsync-show --accounts --html
want=1 outcheck "--accounts --check: the last error clean" people "failing: HTTP 503:" -- \
	mailsync-show --accounts --check
outcheck "clients list" people Evil Corp Acme -- mailsync-clients list
outcheck "clients list --tsv" tsv Evil Corp -- mailsync-clients list --tsv
outcheck "clients list --json" json Evil Corp -- mailsync-clients list --json
check "clients list --json: the name exact" \
	bash -c "grep -qF '\"name\":\"Evil\\u001b[2J\\u202eCorp\\u0007\"' '$T/out'"
# The config listings: what a broken or hostile database holds is shown
# safely too (the tools themselves store only normalised addresses).
q "INSERT INTO aliases VALUES (CAST(X'$ev' || X'40782e6578616d706c65' AS TEXT), 1, 'manual');
   INSERT INTO blocklist VALUES (CAST(X'40' || X'$ev' || X'ff' AS TEXT), 0)"
outcheck "config aliases (tab-separated)" tsv "@x.example" alice@firm.example -- mailsync-config aliases
outcheck "config aliases --json" json "@x.example" -- mailsync-config aliases --json
outcheck "config blocklist" people "@$R[2J" -- mailsync-config blocklist
outcheck "config blocklist --json" json "@" -- mailsync-config blocklist --json
outcheck "config list" people "exclude.bulk=off" -- mailsync-config list

run mailsync-show "$EVIL@acme.example"
check "an error quoting an argument: clean" tc people "$T/err" "no client"

done_testing

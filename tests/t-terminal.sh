#!/bin/bash
# What reaches a person's terminal: hostile text from emails and
# providers (escape sequences, bidi and invisible characters, invalid
# UTF-8) is neutralised in every output, and the outputs for people fit
# the terminal.
. "$MS_SRC/tests/lib.sh"
export MAILSYNC_DB="$T/db"
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
# a provider's hostile reply. Written by hand: no tool stores invalid
# UTF-8, and what is tested is that whatever a database holds prints
# safely.
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

# --- The table fits the terminal -----------------------------------------

# More of a client's list: the CRM's sample emails and one with a subject
# and a recipient's name in wide (two-column) characters.
for m in "$MS_SRC"/share/sample/crm/0[124]*.eml; do mailsync-record -q "$m" >/dev/null; done
mailsync-record -q >/dev/null <<'EOF'
Message-ID: <crm-wide@crm.firm.example>
Date: Wed, 18 Nov 2026 00:00:00 +0000
From: Alice Martin <alice@firm.example>
To: =?UTF-8?B?5bGx55SwIOWkqumDjg==?= <jane@acme.example>
Subject: =?UTF-8?B?5p2x5Lqs44Kq44OV44Kj44K544Gu5aWR57SE5pu05paw44Gr44Gk44GE?=
 =?UTF-8?B?44Gm44Gu44GU5qGI5YaF44Go44GK6KaL56mN44KC44KK44Gu5Lu2?=
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

来週の打ち合わせの前に資料をお送りします
EOF
mailsync-match -q
nemails=$(mailsync-show --tsv c-17 | wc -l)

pty() { python3 "$MS_SRC/tests/data/pty-run.py" "$@"; }
# scr FILE COLS PYTHON: the screen report of FILE (pty-run.py --screen)
# as d; PYTHON must hold.
scr() {
	python3 - "$1" "$2" "$3" <<'PY'
import json, re, subprocess, sys, os
d = json.loads(subprocess.run([sys.executable, os.environ["MS_SRC"] + "/tests/data/pty-run.py",
    "--screen", sys.argv[1], sys.argv[2]], capture_output=True, check=True).stdout)
lines = [l for l in d["lines"] if l]
if not eval(sys.argv[3]):
    print("# widest %d, wrapped %s, colour %s" % (d["widest"], d["wrapped"], d["sgr"]))
    for l in d["lines"]:
        print("# |" + l)
    sys.exit(1)
PY
}
export MS_SRC

for cols in 60 120; do
	rc=0
	pty --cols $cols "$T/tty$cols" -- mailsync-show c-17 || rc=$?
	expect_rc "on a terminal of $cols columns" 0
	check "$cols columns: no line wider than the terminal, none wraps" \
		scr "$T/tty$cols" $cols "d['widest'] <= $cols and not d['wrapped']"
	check "$cols columns: one line per email" \
		scr "$T/tty$cols" $cols "len(lines) == $nemails"
	check "$cols columns: coloured" scr "$T/tty$cols" $cols "d['sgr']"
done
check "60 columns: every subject keeps 20 columns or more" \
	scr "$T/tty60" 60 "all(any(s in l for l in lines) for s in ['Invoice \ufffd[2J\ufffd]0;pw', 'Re: Welcome to Firm,', '東京オフィスの契約', 'Renewal \ufffd[2J\ufffd]0;pw'])"
check "60 columns: no snippet, the badge one letter, the date with its time" \
	scr "$T/tty60" 60 "all(re.match(r'[↑↓] [CGO] \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d ', l) for l in lines) and not any(' — ' in l for l in lines)"
check "120 columns: the snippet after the subject and ' — '" \
	scr "$T/tty120" 120 "any(' — Raj, Jane' in l for l in lines)"
check "120 columns: full badges" \
	scr "$T/tty120" 120 "all(re.match(r'[↑↓] (CRM    |Gmail  |Outlook) \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d ', l) for l in lines)"

rc=0
pty --cols 40 "$T/tty40" -- mailsync-show c-17 || rc=$?
check "40 columns: the date drops its time, nothing wraps" \
	scr "$T/tty40" 40 "d['widest'] <= 40 and all(re.match(r'[↑↓] [CGO] \\d{4}-\\d\\d-\\d\\d [ 📎]', l) for l in lines)"

rc=0
pty --cols 120 "$T/ttydumb" -- env TERM=dumb mailsync-show c-17 || rc=$?
check "TERM=dumb: no colour" scr "$T/ttydumb" 120 "not d['sgr'] and len(lines) == $nemails"
rc=0
pty --cols 120 "$T/ttync" -- env NO_COLOR=1 mailsync-show c-17 || rc=$?
check "NO_COLOR: no colour" scr "$T/ttync" 120 "not d['sgr']"
rc=0
pty --cols 120 "$T/ttycol" -- env COLUMNS=70 mailsync-show c-17 || rc=$?
check "COLUMNS wins over the terminal's width" \
	scr "$T/ttycol" 120 "d['widest'] <= 70 and d['widest'] > 60"

COLUMNS=50 mailsync-show c-17 >"$T/pipe50"
check "COLUMNS applies when stdout is not a terminal" \
	scr "$T/pipe50" 50 "d['widest'] <= 50 and not d['sgr']"
(unset COLUMNS; mailsync-show c-17 >"$T/pipe")
check "not a terminal, no COLUMNS: nothing cut" \
	scr "$T/pipe" 1000 "d['widest'] > 120 and any(l.endswith('booked for next Tuesday. Best, Alice') for l in lines)"

# --accounts fits 80 columns: a long address and error shortened with "…".
# The account: a mailbox with a long address, connected and synced (two
# hours ago: the clock moved back), then its grant revoked.
. "$MS_SRC/tests/lib-emu.sh"
emu_start
setup_apps
long=a.rather.long.shared.mailbox@subsidiary.firm.example
emu POST /_emu/mailboxes "{\"provider\": \"outlook\", \"address\": \"$long\"}" >/dev/null
connect_mailbox outlook $long bob
mailsync-pull -q --account $long ||
	{ echo "Bail out! the pull of $long failed"; exit 1; }
q "UPDATE accounts SET last_sync = unixepoch() - 7200 WHERE address = '$long'"
emu POST /_emu/grants/revoke "{\"mailbox\": \"$long\"}" >/dev/null
emu POST /_emu/tokens/expire "{\"mailbox\": \"$long\"}" >/dev/null
mailsync-pull -q --account $long 2>/dev/null
check "the long address needs re-authorization" \
	test "$(q "SELECT status FROM accounts WHERE address = '$long'")" = needs-reauth
rc=0
pty --cols 80 "$T/acc80" -- mailsync-show --accounts || rc=$?
expect_rc "--accounts on a terminal of 80 columns" 0
check "--accounts: within 80 columns, a header and a line per account" \
	scr "$T/acc80" 80 "d['widest'] <= 80 and len(lines) == 3 and lines[0].startswith('PROVIDER ')"
LONG_ERR=$(q "SELECT last_error FROM accounts WHERE address = '$long'")
export LONG_ERR
check "--accounts: the long address and the error cut with '…'" \
	scr "$T/acc80" 80 "'a.rather.long' in lines[2] and lines[2].count('…') == 2 and any(lines[2].endswith(os.environ['LONG_ERR'][:k] + '…') for k in range(5, 60))"
check "--accounts: the last sync as how long ago" \
	scr "$T/acc80" 80 "' 5 min ago ' in lines[1] and ' 2 h ago ' in lines[2]"

# --- mailsync-pull on a terminal ------------------------------------------

export MAILSYNC_DB="$T/pull/mailsync.db"
export ACCTS="alice@firm.example bob@firm.example carol@firm.example"
setup_sample gmail:alice gmail:bob outlook:carol
# A hostile message, as a provider delivers it: Gmail's snippet carries
# the body's ESC (decoded from "&#27;" where Gmail encodes it).
python3 "$MS_SRC/tests/data/pull-check.py" add alice@firm.example "$(python3 -c '
import base64, json, os
e = os.environ["EVIL"]
print(json.dumps({"message_id": "<evil.gmail@mail.acme.example>",
    "date": "2026-11-21T08:00:00Z", "from": "Jane Doe <jane@acme.example>",
    "to": "alice@firm.example", "labels": ["INBOX"],
    "subject": "Offer =?UTF-8?B?" + base64.b64encode(e.encode()).decode() + "?= 2027",
    "body": "Hi Alice," + e + " the offer"}))')" >/dev/null ||
	{ echo "Bail out! the emulator refused the hostile message"; exit 1; }

# Ctrl-C during a slowed first sync: one line says what was stored, exit
# 130, and the next run finishes the work.
econf '{"latency_ms": 600}'
rc=0
pty --cols 60 --timeout 120 --intr-on 'firm\.example [0-9]' "$T/intr" -- mailsync-pull || rc=$?
expect_rc "Ctrl-C during a pull" 130
check "Ctrl-C: one line says what was stored and that the next run resumes" \
	scr "$T/intr" 60 "len([l for l in lines if 'interrupted' in l]) == 1 and any(re.fullmatch(r'mailsync-pull: interrupted: [0-9]+ new emails? stored; the next run resumes', l) for l in lines)"
check "Ctrl-C: the progress line was cleared" \
	scr "$T/intr" 60 "not any(re.match(r'\S+@\S+ [0-9]', l) for l in lines)"
econf '{"latency_ms": 0}'
run mailsync-pull -q
expect_rc "the run after Ctrl-C" 0
check "the run after Ctrl-C finished the work: each account holds its mailbox" \
	python3 "$MS_SRC/tests/data/pull-check.py" links
check "and each Message-ID is stored once" python3 "$MS_SRC/tests/data/pull-check.py" emails
mailsync-match -q
outcheck "a hostile message pulled from Gmail: the table clean" \
	people "Offer $R[2J" "Hi Alice,$R[2J" -- mailsync-show c-17
outcheck "a hostile message pulled from Gmail: --tsv clean" tsv "Offer  [2J" -- mailsync-show --tsv c-17
outcheck "a hostile message pulled from Gmail: --json exact" json "Offer $EVIL 2027" \
	"Hi Alice,$EVIL the offer" -- mailsync-show --json c-17

# The progress line: within the terminal's width, redrawn in place,
# cleared at the end; none with -q.
econf '{"latency_ms": 400}'
rc=0
pty --cols 60 --timeout 120 "$T/prog" -- mailsync-pull --full || rc=$?
expect_rc "a slowed pull on a terminal of 60 columns" 0
check "progress: drawn, each account with what it read, or summed up as +N more" \
	scr "$T/prog" 60 "any(re.match(r'(alice|bob|carol)@firm\.example [0-9,]+(/[0-9,]+)?( |$)', l) for l in d['drawn'])"
# (The run's report lines after it are log lines: the terminal may wrap
# those.)
progress_lines="[l for l in d['drawn'] if l and not l.startswith('mailsync-pull: ')]"
check "progress: never wider than 60 columns, never wraps" \
	scr "$T/prog" 60 "$progress_lines and max(len(l) for l in $progress_lines) <= 59"
check "progress: cleared at the end (only the run's report lines remain)" \
	scr "$T/prog" 60 "lines and all(l.startswith('mailsync-pull: ') for l in lines)"
rc=0
pty --cols 200 --timeout 120 "$T/prog200" -- mailsync-pull --full || rc=$?
check "progress on 200 columns: every account on the line" \
	scr "$T/prog200" 200 "any(all(a in l for a in ('alice@firm.example', 'bob@firm.example', 'carol@firm.example')) for l in d['drawn'])"
rc=0
pty --cols 30 --timeout 120 "$T/prog30" -- mailsync-pull --full || rc=$?
check "progress on 30 columns: the rest summed up as +N more, no wrap" \
	scr "$T/prog30" 30 "max(len(l) for l in $progress_lines) <= 29 and any('more' in l for l in $progress_lines)"
rc=0
pty --cols 60 --timeout 120 "$T/progq" -- mailsync-pull -q --full || rc=$?
check "-q: no progress line" scr "$T/progq" 60 "not d['drawn'] or all(not l for l in d['drawn'])"
econf '{"latency_ms": 0}'

done_testing

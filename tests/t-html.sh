#!/bin/bash
# mailsync-show --html as people see it: the Emails tab and the accounts
# page rendered by a real browser (Debian's chromium, headless), checked
# on its screenshots (tests/data/png.py decodes them) and on its DOM.
# The fixture is made by the tools: clients imported, CRM emails
# recorded, Gmail and Outlook mailboxes connected and pulled from the
# provider emulator, then matched.
. "$MS_SRC/tests/lib.sh"
export CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
	echo "1..0 # SKIP $CHROMIUM is not installed (Debian package chromium)"
	exit 77
fi
EMU_DATA="$MS_SRC/tests/data/html-mail.json"
. "$MS_SRC/tests/lib-emu.sh"
export MAILSYNC_DB="$T/data/mailsync.db"
emu_start
hc() { python3 "$MS_SRC/tests/data/html-check.py" "$@"; }
chrome() { python3 "$MS_SRC/tests/data/chrome.py" "$@"; }
# shot PAGE PNG [--dark]: a screenshot, 1200 pixels wide and $H high
# (1400 unless set); dom PAGE DOMFILE: its DOM.
shot() {
	chrome shot "$1" "$2" 1200 "${H:-1400}" "${@:3}" ||
		{ echo "Bail out! chromium could not render $1"; tail -5 "$T/chrome.log"; exit 1; }
}
dom() {
	chrome dom "$1" >"$2" ||
		{ echo "Bail out! chromium could not load $1"; tail -5 "$T/chrome.log"; exit 1; }
}
echo "# $(chrome version)"
check "png.py reads 8-bit RGB and RGBA with every filter type (0-4)" \
	python3 "$MS_SRC/tests/data/png.py" --selftest "$T/selftest.png"

# --- The fixture -----------------------------------------------------------

mailsync-clients -q import "$MS_SRC/share/sample/clients.jsonl"
crm="$MS_SRC/share/sample/crm"
for m in "$crm/01-welcome.eml" "$crm/02-invoice.eml" "$crm/03-bucher.eml" \
    "$crm/04-followup.eml"; do
	mailsync-record -q "$m" >/dev/null ||
		{ echo "Bail out! mailsync-record $m"; exit 1; }
done
# A CRM invoice with a PDF attached, whose signature is in its View
# only (the snippet stops at the "-- " line); and a
# hostile one: ESC sequences, a right-to-left override and a <script>
# in its subject (RFC 2047, as a CRM encodes it) and body.
python3 - "$T/invoice.eml" "$T/hostile.eml" <<'PY'
import base64, sys
enc = lambda s: "=?UTF-8?B?" + base64.b64encode(s.encode()).decode() + "?="
inv = ("From: Firm Billing <billing@firm.example>\r\n"
       "To: Acme Operations <ops@acme.example>\r\n"
       "Subject: " + enc("Invoice 2026-121 – November") + "\r\n"
       "Date: Fri, 20 Nov 2026 14:03:00 +0000\r\n"
       "Message-ID: <crm-0121@crm.firm.example>\r\nMIME-Version: 1.0\r\n"
       "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
       "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n"
       "Content-Transfer-Encoding: 8bit\r\n\r\n"
       "Dear Acme team,\r\n\r\nplease find attached invoice 2026-121 for "
       "November: three units in size XL at €1,250 each, €3,750 in total, "
       "due within 30 days.\r\n\r\nKind regards,\r\nFirm Billing\r\n"
       "-- \r\nPayment reference: PAYREF-7781-ACME\r\n"
       "--b1\r\nContent-Type: application/pdf; name=\"2026-121.pdf\"\r\n"
       "Content-Disposition: attachment; filename=\"2026-121.pdf\"\r\n"
       "Content-Transfer-Encoding: base64\r\n\r\n"
       + base64.b64encode(b"%PDF-1.4 not really").decode() + "\r\n--b1--\r\n")
evil = "\x1b[2J\x1b]0;pwned\x07\u202egnp.exe <script>alert(1)</script>"
bad = ("From: Firm Billing <billing@firm.example>\r\n"
       "To: finance@globex.example\r\n"
       "Subject: Invoice " + enc(evil) + " Q4\r\n"
       "Date: Sat, 21 Nov 2026 09:00:00 +0000\r\n"
       "Message-ID: <crm-evil@crm.firm.example>\r\nMIME-Version: 1.0\r\n"
       "Content-Type: text/plain; charset=utf-8\r\n"
       "Content-Transfer-Encoding: 8bit\r\n\r\n"
       "Dear team,\x1b[2J <script>alert('body')</script>\n"
       "<img src=x onerror=alert(2)> second line\n")
open(sys.argv[1], "w", encoding="utf-8", newline="").write(inv)
open(sys.argv[2], "w", encoding="utf-8", newline="").write(bad)
PY
invoice=$(mailsync-record "$T/invoice.eml") && hostile=$(mailsync-record "$T/hostile.eml") ||
	{ echo "Bail out! mailsync-record of the test's CRM emails"; exit 1; }

# Mailboxes: alice, bob and erin on Gmail, carol, frank and dave on
# Outlook. After the first pull frank is disconnected; bob's grant is
# revoked and erin's mailbox refuses (403), so the second pull leaves
# bob needing re-authorization and erin in error; dave is connected
# last and never synced (stale).
setup_apps
connect_mailboxes gmail:alice gmail:bob gmail:erin outlook:carol outlook:frank
run mailsync-pull -q
expect_rc "the fixture: the first pull of five mailboxes" 0
run mailsync-disconnect frank@firm.example
expect_rc "the fixture: frank disconnected" 0
emu POST /_emu/grants/revoke '{"mailbox": "bob@firm.example"}' >/dev/null &&
	emu POST /_emu/tokens/expire '{"mailbox": "bob@firm.example"}' >/dev/null &&
	emu POST /_emu/faults '{"kind": "status", "status": 403, "reason": "forbidden", "prefix": "/gmail/v1/users/me/history", "mailbox": "erin@firm.example", "count": 1}' >/dev/null ||
	{ echo "Bail out! the emulator refused a fault"; exit 1; }
run mailsync-pull -q
expect_rc "the fixture: the second pull (bob revoked)" 77
connect_browser -p outlook --login-hint dave@firm.example --member dave --timeout 30
[ "$rc" -eq 0 ] || { echo "Bail out! connecting dave failed"; cat "$T/err"; exit 1; }
run mailsync-match -q
expect_rc "the fixture: mailsync-match" 0
# As if dave had been connected two hours ago: an account that never
# synced for longer than health.stale_minutes is stale.
q "UPDATE accounts SET created = unixepoch() - 7200 WHERE address = 'dave@firm.example'"

# order CLIENT: "direction:source ..." of its emails, newest first.
order() { mailsync-show --json "$1" | python3 -c '
import json, sys
print(" ".join(e["direction"] + ":" + e["source"] for e in map(json.loads, sys.stdin)))'; }

# --- Acme's Emails tab: every kind of email ---------------------------------

run mailsync-show --html c-17
expect_rc "--html c-17" 0
cp "$T/out" "$T/acme.html"
mailsync-show --json c-17 >"$T/acme.jsonl"
acme=$(order c-17)
check "the fixture: Acme has CRM, Gmail and Outlook emails, inbound and outbound" \
	bash -c "for k in out:crm in:gmail out:gmail in:outlook out:outlook; do case ' $acme ' in *\" \$k \"*) ;; *) exit 1;; esac; done"
check "a standalone HTML5 page: doctype, lang, charset, viewport, CSP, no script, nothing from elsewhere" \
	hc page "$T/acme.html"
check "colours: every text and background pair at least 4.5:1 (WCAG AA), light, dark and print" \
	hc contrast "$T/acme.html"
shot "$T/acme.html" "$T/acme.png"
dom "$T/acme.html" "$T/acme.dom"
check "the screenshot: each row's arrow in its colour (blue in, green out) beside its source badge in its colour, newest first" \
	hc rows "$T/acme.png" "$T/acme.html" light "$acme"
check "the screenshot: the light scheme, dark text on white" \
	hc scheme "$T/acme.png" "$T/acme.html" light
check "the screenshot: the CRM, Gmail and Outlook badges and both arrows drawn" \
	hc colours "$T/acme.png" "$T/acme.html" light crm,gmail,outlook,in,out,muted
check "the DOM row by row as --json: order, arrow words, badge, <time datetime>, name and address, subject as stored, snippet apart, attachment mark" \
	hc emails "$T/acme.dom" "$T/acme.jsonl" "$MAILSYNC_DB"
check "the DOM: a View (<details>) with headers and the whole body on CRM emails only, the body's end only inside it" \
	hc view "$T/acme.dom" "$MAILSYNC_DB"
subject=$(q "SELECT subject FROM emails WHERE message_id = '<AM0PR.delivery.4711@acme.example>'")
check "the non-ASCII subject is stored as sent" test "$subject" = "Delivery confirmed – Größe XL, 3 × €1,250 ✓"
check "the DOM's text holds it exactly: no mojibake" \
	hc text "$T/acme.dom" "$subject" --not "Ã" "â€"
check "the header: the client's name and every address on its record" \
	hc text "$T/acme.dom" "Acme Ltd" ops@acme.example portal@acme.example jane@acme.example raj@acme.example

# The Views, opened: the same page with every <details open>.
sed 's/<details class="ms-view">/<details class="ms-view" open>/' "$T/acme.html" >"$T/acme-open.html"
H=2400 shot "$T/acme.html" "$T/acme-tall.png"
H=2400 shot "$T/acme-open.html" "$T/acme-open.png"
nviews=$(grep -c '<details class="ms-view">' "$T/acme.html")
check "the View content is hidden until opened, and drawn in place once open ($nviews panels)" \
	hc panels "$T/acme-tall.png" "$T/acme-open.png" "$T/acme.html" light "$nviews"

# The README's picture (share/doc/emails-tab.png), when asked for:
# MS_DOC_SHOT=PATH meson test html. The invoice's View is opened.
if [ -n "${MS_DOC_SHOT:-}" ]; then
	python3 - "$T/acme.html" "$invoice" >"$T/doc.html" <<'PY'
import re, sys
page = open(sys.argv[1], encoding="utf-8").read()
i = page.index('<tr data-id="%s">' % sys.argv[2])
j = page.index('<details class="ms-view">', i)
sys.stdout.write(page[:j] + '<details class="ms-view" open>' + page[j + 25:])
PY
	chrome shot "$T/doc.html" "$T/doc.png" 900 "${MS_DOC_HEIGHT:-1600}" &&
		python3 "$MS_SRC/tests/data/png.py" --palette "$T/doc.png" "$MS_DOC_SHOT" &&
		echo "# wrote $MS_DOC_SHOT ($(wc -c <"$MS_DOC_SHOT") bytes)"
fi

# A narrow screen (a phone, or a narrow box in the CRM): each email's
# cells flow onto lines of their own, nothing runs off the edge.
chrome shot "$T/acme.html" "$T/acme-narrow.png" 420 2400
check "narrow (420 px): nothing runs off the right edge" \
	hc fits "$T/acme-narrow.png" "$T/acme.html" light
check "narrow: each row's arrow beside its badge, in their colours" \
	hc rows "$T/acme-narrow.png" "$T/acme.html" light "$acme"

# The dark scheme (prefers-color-scheme: dark).
shot "$T/acme.html" "$T/acme-dark.png" --dark
check "dark: light text on a dark background" \
	hc scheme "$T/acme-dark.png" "$T/acme.html" dark
check "dark: each row's arrow and badge in the dark scheme's colours" \
	hc rows "$T/acme-dark.png" "$T/acme.html" dark "$acme"
H=2400 shot "$T/acme.html" "$T/acme-tall-dark.png" --dark
H=2400 shot "$T/acme-open.html" "$T/acme-open-dark.png" --dark
check "dark: the opened View panels in the dark panel colour" \
	hc panels "$T/acme-tall-dark.png" "$T/acme-open-dark.png" "$T/acme.html" dark "$nviews"

# Print: the print stylesheet applied on screen (its @media made all):
# black on white whatever the scheme, no badge backgrounds, no View
# button, closed Views stay closed, opened ones print open.
check "the page has a print stylesheet" grep -q '@media print{' "$T/acme.html"
sed 's/@media print{/@media all{/' "$T/acme-open.html" >"$T/acme-print.html"
shot "$T/acme-print.html" "$T/acme-print.png" --dark
check "print: black on white even in the dark scheme" \
	hc scheme "$T/acme-print.png" "$T/acme.html" print
check "print: no badge or View panel backgrounds, no colour of the dark scheme" \
	hc absent "$T/acme-print.png" "$T/acme.html" dark crm,gmail,outlook,panel,in,out
sed 's/@media print{/@media all{/' "$T/acme.html" >"$T/acme-print-closed.html"
python3 -c 'import re, sys; sys.stdout.write(re.sub(r"<details class=\"ms-view\">.*?</details>", "", open(sys.argv[1], encoding="utf-8").read(), flags=re.S))' \
	"$T/acme-print-closed.html" >"$T/acme-print-none.html"
shot "$T/acme-print-closed.html" "$T/acme-print-closed.png"
shot "$T/acme-print-none.html" "$T/acme-print-none.png"
check "print: a closed View prints nothing, not even its button (as if it were not there)" \
	hc same "$T/acme-print-closed.png" "$T/acme-print-none.png"

# --- The fragment: one element to embed ---------------------------------------

run mailsync-show --html --fragment c-17
expect_rc "--html --fragment c-17" 0
cp "$T/out" "$T/frag.html"
check "--fragment: one <section class=ms-tab> with its own <style>, every selector under .ms-tab, every class ms-" \
	hc fragment "$T/frag.html"
check "--fragment: the page's tab, less the page's header" \
	bash -c "sed -n '/^<section/,/^<\/section>/p' '$T/acme.html' | sed '1s/ ms-page//' | grep -v '^<header\|^<ul class=\"ms-addrs\"' | cmp -s - '$T/frag.html'"
# Embedded in a host page with loud styles of its own, it keeps its own.
{
	printf '%s\n' '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>CRM</title>' \
		'<style>body{background:#202020;color:#ffff00;font:20px serif}table,td,th{border:3px solid #ff00ff;color:#00ffff;background:#402040}span{color:#ff8800}</style>' \
		'</head><body><h1>Acme Ltd in the CRM</h1><div style="width:1000px">'
	cat "$T/frag.html"
	printf '%s\n' '</div></body></html>'
} >"$T/host.html"
shot "$T/host.html" "$T/host.png"
check "embedded in a host page: its arrows and badges in their colours, row by row" \
	hc rows "$T/host.png" "$T/acme.html" light "$acme"
check "embedded in a host page: its own background and text colours" \
	hc colours "$T/host.png" "$T/acme.html" light bg,fg,muted

# --- A hostile email: escaped, controls dropped ------------------------------

run mailsync-show --html c-18
cp "$T/out" "$T/globex.html"
mailsync-show --json c-18 >"$T/globex.jsonl"
check "hostile: still a standalone page with no script" hc page "$T/globex.html"
check "hostile: no raw control character in the page" \
	python3 "$MS_SRC/tests/data/term-check.py" html "$T/globex.html" "<script>alert(1)</script>"
dom "$T/globex.html" "$T/globex.dom"
check "hostile: the subject is text in the DOM (no <script> element), its controls dropped" \
	hc text "$T/globex.dom" "Invoice [2J]0;pwnedgnp.exe <script>alert(1)</script> Q4" \
	"<img src=x onerror=alert(2)> second line" --not $'\e' $'\u202e'
check "hostile: the DOM row by row as --json" \
	hc emails "$T/globex.dom" "$T/globex.jsonl" "$MAILSYNC_DB"
check "hostile: the View's body as text, its controls dropped" \
	hc view "$T/globex.dom" "$MAILSYNC_DB"
shot "$T/globex.html" "$T/globex.png"
check "hostile: the rows drawn as usual" \
	hc rows "$T/globex.png" "$T/globex.html" light "$(order c-18)"

# --- Empty and unknown clients -----------------------------------------------

run mailsync-show --html c-20
expect_rc "--html of a client with no email" 0
cp "$T/out" "$T/empty.html"
check "empty: a page all the same" hc page "$T/empty.html"
dom "$T/empty.html" "$T/empty.dom"
check "empty: it says there are no emails, no table" hc empty "$T/empty.dom"
check "empty: under the client's name and address" \
	hc text "$T/empty.dom" Initech billing@initech.example
shot "$T/empty.html" "$T/empty.png"
check "empty: the message is drawn" hc colours "$T/empty.png" "$T/empty.html" light fg,muted
run mailsync-show --html --fragment c-20
check "empty --fragment: one element too" hc fragment "$T/out"
run mailsync-show --html nobody@nowhere.example
expect_rc "--html of an unknown client" 66
check "an unknown client: no page" test ! -s "$T/out"

# --- The accounts page -------------------------------------------------------

run mailsync-show --accounts --html
expect_rc "--accounts --html" 0
cp "$T/out" "$T/accounts.html"
mailsync-show --accounts --json >"$T/accounts.jsonl"
check "the fixture: accounts active, stale, needs-reauth, disconnected and in error" python3 - "$T/accounts.jsonl" <<'PY'
import json, sys
a = {r["address"].split("@")[0]: (r["status"], r["stale"]) for r in map(json.loads, open(sys.argv[1]))}
assert a == {"alice": ("active", False), "bob": ("needs-reauth", False),
             "carol": ("active", False), "dave": ("active", True),
             "erin": ("error", False), "frank": ("disconnected", False)}, a
PY
check "--accounts --html: a standalone page" hc page "$T/accounts.html"
dom "$T/accounts.html" "$T/accounts.dom"
check "--accounts --html: a provider badge and a status badge per account, worded for people" \
	hc accounts "$T/accounts.dom" "$T/accounts.jsonl"
shot "$T/accounts.html" "$T/accounts.png"
check "--accounts --html: every status badge drawn in its colour" \
	hc colours "$T/accounts.png" "$T/accounts.html" light active,stale,reauth,off,error,gmail,outlook
chrome shot "$T/accounts.html" "$T/accounts-narrow.png" 420 1400
check "--accounts --html, narrow: nothing runs off the right edge" \
	hc fits "$T/accounts-narrow.png" "$T/accounts.html" light
shot "$T/accounts.html" "$T/accounts-dark.png" --dark
check "--accounts --html: dark too" hc scheme "$T/accounts-dark.png" "$T/accounts.html" dark

done_testing

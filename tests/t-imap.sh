#!/bin/bash
# Generic IMAP accounts against a real Dovecot on 127.0.0.1 (lib-imap.sh):
# connect (implicit TLS, STARTTLS, plain refused off loopback, a wrong
# password), full and incremental pulls of tricky messages, special-use
# folders left out, the snippet read from the first 2 KB only, folders
# created and deleted, a UIDVALIDITY change, a message moved, a password
# changed after connecting, a server that cuts the connection, kill -9.
. "$MS_SRC/tests/lib.sh"
. "$MS_SRC/tests/lib-imap.sh"
export MAILSYNC_DB="$T/data/mailsync.db"
A=alice@firm.example
# jm_says FOLDER NAME MESSAGE-ID SUBJECT DATE BODY: a plain one-line
# message from jm@client.example to alice, into her FOLDER.
jm_says() {
	printf 'From: jm@client.example\nTo: alice@firm.example\nSubject: %s\nDate: %s\nMessage-ID: <%s>\n\n%s\n' \
	    "$4" "$5" "$3" "$6" | imap_msg $A "$1" "$2"
}

imap_start

# The mail: the kinds of tricky messages the other tests use.
imap_msg $A INBOX m1 <<'EOF'
From: =?UTF-8?B?SsO8cmdlbiBNw7xsbGVy?= <jm@client.example>
To: Alice <alice@firm.example>, "Doe, Jane" <jane@client.example>
Cc: ops@client.example
Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_Z=C3=BCrich?=
Date: Mon, 20 Nov 2026 10:00:00 +0000
Message-ID: <m1@client.example>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Hallo Alice, sch=C3=B6ne Gr=C3=BC=C3=9Fe =
aus Z=C3=BCrich.
--b1
Content-Type: application/pdf; name="offer.pdf"
Content-Disposition: attachment; filename="offer.pdf"
Content-Transfer-Encoding: base64

JVBERi0xLjQK
--b1--
EOF
imap_msg $A INBOX m2 <<'EOF'
From: Jane <jane@client.example>
To: alice@firm.example
Subject: nested
Date: Tue, 21 Nov 2026 09:00:00 +0100
Message-ID: <m2@client.example>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="o"

--o
Content-Type: multipart/alternative; boundary="i"

--i
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: base64

Q2hhcm1hbnRlIHNvaXLpZSwgSmFuZQ==
--i
Content-Type: text/html; charset=utf-8

<p>Charmante soir&eacute;e, Jane</p>
--i--
--o
Content-Type: image/png
Content-Transfer-Encoding: base64

iVBORw0KGgo=
--o--
EOF
imap_msg $A INBOX m3 <<'EOF'
From: news@shop.example
To: alice@firm.example
Subject: HTML only
Date: Wed, 22 Nov 2026 08:00:00 +0000
Message-ID: <m3@shop.example>
List-Unsubscribe: <mailto:unsub@shop.example>
Content-Type: text/html; charset=iso-8859-1

<html><head><style>p{color:red}</style></head><body><p>Big <b>sale</b>
today</p></body></html>
EOF
{
	printf 'From: jm@client.example\nTo: alice@firm.example\n'
	printf 'Subject: long\nDate: Thu, 23 Nov 2026 08:00:00 +0000\n'
	printf 'Message-ID: <m4@client.example>\n\nThe start of a long text.\n'
	for i in $(seq 100); do echo "line $i of the long body, nothing to see"; done
	echo "MARKER-BEYOND-2K this must never be read"
} | imap_msg $A INBOX m4
imap_msg $A INBOX m5 <<'EOF'
From: jm@client.example
To: alice@firm.example
Subject: no id
Date: Fri, 24 Nov 2026 08:00:00 +0000

No Message-ID here.
EOF
imap_msg $A Sent s1 <<'EOF'
From: Alice <alice@firm.example>
To: jm@client.example
Subject: Re: =?ISO-8859-1?Q?Gr=FC=DFe?=
Date: Mon, 20 Nov 2026 11:00:00 +0000
Message-ID: <s1@firm.example>
In-Reply-To: <m1@client.example>

Thanks!
EOF
for f in Trash Junk Drafts Spam Archive; do
	jm_says $f x-$f "$f@client.example" "in $f" \
	    "Fri, 24 Nov 2026 09:00:00 +0000" "not for the profile unless Archive or Spam"
done

# Connecting
run mailsync-connect -p imap --host 127.0.0.1 --imap-port $IMAPS \
	--user $A --password secret1
expect_rc "a password on the command line is refused" 64
printf 'wrong\n' >"$T/pw"
run mailsync-connect -p imap --host 127.0.0.1 --imap-port $IMAPS \
	--user $A --password-file "$T/pw"
expect_rc "a wrong password" 77
grep_err "the server's refusal is quoted" 'refused the login: NO \[AUTHENTICATIONFAILED\]'
check "in one line" test "$(grep -vc 'created the key file' "$T/err")" -eq 1
check "nothing stored: the login is checked before the database is made" test ! -e "$MAILSYNC_DB"
run mailsync-connect -p imap --host imap.example.com --plain --user x \
	--password-stdin </dev/null
expect_rc "plain IMAP to a host off loopback is refused" 64
grep_err "it says why" 'clear text is allowed to 127.0.0.1'
# A server that greets and never answers the login: --timeout holds.
python3 "$MS_SRC/tests/data/silent-imap.py" 20 >"$T/silent.port" &
silent=$!
for _ in $(seq 50); do [ -s "$T/silent.port" ] && break; sleep 0.1; done
t0=$(date +%s)
run mailsync-connect -p imap --host 127.0.0.1 --imap-port "$(cat "$T/silent.port")" \
	--plain --user $A --password-stdin --timeout 2 <<<'secret1'
expect_rc "a server that never answers the login: temporary" 75
check "--timeout 2 ends it within 6 s" test $(($(date +%s) - t0)) -le 6
check "and nothing is stored" test ! -e "$MAILSYNC_DB"
kill $silent 2>/dev/null; wait $silent 2>/dev/null || :
run mailsync-connect -p imap --host 127.0.0.1 \
	--imap-port $IMAPS --user $A --password-stdin --member alice <<<'secret1'
expect_rc "connect over implicit TLS" 0
expect_out "it says so" <<EOF
connected imap $A member=alice
EOF
grep -q "user=<$A>, method=PLAIN.*TLS" "$D/dovecot.log" &&
	ok "AUTHENTICATE PLAIN over TLS, as the server offers" ||
	not_ok "AUTHENTICATE PLAIN over TLS: $(tail -3 "$D/dovecot.log")"
check "the password is sealed" test \
	"$(q "SELECT count(*) FROM imap_servers WHERE instr(password, 'secret1') = 0")" -eq 1
printf 'secret2\n' >"$T/pw"
run mailsync-connect -p imap --host localhost --imap-port $IMAP --starttls \
	--user bob --password-file "$T/pw" --member bob
expect_rc "connect with STARTTLS on the 143 port" 0
grep_out "USER@HOST when USER is no address" '^connected imap bob@localhost member=bob$'
MAILSYNC_CA_FILE= run mailsync-connect -p imap --host 127.0.0.1 \
	--imap-port $IMAPS --user $A --password-file "$T/pw"
expect_rc "a certificate the system does not trust is refused" 69
grep_err "it names the certificate problem" 'certificate'

# The first pull
run mailsync-pull --json
expect_rc "the first pull" 0
grep_out "alice's account" "\"account\":\"$A\",\"provider\":\"imap\",\"status\":\"ok\",\"fetched\":8,\"new\":8"
subj() { q "SELECT subject FROM emails WHERE message_id = '$1'"; }
snip() { q "SELECT snippet FROM emails WHERE message_id = '$1'"; }
att() { q "SELECT has_attachments FROM emails WHERE message_id = '$1'"; }
check "RFC 2047 subjects decoded" test "$(subj '<m1@client.example>')" = "Grüße aus Zürich"
check "and names" test "$(q "SELECT name FROM email_addrs ea JOIN emails e ON e.id = ea.email_id WHERE e.message_id = '<m1@client.example>' AND role = 0")" = "Jürgen Müller"
check "quoted-printable text decoded into the snippet" test "$(snip '<m1@client.example>')" = "Hallo Alice, schöne Grüße aus Zürich."
check "an attachment seen in BODYSTRUCTURE" test "$(att '<m1@client.example>')" = 1
check "a nested text part, base64 in Latin-1" test "$(snip '<m2@client.example>')" = "Charmante soirée, Jane"
check "a non-text leaf is an attachment" test "$(att '<m2@client.example>')" = 1
check "HTML only: tags and styles stripped" test "$(snip '<m3@shop.example>')" = "Big sale today"
check "no attachment there" test "$(att '<m3@shop.example>')" = 0
check "List-Unsubscribe marks bulk mail" test "$(q "SELECT bulk FROM emails WHERE message_id = '<m3@shop.example>'")" = 1
check "a message without Message-ID is stored" test "$(q "SELECT count(*) FROM emails WHERE subject = 'no id' AND message_id LIKE '%synthetic%'")" -eq 1
check "sent mail is outbound" test "$(q "SELECT direction FROM emails WHERE message_id = '<s1@firm.example>'")" = out
check "Trash, Junk and Drafts are left out (SPECIAL-USE)" test "$(q "SELECT count(*) FROM emails WHERE subject IN ('in Trash', 'in Junk', 'in Drafts')")" -eq 0
check "folders without a special use are synced" test "$(q "SELECT count(*) FROM emails WHERE subject IN ('in Archive', 'in Spam')")" -eq 2
check "the long body's snippet is its start" test "$(snip '<m4@client.example>' | cut -c1-25)" = "The start of a long text."
check "nothing past the first 2 KB reached the database" test "$(q "SELECT count(*) FROM emails WHERE snippet LIKE '%MARKER%' OR body IS NOT NULL")" -eq 0
imap_rawlog $A out >"$T/sent-by-server"
if grep -q MARKER-BEYOND-2K "$T/sent-by-server"; then
	not_ok "the marker past 2 KB never crossed the wire"
else
	ok "the marker past 2 KB never crossed the wire (Dovecot's rawlog)"
fi
grep -q 'BODY\[1\]<0> {2048}' "$T/sent-by-server" &&
	ok "the long part was read 2048 bytes far" ||
	not_ok "the long part was read 2048 bytes far"
check "the server sent no whole body" test "$(grep -c 'BODY\[TEXT\]\|BODY\[\] ' "$T/sent-by-server")" -eq 0
run mailsync-show --accounts --json
grep_out "the accounts show as imap" "\"provider\":\"imap\",\"address\":\"$A\""
run mailsync-clients import - <<'EOF'
{"id": "c-1", "name": "Client", "email": "jm@client.example"}
EOF
mailsync-match -q
run mailsync-show --json --source imap c-1
grep_out "--source imap selects them, source imap" '"source":"imap"'
COLUMNS=100 run mailsync-show --color always c-1
grep_out "a grey badge" $'\e\\[[0-9;]*(90|37|100|47)m'

# An idle run: one LIST, no folder opened
: >"$T/mark"
rm -f "$D/rawlog/$A"/*
run mailsync-pull --json
expect_rc "an idle pull" 0
grep_out "nothing new" "\"account\":\"$A\",\"provider\":\"imap\",\"status\":\"ok\",\"fetched\":0,\"new\":0"
cmds=$(imap_rawlog $A in | grep -c '^[0-9.]* m[0-9]* ')
check "an idle run is one command after the login ($cmds)" test "$cmds" -eq 2
check "the LIST returns STATUS, no EXAMINE" test "$(imap_rawlog $A in | grep -c 'EXAMINE')" -eq 0

# Incremental: a new message, a folder created, one deleted, one moved
jm_says INBOX m6 "m6@client.example" "later" \
    "Sat, 25 Nov 2026 08:00:00 +0000" "Later news."
jm_says Projects/2026 p1 "p1@client.example" "project" \
    "Sat, 25 Nov 2026 09:00:00 +0000" "A project."
imap_folder_rm $A Archive
run mailsync-config set imap.exclude "Spam; Nothing/Here"
expect_rc "imap.exclude is a setting" 0
jm_says Spam x-Spam2 "spam2@client.example" "excluded" \
    "Sat, 25 Nov 2026 10:00:00 +0000" "in an excluded folder"
cp "$(imap_dir $A INBOX)/cur/m2:2,S" "$(imap_dir $A Projects/2026)/cur/m2-moved:2,S"
rm "$(imap_dir $A INBOX)/cur/m2:2,S"
[ "$(id -u)" -eq 0 ] && chown -R "$imap_uid:$imap_gid" "$D/mail"
run mailsync-pull --json
expect_rc "an incremental pull" 0
grep_out "two new messages, the moved one known" "\"account\":\"$A\",\"provider\":\"imap\",\"status\":\"ok\",\"fetched\":3,\"new\":2"
check "a new folder's mail is synced" test "$(q "SELECT count(*) FROM emails WHERE message_id = '<p1@client.example>'")" -eq 1
check "a deleted folder's emails stay" test "$(q "SELECT count(*) FROM emails WHERE subject = 'in Archive'")" -eq 1
check "a folder imap.exclude names is not synced" test "$(q "SELECT count(*) FROM emails WHERE subject = 'excluded'")" -eq 0
check "a moved message is one email" test "$(q "SELECT count(*) FROM email_accounts ea JOIN emails e ON e.id = ea.email_id WHERE e.message_id = '<m2@client.example>'")" -eq 1

# A UIDVALIDITY change: the folder made again
v0=$(q "SELECT cursor FROM sync_state WHERE folder = 'Projects/2026'")
d=$(imap_dir $A Projects/2026)
mv "$d" "$T/projects" && mkdir -p "$d" && cp -r "$T/projects/cur" "$T/projects/new" "$T/projects/tmp" "$d/"
[ "$(id -u)" -eq 0 ] && chown -R "$imap_uid:$imap_gid" "$D/mail"
n0=$(q "SELECT count(*) FROM email_accounts")
run mailsync-pull -v
expect_rc "a pull after the folder was made again" 0
grep_err "it says the UIDVALIDITY changed" 'UIDVALIDITY of Projects/2026 changed'
v1=$(q "SELECT cursor FROM sync_state WHERE folder = 'Projects/2026'")
check "the cursor has the new UIDVALIDITY" test "$v0" != "$v1"
check "nothing doubled" test "$(q "SELECT count(*) FROM email_accounts")" -eq "$n0"

# A password changed after connecting
imap_passwd bob changed
run mailsync-pull --json
expect_rc "the server refuses bob's password now" 77
grep_out "needs re-authorization" '"account":"bob@localhost","provider":"imap","status":"needs-reauth"'
grep_out "alice goes on" "\"account\":\"$A\",\"provider\":\"imap\",\"status\":\"ok\""
run mailsync-show --accounts --tsv
grep_out "bob's status" $'^imap\tbob@localhost\tbob\tneeds-reauth'
run mailsync-pull -v -a bob@localhost
expect_rc "later pulls wait for a person" 77
grep_err "they say what to run" 'mailsync-connect --provider imap with its --host and --user'
run mailsync-connect -p imap --host localhost \
	--imap-port $IMAP --starttls --user bob --password-stdin <<<'changed'
expect_rc "connecting again with the new password" 0
run mailsync-pull -a bob@localhost
expect_rc "then bob pulls again" 0

# Many messages: a server that cuts the stream, then kill -9
python3 - "$(imap_dir bob INBOX)/cur" <<'EOF'
import sys
d = sys.argv[1]
for i in range(1, 1201):
    with open(f"{d}/bulk{i}:2,S", "w") as f:
        f.write(f"From: c{i % 7}@client.example\nTo: bob@localhost\n"
                f"Subject: bulk {i}\nDate: Sun, 26 Nov 2026 08:00:00 +0000\n"
                f"Message-ID: <bulk{i}@client.example>\n\n"
                + "Body text of a bulk message. " * 20 + "\n")
EOF
[ "$(id -u)" -eq 0 ] && chown -R "$imap_uid:$imap_gid" "$D/mail"
# A proxy in clear text on loopback that cuts every connection after
# 500 KB from the server (the account connected through it, --plain).
PROXY=$(free_port)
python3 - "$PROXY" "$IMAP" 500000 >"$T/proxy.log" 2>&1 <<'EOF' &
import socket, sys, threading
port, dest, cut = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
def pump(a, b, limit):
    n = 0
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            if limit and n + len(d) > limit:
                b.sendall(d[:limit - n])
                break
            n += len(d)
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", port))
l.listen(8)
while True:
    c, _ = l.accept()
    s = socket.create_connection(("127.0.0.1", dest))
    threading.Thread(target=pump, args=(c, s, 0), daemon=True).start()
    threading.Thread(target=pump, args=(s, c, cut), daemon=True).start()
EOF
proxy=$!
for _ in $(seq 50); do python3 -c "import socket; socket.create_connection(('127.0.0.1', $PROXY))" 2>/dev/null && break; sleep 0.1; done
run mailsync-connect -p imap --host 127.0.0.1 \
	--imap-port $PROXY --plain --user bob --password-stdin --member bob <<<'changed'
expect_rc "plain IMAP to loopback, through the proxy" 0
run mailsync-pull -a bob@127.0.0.1
expect_rc "the server cuts every connection mid-fetch: a transient failure" 75
grep_err "it says the server closed it" 'bob@127.0.0.1 \(imap\).*closed the connection'
got=$(q "SELECT count(*) FROM email_accounts ea JOIN accounts a ON a.id = ea.account_id WHERE a.address = 'bob@127.0.0.1'")
check "what came before the cut is kept ($got)" test "$got" -gt 0 -a "$got" -lt 1200
kill $proxy
wait $proxy 2>/dev/null

# kill -9 mid-sync, again and again, then a run to the end
for i in 1 2 3; do
	n0=$(q "SELECT count(*) FROM email_accounts")
	mailsync-pull -q -a bob@localhost >/dev/null 2>&1 &
	p=$!
	for _ in $(seq 300); do
		[ "$(q "SELECT count(*) FROM email_accounts")" -gt "$n0" ] && break
		kill -0 $p 2>/dev/null || break
		sleep 0.02
	done
	kill -9 $p 2>/dev/null
	wait $p 2>/dev/null
done
run mailsync-pull -a bob@localhost --json
expect_rc "the run after the kills" 0
n=$(q "SELECT count(*) FROM email_accounts ea JOIN accounts a ON a.id = ea.account_id WHERE a.address = 'bob@localhost' AND ea.provider_id LIKE '<bulk%'")
check "every message once: nothing lost, nothing doubled ($n)" test "$n" -eq 1200
n=$(q "SELECT count(*) FROM emails WHERE message_id LIKE '<bulk%'")
check "one email per Message-ID across the two bob accounts ($n)" test "$n" -eq 1200
check "the database is sound" test "$(q 'PRAGMA integrity_check')" = ok

done_testing

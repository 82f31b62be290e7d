#!/usr/bin/env python3
"""The IMAP benchmark: mailsync-pull against a local Dovecot.

Prints its figures, asserts nothing. Talks only to 127.0.0.1; starts and
stops its own Dovecot (Debian's dovecot-imapd) with a throw-away
configuration, as tests/lib-imap.sh does, over implicit TLS with a
self-signed certificate trusted through MAILSYNC_CA_FILE.

One folder of --messages messages (a mix as real mail is: plain text,
quoted-printable, multipart/alternative with HTML, attachments, bodies
of 1 to 40 KB), then:

  - the first sync: messages/s, and bytes received per message (what
    Dovecot says it sent, its log's out=, for the whole session: the
    headers, BODYSTRUCTURE and the snippet's part included);
  - an idle run: its commands after the login and its bytes;
  - peak RSS of the first sync.

usage: bench/imap.py [--bin BUILD/cmd] [--messages 10000] [--keep]
"""
import argparse
import os
import random
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


CONF = """base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
info_log_path = {d}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <{d}/cert.pem
ssl_key = <{d}/key.pem
auth_mechanisms = plain login
default_internal_user = {internal}
default_login_user = {login}
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={d}/mail/%u
}}
mail_location = maildir:{d}/mail/%u
service imap-login {{
  chroot =
  inet_listener imaps {{
    address = 127.0.0.1
    port = {port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
protocol imap {{
  rawlog_dir = {d}/rawlog/%u
}}
namespace inbox {{
  inbox = yes
  separator = /
}}
"""


def message(i, rnd):
    kind = i % 5
    words = ("offer contract invoice meeting delivery project report "
             "schedule budget review notes thanks regards").split()
    body = " ".join(rnd.choice(words) for _ in range(rnd.randint(150, 6000)))
    head = (f"From: Client {i % 97} <c{i % 97}@client.example>\n"
            f"To: Bench <bench@firm.example>\n"
            f"Cc: ops{i % 13}@client.example\n"
            f"Subject: =?UTF-8?Q?Message_n=C2=B0_{i}?=\n"
            f"Date: Mon, 20 Nov 2026 10:{i % 60:02d}:00 +0000\n"
            f"Message-ID: <bench{i}@client.example>\n"
            "MIME-Version: 1.0\n")
    if kind == 0:
        return head + "Content-Type: text/plain; charset=utf-8\n\n" + body + "\n"
    if kind == 1:
        qp = body.replace("=", "=3D")
        return (head + "Content-Type: text/plain; charset=utf-8\n"
                "Content-Transfer-Encoding: quoted-printable\n\n" + qp + "\n")
    if kind == 2:
        return (head + 'Content-Type: multipart/alternative; boundary="a"\n\n'
                "--a\nContent-Type: text/plain; charset=utf-8\n\n" + body +
                "\n--a\nContent-Type: text/html; charset=utf-8\n\n<html><body><p>" +
                body + "</p></body></html>\n--a--\n")
    if kind == 3:
        return (head + "Content-Type: text/html; charset=utf-8\n\n"
                "<html><head><style>p{margin:0}</style></head><body><p>" +
                body + "</p></body></html>\n")
    return (head + 'Content-Type: multipart/mixed; boundary="m"\n\n'
            "--m\nContent-Type: text/plain; charset=utf-8\n\n" + body +
            "\n--m\nContent-Type: application/pdf; name=\"a.pdf\"\n"
            "Content-Disposition: attachment; filename=\"a.pdf\"\n"
            "Content-Transfer-Encoding: base64\n\n" + "JVBERi0xLjQK" * 400 +
            "\n--m--\n")


def out_bytes(log, since):
    """Bytes Dovecot sent in the sessions logged after offset since."""
    with open(log) as f:
        f.seek(since)
        text = f.read()
    return sum(int(n) for n in re.findall(r"Logged out in=\d+ out=(\d+)", text))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(HERE, "..", "build", "cmd"))
    ap.add_argument("--messages", type=int, default=10000)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    if not os.path.exists("/usr/sbin/dovecot"):
        print("no /usr/sbin/dovecot: apt-get install dovecot-imapd")
        return 1
    d = tempfile.mkdtemp(prefix="mailsync-imap-bench.")
    os.chmod(d, 0o755)
    root = os.geteuid() == 0
    user = "bench@firm.example"
    env = dict(os.environ, MAILSYNC_DB=d + "/mailsync.db",
               MAILSYNC_CA_FILE=d + "/cert.pem")
    env.pop("MAILSYNC_KEY_FILE", None)
    try:
        for sub in ("run", "state", "mail", "rawlog/" + user):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-keyout", d + "/key.pem", "-out", d + "/cert.pem", "-days", "2",
                        "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                       check=True, capture_output=True)
        os.chmod(d + "/key.pem", 0o644)
        with open(d + "/passwd", "w") as f:
            f.write(f"{user}:{{PLAIN}}benchpw\n")
        port = free_port()
        me = subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
        grp = subprocess.run(["id", "-gn"], capture_output=True, text=True).stdout.strip()
        with open(d + "/dovecot.conf", "w") as f:
            f.write(CONF.format(d=d, port=port,
                                internal="dovecot" if root else me,
                                login="dovenull" if root else me,
                                uid="nobody" if root else me,
                                gid="nogroup" if root else grp))
        mdir = os.path.join(d, "mail", user)
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(mdir, sub), exist_ok=True)
        rnd = random.Random(7)
        total = 0
        for i in range(a.messages):
            m = message(i, rnd)
            total += len(m)
            with open(os.path.join(mdir, "cur", f"b{i}:2,S"), "w") as f:
                f.write(m)
        if root:
            subprocess.run(["chown", "-R", "nobody:nogroup", d + "/mail", d + "/rawlog"],
                           check=True)
        subprocess.run(["/usr/sbin/dovecot", "-c", d + "/dovecot.conf"], check=True)
        time.sleep(0.5)
        # Dovecot indexes a new Maildir on its first SELECT: done before
        # the clock starts, so the figure is mailsync's, not the index's.
        subprocess.run(["doveadm", "-c", d + "/dovecot.conf", "mailbox", "status",
                        "-u", user, "messages", "INBOX"], check=True, capture_output=True)
        bin_ = os.path.abspath(a.bin)
        r = subprocess.run([bin_ + "/mailsync-connect", "-p", "imap", "--host", "127.0.0.1",
                            "--imap-port", str(port), "--user", user,
                            "--password-stdin", "-m", "bench"],
                           input="benchpw\n", text=True, env=env, capture_output=True)
        if r.returncode != 0:
            print("connect failed:", r.stderr)
            return 1
        log = d + "/dovecot.log"
        off = os.path.getsize(log)
        t0 = time.monotonic()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        r = subprocess.run([bin_ + "/mailsync-pull", "-q", "--json"], env=env,
                           capture_output=True, text=True)
        dt = time.monotonic() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        time.sleep(0.3)
        sent = out_bytes(log, off)
        print(f"messages: {a.messages}, {total / a.messages / 1024:.1f} KB each on average "
              f"({total / 2**20:.0f} MB in the folder)")
        print(f"first sync: exit {r.returncode}, {dt:.2f} s, "
              f"{a.messages / dt:.0f} messages/s; {r.stdout.strip()}")
        print(f"first sync: {sent} bytes from the server, "
              f"{sent / a.messages:.0f} bytes per message")
        print(f"first sync: CPU {after.ru_utime - before.ru_utime:.2f} s user, "
              f"peak RSS {after.ru_maxrss / 1024:.0f} MB")
        for f in os.listdir(d + "/rawlog/" + user):
            os.unlink(os.path.join(d, "rawlog", user, f))
        off = os.path.getsize(log)
        t0 = time.monotonic()
        r = subprocess.run([bin_ + "/mailsync-pull", "-q", "--json"], env=env,
                           capture_output=True, text=True)
        dt = time.monotonic() - t0
        time.sleep(0.3)
        cmds = []
        for f in os.listdir(d + "/rawlog/" + user):
            if f.endswith(".in"):
                with open(os.path.join(d, "rawlog", user, f), errors="replace") as fh:
                    cmds += [l.split(" ", 2)[2].strip() for l in fh if l.count(" ") >= 2]
        print(f"idle run: exit {r.returncode}, {dt * 1000:.0f} ms, "
              f"{out_bytes(log, off)} bytes from the server, "
              f"{len(cmds)} commands after the login: {cmds}")
    finally:
        pid = os.path.join(d, "run", "master.pid")
        if os.path.exists(pid):
            with open(pid) as f:
                try:
                    os.kill(int(f.read().strip()), 15)
                except (OSError, ValueError):
                    pass
            time.sleep(0.5)
        if not a.keep:
            shutil.rmtree(d, ignore_errors=True)
        else:
            print("kept", d)
    return 0


if __name__ == "__main__":
    sys.exit(main())

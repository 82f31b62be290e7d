#!/usr/bin/env python3
"""bench_emu.py: measure how fast msemu serves messages.

Starts msemu with generated mailboxes, authorises through the emulated OAuth
flows, then has every mailbox fetched at once, one keep-alive connection
each, with mailsync-pull's own request shapes (bench/pull.py replays the
same): Gmail lists pages of 500 ids and fetches them in POST /batch/gmail/v1
of 50 format=metadata gets with 9 metadataHeaders; Outlook pages the delta
of inbox and sentitems, 200 a page, with the client's $select.  A cold pass
(nothing serialised yet) and a warm pass (served from the cache) each print
messages per second and the emulator's CPU seconds.

    python3 tests/emulator/bench_emu.py [--messages 10000] [--gmail 3]
        [--outlook 2] [--batch 50] [--page 200] [--log] [--passes cold,warm]

--gmail 1 --outlook 0 --messages 200000 measures the big mailbox.
"""

import argparse
import base64
import hashlib
import http.client
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
# mailsync-pull's shapes (common/drivers/gmail.c, common/drivers/graph.c)
HDRS = ["From", "To", "Cc", "Subject", "Date", "Message-ID", "List-Unsubscribe",
        "Precedence", "Auto-Submitted"]
GMAIL_META = "format=metadata&" + "&".join("metadataHeaders=" + h for h in HDRS)
GRAPH_SELECT = ("subject,from,toRecipients,ccRecipients,receivedDateTime,"
                "sentDateTime,bodyPreview,hasAttachments,internetMessageId,"
                "conversationId,isDraft,parentFolderId")
GRAPH_FOLDERS = ("inbox", "sentitems")


def pkce():
    v = secrets.token_urlsafe(48)
    c = base64.urlsafe_b64encode(hashlib.sha256(v.encode()).digest()).decode().rstrip("=")
    return v, c


class Client:
    def __init__(self, port):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def req(self, method, path, body=None, headers=None):
        self.conn.request(method, path, body=body, headers=headers or {})
        r = self.conn.getresponse()
        data = r.read()
        return r.status, dict(r.getheaders()), data


def google_token(c, hint):
    v, ch = pkce()
    ru = "http://127.0.0.1:9/"
    q = urllib.parse.urlencode({
        "client_id": "emu-google-client.apps.googleusercontent.com", "redirect_uri": ru,
        "response_type": "code", "scope": "https://www.googleapis.com/auth/gmail.metadata",
        "code_challenge": ch, "code_challenge_method": "S256", "state": "s",
        "access_type": "offline", "login_hint": hint})
    st, h, _ = c.req("GET", "/o/oauth2/v2/auth?" + q)
    code = urllib.parse.parse_qs(urllib.parse.urlsplit(h["Location"]).query)["code"][0]
    st, h, b = c.req("POST", "/token", urllib.parse.urlencode({
        "code": code, "client_id": "emu-google-client.apps.googleusercontent.com",
        "client_secret": "emu-google-secret", "redirect_uri": ru,
        "grant_type": "authorization_code", "code_verifier": v}),
        {"Content-Type": "application/x-www-form-urlencoded"})
    return json.loads(b)["access_token"]


def ms_token(c, hint):
    v, ch = pkce()
    ru = "http://localhost:9/"
    cid = "11111111-2222-4333-8444-555555555555"
    q = urllib.parse.urlencode({
        "client_id": cid, "redirect_uri": ru, "response_type": "code",
        "scope": "offline_access User.Read Mail.Read", "code_challenge": ch,
        "code_challenge_method": "S256", "state": "s", "login_hint": hint})
    st, h, _ = c.req("GET", "/common/oauth2/v2.0/authorize?" + q)
    code = urllib.parse.parse_qs(urllib.parse.urlsplit(h["Location"]).query)["code"][0]
    st, h, b = c.req("POST", "/common/oauth2/v2.0/token", urllib.parse.urlencode({
        "code": code, "client_id": cid, "redirect_uri": ru,
        "grant_type": "authorization_code", "code_verifier": v}),
        {"Content-Type": "application/x-www-form-urlencoded"})
    return json.loads(b)["access_token"]


def cpu_seconds(pid):
    """utime + stime of a process, from /proc (0 if gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def peak_rss(pid):
    """VmHWM of a process in KiB (0 if unknown)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def gmail_fetch(port, at, batch):
    """List every id (pages of 500), then fetch them in batches: the count
    of 200 parts."""
    c = Client(port)
    auth = {"Authorization": "Bearer " + at}
    ids, tok = [], None
    while True:
        p = "/gmail/v1/users/me/messages?maxResults=500"
        st, h, b = c.req("GET", p + ("&pageToken=" + tok if tok else ""), headers=auth)
        d = json.loads(b)
        ids += [m["id"] for m in d.get("messages", [])]
        tok = d.get("nextPageToken")
        if not tok:
            break
    n = 0
    hdrs = dict(auth, **{"Content-Type": "multipart/mixed; boundary=bb"})
    for i in range(0, len(ids), batch):
        body = "".join("--bb\r\nContent-Type: application/http\r\nContent-ID: <item-%d>\r\n\r\n"
                       "GET /gmail/v1/users/me/messages/%s?%s\r\n\r\n" % (k, mid, GMAIL_META)
                       for k, mid in enumerate(ids[i:i + batch])) + "--bb--\r\n"
        st, h, b = c.req("POST", "/batch/gmail/v1", body.encode(), hdrs)
        n += b.count(b"HTTP/1.1 200 OK")
    return n


def graph_fetch(port, at, page):
    c = Client(port)
    n = 0
    for folder in GRAPH_FOLDERS:
        url = "/v1.0/me/mailFolders/%s/messages/delta?$select=%s" % (folder, GRAPH_SELECT)
        while True:
            st, h, b = c.req("GET", url, headers={
                "Authorization": "Bearer " + at,
                "Prefer": 'odata.maxpagesize=%d, IdType="ImmutableId"' % page})
            d = json.loads(b)
            n += len(d.get("value", []))
            nxt = d.get("@odata.nextLink")
            if not nxt:
                break
            url = nxt.split(str(port), 1)[1]
    return n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=10000, help="per mailbox")
    ap.add_argument("--gmail", type=int, default=3)
    ap.add_argument("--outlook", type=int, default=2)
    ap.add_argument("--batch", type=int, default=50, help="gets per Gmail batch")
    ap.add_argument("--page", type=int, default=200, help="Graph delta page size")
    ap.add_argument("--log", action="store_true", help="run msemu with --log")
    ap.add_argument("--passes", default="cold,warm")
    ap.add_argument("--emu", default=os.path.join(HERE, "msemu.py"))
    a = ap.parse_args()
    tmp = tempfile.mkdtemp()
    pf = os.path.join(tmp, "port")
    cmd = [sys.executable, a.emu, "--generate",
           "gmail:%d,outlook:%d,messages:%d" % (a.gmail, a.outlook, a.messages),
           "--port", "0", "--port-file", pf, "--idle-timeout", "300"]
    if a.log:
        cmd += ["--log", os.path.join(tmp, "emu.log")]
    t0 = time.time()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    try:
        while not os.path.exists(pf):
            if p.poll() is not None:
                sys.exit("msemu exited")
            time.sleep(0.05)
        port = int(open(pf).read())
        print("startup: %d Gmail + %d Outlook x %d messages in %.2f s"
              % (a.gmail, a.outlook, a.messages, time.time() - t0))
        c = Client(port)
        jobs = []
        for j in range(1, a.gmail + 1):
            jobs.append((gmail_fetch, google_token(c, "gmail%d@firm.example" % j), a.batch))
        for j in range(1, a.outlook + 1):
            jobs.append((graph_fetch, ms_token(c, "outlook%d@firm.example" % j), a.page))
        for label in a.passes.split(","):
            got = []
            ths = [threading.Thread(target=lambda f=f, at=at, x=x: got.append(f(port, at, x)))
                   for f, at, x in jobs]
            c0, t1 = cpu_seconds(p.pid), time.time()
            for t in ths:
                t.start()
            for t in ths:
                t.join()
            dt, cpu = time.time() - t1, cpu_seconds(p.pid) - c0
            n = sum(got)
            print("%s: %d messages in %.2f s = %.0f msg/s; emulator CPU %.2f s "
                  "(%.0f msg per CPU s)" % (label, n, dt, n / dt, cpu, n / max(cpu, 1e-9)))
        print("emulator peak RSS: %.0f MB" % (peak_rss(p.pid) / 1024))
    finally:
        p.terminate()
        p.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

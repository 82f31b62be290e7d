#!/usr/bin/env python3
"""bench_emu.py: measure how fast msemu serves messages.

Starts msemu with generated mailboxes, authorises through the emulated OAuth
flows, then fetches every message of one Gmail mailbox with batched
format=metadata requests (100 per batch, keep-alive) and pages one Outlook
folder with delta (odata.maxpagesize=1000).  Prints messages per second for
a cold pass (serialising) and a warm pass (cached).

    python3 tests/emulator/bench_emu.py [--messages 10000] [--clients 1]
"""

import argparse
import base64
import hashlib
import http.client
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
HDRS = ["From", "To", "Cc", "Subject", "Date", "Message-ID", "List-Unsubscribe"]


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


def gmail_ids(c, at):
    ids, tok = [], None
    while True:
        p = "/gmail/v1/users/me/messages?maxResults=500&includeSpamTrash=true"
        if tok:
            p += "&pageToken=" + tok
        st, h, b = c.req("GET", p, headers={"Authorization": "Bearer " + at})
        d = json.loads(b)
        ids += [m["id"] for m in d.get("messages", [])]
        tok = d.get("nextPageToken")
        if not tok:
            return ids


def gmail_batches(port, at, ids, clients):
    q = "format=metadata&" + "&".join("metadataHeaders=" + h for h in HDRS)
    chunks = [ids[i:i + 100] for i in range(0, len(ids), 100)]
    got = [0]
    lock = threading.Lock()

    def work(my):
        c = Client(port)
        for ch in my:
            body = "".join("--bb\r\nContent-Type: application/http\r\nContent-ID: <%d>\r\n\r\n"
                           "GET /gmail/v1/users/me/messages/%s?%s\r\n\r\n" % (i, mid, q)
                           for i, mid in enumerate(ch)) + "--bb--\r\n"
            st, h, b = c.req("POST", "/batch/gmail/v1", body.encode(),
                             {"Authorization": "Bearer " + at,
                              "Content-Type": "multipart/mixed; boundary=bb"})
            n = b.count(b"HTTP/1.1 200 OK")
            with lock:
                got[0] += n
    ths = [threading.Thread(target=work, args=(chunks[k::clients],)) for k in range(clients)]
    t0 = time.time()
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    return got[0], time.time() - t0


def graph_delta(c, at, port):
    url = "/v1.0/me/mailFolders/inbox/messages/delta?$select=subject,from,toRecipients," \
          "ccRecipients,receivedDateTime,internetMessageId,hasAttachments,bodyPreview"
    n = 0
    t0 = time.time()
    while True:
        st, h, b = c.req("GET", url, headers={
            "Authorization": "Bearer " + at,
            "Prefer": 'odata.maxpagesize=1000, IdType="ImmutableId"'})
        d = json.loads(b)
        n += len(d["value"])
        nxt = d.get("@odata.nextLink")
        if not nxt:
            break
        url = nxt.split(str(port), 1)[1]
    return n, time.time() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=10000)
    ap.add_argument("--clients", type=int, default=1)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp()
    pf = os.path.join(tmp, "port")
    t0 = time.time()
    p = subprocess.Popen([sys.executable, os.path.join(HERE, "msemu.py"), "--generate",
                          "gmail:1,outlook:1,messages:%d" % a.messages, "--port", "0",
                          "--port-file", pf, "--idle-timeout", "120"],
                         stdout=subprocess.DEVNULL)
    try:
        while not os.path.exists(pf):
            if p.poll() is not None:
                sys.exit("msemu exited")
            time.sleep(0.05)
        port = int(open(pf).read())
        print("startup with %d messages per mailbox: %.2f s" % (a.messages, time.time() - t0))
        c = Client(port)
        at = google_token(c, "gmail1@firm.example")
        t1 = time.time()
        ids = gmail_ids(c, at)
        dt = time.time() - t1
        print("gmail list: %d ids in %.2f s (%.0f ids/s)" % (len(ids), dt, len(ids) / dt))
        for label in ("cold", "warm"):
            n, dt = gmail_batches(port, at, ids, a.clients)
            print("gmail batch metadata (%s, %d client%s): %d messages in %.2f s = %.0f msg/s"
                  % (label, a.clients, "s" if a.clients > 1 else "", n, dt, n / dt))
        mt = ms_token(c, "outlook1@firm.example")
        for label in ("cold", "warm"):
            n, dt = graph_delta(c, mt, port)
            print("graph delta inbox (%s): %d messages in %.2f s = %.0f msg/s"
                  % (label, n, dt, n / dt))
    finally:
        p.terminate()
        p.wait(10)


if __name__ == "__main__":
    main()

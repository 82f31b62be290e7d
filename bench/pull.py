#!/usr/bin/env python3
"""The sync benchmark: mailsync-pull against the provider emulator.

Prints its figures, asserts nothing. Talks only to 127.0.0.1; starts and
stops the emulator (tests/emulator/msemu.py) itself.

  A  quota-bound: 3 Gmail + 2 Outlook mailboxes of --messages each, 20 ms
     per request, quotas on and scaled by --scale (the Gmail minute lasts
     60/scale s, still 15,000 units); the client's quota settings scaled
     to match. One full pull, then an idle one. The default scale, 10 (a
     6 s minute), keeps the emulator and the pull within the 2 cores of
     the development machine: at 20 the two use 90 % of both cores and
     the figure measures the CPU rather than the limiter (the CPU
     evidence line shows it; try --scale 20).
  B  memory: one Gmail mailbox of --big messages, quotas off, no latency.
  C  speed: 5 mailboxes of --messages, quotas off, no latency; beside it
     the emulator's own ceiling on the same requests, replayed by Python
     on a freshly reset emulator.
  D  learning: 3 Gmail mailboxes of --messages whose real quota is 6,000
     units a minute (Google's current figure) while the client is set to
     15,000: a first sync too long for one run, as under cron: the first
     run (--max-time) learns the quota, the next resumes the sync from
     the learned rate. E: the same mailboxes with the setting left at its
     default. Rate-limit replies and achieved / real quota-bound rate.
  T  threads: one Gmail mailbox of --messages in threads of mean length 3
     (the emulator's threads:3: 40 % single messages, a long tail), real
     quota 6,000 units a minute at --scale, 20 ms per request, the client
     at its defaults (gmail.fetch auto): quota units per message (goal
     3.5 at most), achieved msg/s against the message-by-message quota
     bound at the same quota (goal 1.4 times or more), and the stored
     rows against a message-by-message sync of the same mailbox (into a
     second database, quotas off), field by field.
  F  Outlook folders: the requests of an idle run of one mailbox with 45
     tracked folders (goal 3), and the full sync of 5 folders of
     --messages each, quotas off, no latency: messages/s, requests per
     message.

With quotas off the client's own limiter is lifted by setting its quota
settings to 1e9 (no pacing in practice).

usage: bench/pull.py [--bin BUILD/cmd] [--dir WORKDIR] [--scale 10]
                     [--messages 10000] [--big 200000] [--quick]
                     [--skip A] [--skip B] [--skip C] [--skip D] [--skip T] [--skip F]
"""
import argparse
import http.client
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
EMU = os.path.join(SRC, "tests", "emulator", "msemu.py")
# The emulator's own benchmark: its OAuth helpers, the client's request
# shapes and its fetch loops, replayed here for the emulator's ceiling.
sys.path.insert(0, os.path.dirname(EMU))
import bench_emu  # noqa: E402
GOOGLE_ID = "emu-google-client.apps.googleusercontent.com"
GOOGLE_SECRET = "emu-google-secret"
MS_ID = "11111111-2222-4333-8444-555555555555"
GMAIL_UNITS = 15000          # the emulator's documented per-minute default
COST_GET = 5                 # Gmail units of one messages.get
UNLIMITED = "1000000000"     # client quota settings when quotas are off
RSS_GOAL = 32 * 1024         # KiB

# The client's Gmail batch and page sizes (common/drivers/gmail.c).
GMAIL_BATCH = 50
PAGE = 500


def note(msg):
    print("pull.py: " + msg, file=sys.stderr, flush=True)


class Emulator:
    """msemu.py on 127.0.0.1, any free port."""

    def __init__(self, work, generate, scale=None, log=True):
        self.work = work
        self.port_file = os.path.join(work, "emu.port")
        self.log = os.path.join(work, "emu.log") if log else None
        cmd = [sys.executable, EMU, "--generate", generate, "--port", "0",
               "--port-file", self.port_file, "--idle-timeout", "600"]
        if scale:
            cmd += ["--time-scale", str(scale)]
        if self.log:
            cmd += ["--log", self.log]
        self.out = open(os.path.join(work, "emu.out"), "w")
        t0 = time.perf_counter()
        self.p = subprocess.Popen(cmd, stdout=self.out, stderr=self.out,
                                  env=clean_env(os.environ))
        for _ in range(1200):  # 120 s at most (200,000 messages take ~7 s)
            if os.path.exists(self.port_file) and os.path.getsize(self.port_file):
                break
            if self.p.poll() is not None:
                sys.exit("pull.py: the emulator exited; see %s" % self.out.name)
            time.sleep(0.1)
        else:
            self.stop()
            sys.exit("pull.py: the emulator did not start in 120 s")
        self.startup = time.perf_counter() - t0
        self.port = int(open(self.port_file).read())
        self.url = "http://127.0.0.1:%d" % self.port

    def ctl(self, method, path, body=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        data = json.dumps(body).encode() if body is not None else None
        c.request(method, path, body=data,
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        out = r.read()
        c.close()
        if r.status != 200:
            sys.exit("pull.py: %s %s: %d %s" % (method, path, r.status, out[:200]))
        return json.loads(out)

    def log_size(self):
        return os.path.getsize(self.log) if self.log else 0

    def entries(self, start=0):
        """Log entries appended since byte offset start."""
        with open(self.log, "rb") as f:
            f.seek(start)
            return [json.loads(l) for l in f if l.strip()]

    def cpu(self):
        return bench_emu.cpu_seconds(self.p.pid)

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(15)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(5)
        self.out.close()


def clean_env(env):
    """No proxy: everything here is loopback."""
    env = dict(env)
    for k in list(env):
        if k.lower() in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
            del env[k]
    return env


class Mailsync:
    """The binaries on one throw-away database, pointed at an emulator."""

    def __init__(self, bin_, work, emu):
        self.bin = bin_
        self.work = work
        self.db = os.path.join(work, "data", "mailsync.db")
        e = emu.url
        self.env = clean_env(dict(
            os.environ, MAILSYNC_DB=self.db, LC_ALL="C.UTF-8",
            MAILSYNC_GOOGLE_AUTH_URL=e + "/o/oauth2/v2/auth",
            MAILSYNC_GOOGLE_TOKEN_URL=e + "/token",
            MAILSYNC_GOOGLE_REVOKE_URL=e + "/revoke",
            MAILSYNC_GMAIL_API_URL=e, MAILSYNC_MS_AUTHORITY_URL=e,
            MAILSYNC_GRAPH_API_URL=e))

    def exe(self, name):
        return os.path.join(self.bin, "mailsync-" + name)

    def setup(self):
        for cmd, stdin in (
                (["-p", "gmail", "--client-id", GOOGLE_ID,
                  "--client-secret-stdin"], GOOGLE_SECRET + "\n"),
                (["-p", "outlook", "--client-id", MS_ID], None)):
            p = subprocess.run([self.exe("connect"), "-q", "--setup"] + cmd,
                               env=self.env, input=stdin, text=True,
                               capture_output=True, timeout=60)
            if p.returncode != 0:
                sys.exit("pull.py: connect --setup failed: " + p.stderr)

    def connect(self, provider, address):
        """The loopback flow, this script playing the browser."""
        errf = os.path.join(self.work, "connect.err")
        with open(errf, "w") as err:
            p = subprocess.Popen(
                [self.exe("connect"), "-p", provider, "--login-hint", address,
                 "--member", address.split("@")[0], "--timeout", "30"],
                env=self.env, stdout=subprocess.DEVNULL, stderr=err)
        url = None
        for _ in range(300):  # 30 s
            with open(errf) as f:
                url = next((l.strip() for l in f if l.startswith("http")), None)
            if url or p.poll() is not None:
                break
            time.sleep(0.1)
        if not url:
            p.kill()
            p.wait()
            sys.exit("pull.py: no authorization URL from mailsync-connect: "
                     + open(errf).read())
        st, hdrs, _ = http_get(url)
        st, _, _ = http_get(hdrs["location"])
        rc = p.wait(30)
        if rc != 0:
            sys.exit("pull.py: connecting %s failed (%d): %s"
                     % (address, rc, open(errf).read()))

    def settings(self, values):
        con = sqlite3.connect(self.db)
        con.executemany("INSERT OR REPLACE INTO settings (key, value) "
                        "VALUES (?, ?)", values.items())
        con.commit()
        con.close()

    def pull(self, *args):
        """A whole mailsync-pull --json under GNU time(1): a dict."""
        tf = os.path.join(self.work, "time.out")
        errf = os.path.join(self.work, "pull.err")
        t0 = time.perf_counter()
        with open(errf, "w") as err:
            p = subprocess.run(
                ["/usr/bin/time", "-o", tf, "-f", "rss=%M user=%U sys=%S",
                 self.exe("pull"), "--json"] + list(args), env=self.env,
                stdout=subprocess.PIPE, stderr=err, timeout=3600)
        wall = time.perf_counter() - t0
        t = dict(kv.split("=") for kv in open(tf).read().split()[-3:])
        res = [json.loads(l) for l in p.stdout.decode().splitlines() if l]
        if p.returncode != 0:
            note("mailsync-pull exited %d: %s" % (p.returncode,
                                                  open(errf).read().strip()))
        return {"wall": wall, "rss": int(t["rss"]),
                "cpu": float(t["user"]) + float(t["sys"]), "rc": p.returncode,
                "accounts": {r["account"]: r for r in res},
                "fetched": sum(r.get("fetched", 0) for r in res)}


def http_get(url):
    u = urllib.parse.urlsplit(url)
    if u.hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("pull.py: refusing a non-loopback URL " + url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    c.request("GET", u.path + ("?" + u.query if u.query else ""))
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, body


def mailboxes(gmail, outlook):
    return ([("gmail", "gmail%d@firm.example" % i) for i in range(1, gmail + 1)] +
            [("outlook", "outlook%d@firm.example" % i) for i in range(1, outlook + 1)])


def prepare(a, name, generate, boxes, settings, scale=None, log=True):
    work = os.path.join(a.dir, name)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    emu = Emulator(work, generate, scale=scale, log=log)
    note("%s: emulator up in %.1f s (%s)" % (name, emu.startup, generate))
    ms = Mailsync(a.bin, work, emu)
    try:
        ms.setup()
        for prov, addr in boxes:
            ms.connect(prov, addr)
        ms.settings(settings)
    except BaseException:
        emu.stop()
        raise
    return emu, ms


# ------------------------------------------------------------ log analysis

def is_token(e):
    return e["path"] == "/token" or e["path"].endswith("/oauth2/v2.0/token")


def outer(entries):
    """Real HTTP requests: not batch parts, not the token endpoints."""
    return [e for e in entries if "batch" not in e and not is_token(e)]


def union_busy(intervals):
    """Total length covered by [start, end) intervals, and the gaps."""
    busy, gaps, cur_s, cur_e = 0.0, [], None, None
    for s, e in sorted(intervals):
        if cur_e is None or s > cur_e:
            if cur_e is not None:
                busy += cur_e - cur_s
                gaps.append(s - cur_e)
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    if cur_e is not None:
        busy += cur_e - cur_s
    return busy, gaps


def max_window_units(parts, window):
    """The most Gmail units charged in any sliding window of that length."""
    pts = sorted((e["time"], e.get("units", 0)) for e in parts)
    best = run = 0
    j = 0
    for i, (t, u) in enumerate(pts):
        run += u
        while pts[j][0] <= t - window:
            run -= pts[j][1]
            j += 1
        best = max(best, run)
    return best


def page_cycles(entries, addr):
    """Mean ms of the phases of one Gmail full-sync page: (pace: first to
    last batch sent, drain: last sent to all answered, store: to the next
    messages.list sent, list: to that page's first batch sent)."""
    mine = sorted((e for e in outer(entries) if e.get("mailbox") == addr),
                  key=lambda e: e["time"])
    lists = [i for i, e in enumerate(mine) if e.get("op") == "messages.list"
             and "q" not in e.get("query", {})]
    out = []
    for a, b in zip(lists, lists[1:]):
        batches = [e for e in mine[a + 1:b] if e["path"].startswith("/batch/")]
        if not batches:
            continue
        ends = max(e["time"] + e["ms"] / 1000 for e in batches)
        out.append((batches[-1]["time"] - batches[0]["time"],
                    ends - batches[-1]["time"], mine[b]["time"] - ends,
                    batches[0]["time"] - mine[a]["time"]))
    if not out:
        return None
    return [1000 * sum(x[k] for x in out) / len(out) for k in range(4)]


def account_stats(entries, addr):
    mine = [e for e in outer(entries) if e.get("mailbox") == addr]
    if not mine:
        return None
    start = min(e["time"] for e in mine)
    end = max(e["time"] + e["ms"] / 1000 for e in mine)
    busy, gaps = union_busy((e["time"], e["time"] + e["ms"] / 1000) for e in mine)
    inflight = sum(e["ms"] / 1000 for e in mine) / max(end - start, 1e-9)
    return {"span": end - start, "requests": len(mine), "idle": end - start - busy,
            "gaps": gaps, "inflight": inflight}


# ------------------------------------------------------------ the table

ROWS = []


def row(figure, measured, goal="", ok=None):
    ROWS.append(("  " + figure, measured, goal,
                 "" if ok is None else ("ok" if ok else "over")))


def section(title):
    ROWS.append((title, None, None, None))


def print_table():
    w = max(len(r[0]) for r in ROWS if r[1] is not None)
    wm = max(len(r[1]) for r in ROWS if r[1] is not None)
    wg = max(len(r[2]) for r in ROWS if r[1] is not None)
    print("%-*s  %*s  %-*s  %s" % (w, "figure", wm, "measured", wg, "goal", "ok/over"))
    for f, m, g, o in ROWS:
        if m is None:
            print(f)
        else:
            print(("%-*s  %*s  %-*s  %s" % (w, f, wm, m, wg, g, o)).rstrip())


# ------------------------------------------------------------ scenarios

def scenario_a(a):
    scale, n = a.scale, a.messages
    boxes = mailboxes(3, 2)
    gmail = [addr for prov, addr in boxes if prov == "gmail"]
    emu, ms = prepare(a, "A", "gmail:3,outlook:2,messages:%d" % n, boxes, {
        "quota.gmail_units_per_minute": str(GMAIL_UNITS),
        "quota.graph_requests_per_10min": str(10000),
        "quota.time_scale": str(scale)}, scale=scale)
    try:
        emu.ctl("POST", "/_emu/config", {"latency_ms": 20})
        emu.ctl("POST", "/_emu/quotas", {"enabled": True,
                                         "gmail_units_per_minute": GMAIL_UNITS,
                                         "time_scale": scale})
        off = emu.log_size()
        cpu0 = emu.cpu()
        note("A: full pull of 5 x %d messages, quotas on (x%g), 20 ms" % (n, scale))
        full = ms.pull()
        emu_cpu = emu.cpu() - cpu0
        log = emu.entries(off)
        off = emu.log_size()
        idle = ms.pull()
        ilog = emu.entries(off)
    finally:
        emu.stop()

    window = 60.0 / scale
    bound = GMAIL_UNITS / window / COST_GET          # messages/s per account
    section("A  quota-bound: 3 Gmail + 2 Outlook x %d, 20 ms/request, quotas on, "
            "time scale %g (Gmail minute %.1f s)" % (n, scale, window))
    stats = {addr: account_stats(log, addr) for addr in gmail}
    got = {addr: full["accounts"].get(addr, {}).get("fetched", 0) for addr in gmail}
    rates = [got[addr] / stats[addr]["span"] if stats[addr] else 0 for addr in gmail]
    g_fetched = sum(got.values())
    row("quota-bound msg/s per account (%d units / %.1f s / 5)" % (GMAIL_UNITS, window),
        "%.0f" % bound)
    row("msg/s per Gmail account (~%d each, first to last request)"
        % (g_fetched // len(gmail)), "/".join("%.0f" % r for r in rates),
        ">= %.0f" % (0.95 * bound), min(rates) >= 0.95 * bound)
    row("Gmail msg/s in total (pull wall time %.2f s)" % full["wall"],
        "%.0f" % (g_fetched / full["wall"]), ">= %.0f" % (0.95 * 3 * bound),
        g_fetched / full["wall"] >= 0.95 * 3 * bound)
    row("achieved / quota-bound (slowest account)", "%.3f" % (min(rates) / bound),
        ">= 0.95", min(rates) / bound >= 0.95)
    gparts = [e for e in log if e["path"].startswith("/gmail/")]
    units = sum(e.get("units", 0) for e in gparts)
    row("Gmail quota units per message", "%.3f" % (units / max(g_fetched, 1)),
        "<= 5.02", units / max(g_fetched, 1) <= 5.02)
    reqs = outer(log)
    row("HTTP requests per message (%d / %d, tokens excluded)"
        % (len(reqs), full["fetched"]), "%.4f" % (len(reqs) / max(full["fetched"], 1)))
    n429 = sum(1 for e in log if e["status"] == 429)
    n403 = sum(1 for e in log if e["status"] == 403 and e.get("quota"))
    row("429s / rate-limit 403s received", "%d / %d" % (n429, n403), "0 / 0",
        n429 + n403 == 0)
    row("peak RSS of the pull (MB; exit %d)" % full["rc"], "%.1f" % (full["rss"] / 1024),
        "<= 32", full["rss"] <= RSS_GOAL)
    idle_req = {}
    for e in outer(ilog):
        idle_req.setdefault(e.get("mailbox"), []).append(e)
    g_idle = [len(idle_req.get(addr, [])) for addr in gmail]
    o_idle = []
    for prov, addr in boxes:
        if prov == "outlook":
            es = idle_req.get(addr, [])
            # the folders polled, inside the $batch requests or alone
            folders = {m.group(1) or m.group(2) for m in
                       (re.search(r"mailFolders(?:/([^/(]+)|\('([^']+)'\))/messages/delta",
                                  e["path"])
                        for e in ilog if e.get("mailbox") == addr and not is_token(e)) if m}
            o_idle.append("%d/%d" % (len(es), len(folders)))
    row("idle run: requests per Gmail account", ",".join(map(str, g_idle)),
        "1 each", all(x == 1 for x in g_idle))
    row("idle run: requests/folders per Outlook account", ",".join(o_idle),
        "1 $batch per 20 folders",
        all(int(x.split("/")[0]) == -(-int(x.split("/")[1]) // 20) for x in o_idle))
    if idle["rc"] != 0 or idle["fetched"]:
        row("idle run exit / fetched", "%d / %d" % (idle["rc"], idle["fetched"]), "0 / 0",
            False)
    # Evidence of where the Gmail time goes.
    batches = sorted(e["ms"] for e in reqs if e["path"].startswith("/batch/"))
    if batches:
        row("evidence: Gmail batch of 25, ms median / 90th pct", "%.0f / %.0f"
            % (batches[len(batches) // 2], batches[len(batches) * 9 // 10]),
            "(latency 20)")
    row("evidence: CPU s in the pull: emulator / mailsync-pull",
        "%.2f / %.2f" % (emu_cpu, full["cpu"]), "(wall %.2f)" % full["wall"])
    cyc = [c for c in (page_cycles(log, addr) for addr in gmail) if c]
    if cyc:
        m = [sum(c[k] for c in cyc) / len(cyc) for k in range(4)]
        row("evidence: Gmail page of 500, ms: pace/drain/store/list",
            "%.0f/%.0f/%.0f/%.0f" % tuple(m), "(limiter alone %.0f/20/0/0)"
            % (1000 * (PAGE / GMAIL_BATCH - 1) * GMAIL_BATCH * COST_GET /
               (0.96 * GMAIL_UNITS / window)))
    st = [stats[addr] for addr in gmail if stats[addr]]
    if st:
        peak = max(max_window_units([e for e in gparts if e.get("mailbox") == addr], window)
                   for addr in gmail)
        row("evidence: Gmail idle %/gaps>=30ms/in flight/max units per window",
            "%.0f%%/%.0f/%.2f/%d" % (
                100 * sum(x["idle"] / x["span"] for x in st) / len(st),
                sum(sum(1 for g in x["gaps"] if g >= 0.03) for x in st) / len(st),
                sum(x["inflight"] for x in st) / len(st), peak),
            "(quota %d)" % GMAIL_UNITS)
    return full


def scenario_b(a):
    n = a.big
    emu, ms = prepare(a, "B", "gmail:1,outlook:0,messages:%d" % n,
                      mailboxes(1, 0), {"quota.gmail_units_per_minute": UNLIMITED},
                      log=False)
    try:
        note("B: full pull of 1 x %d messages, quotas off" % n)
        cpu0 = emu.cpu()
        full = ms.pull()
        emu_cpu = emu.cpu() - cpu0
    finally:
        emu.stop()
    section("B  memory: 1 Gmail x %d, quotas off, no latency" % n)
    row("peak RSS of the pull (MB; exit %d)" % full["rc"], "%.1f" % (full["rss"] / 1024),
        "<= 32", full["rss"] <= RSS_GOAL)
    if a.rss_a:
        growth = (full["rss"] - a.rss_a) / 1024
        row("RSS growth vs. scenario A (MB)", "%+.1f" % growth, "<= +1 (none)",
            growth <= 1)
    row("msg/s (%d in %.1f s)" % (full["fetched"], full["wall"]),
        "%.0f" % (full["fetched"] / full["wall"]))
    row("CPU s in the pull: emulator / mailsync-pull",
        "%.2f / %.2f" % (emu_cpu, full["cpu"]), "(wall %.1f)" % full["wall"])
    return full


def replay_gmail(port, addr, count):
    c = bench_emu.Client(port)
    at = bench_emu.google_token(c, addr)
    auth = {"Authorization": "Bearer " + at}
    for q in ("&q=has%3Aattachment", ""):
        tok, ids = None, []
        for _ in range(100000):
            p = "/gmail/v1/users/me/messages?maxResults=500" + q
            st, h, b = c.req("GET", p + ("&pageToken=" + tok if tok else ""),
                             headers=auth)
            d = json.loads(b)
            ids += [m["id"] for m in d.get("messages", [])]
            tok = d.get("nextPageToken")
            if not tok:
                break
    for i in range(0, len(ids), GMAIL_BATCH):
        body = "".join("--bb\r\nContent-Type: application/http\r\n"
                       "Content-ID: <item-%d>\r\n\r\nGET /gmail/v1/users/me/"
                       "messages/%s?%s\r\n\r\n" % (k, mid, bench_emu.GMAIL_META)
                       for k, mid in enumerate(ids[i:i + GMAIL_BATCH])) + "--bb--\r\n"
        st, h, b = c.req("POST", "/batch/gmail/v1", body.encode(),
                         dict(auth, **{"Content-Type": "multipart/mixed; boundary=bb"}))
        count[addr] = count.get(addr, 0) + b.count(b"HTTP/1.1 200 OK")


def replay_graph(port, addr, count):
    at = bench_emu.ms_token(bench_emu.Client(port), addr)
    count[addr] = count.get(addr, 0) + bench_emu.graph_fetch(port, at, 200)


def scenario_c(a):
    n = a.messages
    boxes = mailboxes(3, 2)
    emu, ms = prepare(a, "C", "gmail:3,outlook:2,messages:%d" % n, boxes, {
        "quota.gmail_units_per_minute": UNLIMITED,
        "quota.graph_requests_per_10min": UNLIMITED}, log=False)
    try:
        note("C: full pull of 5 x %d messages, quotas off" % n)
        c0 = emu.cpu()
        full = ms.pull()
        emu_cpu = emu.cpu() - c0
        # The emulator's ceiling: the same requests, cold again (reset drops
        # the per-message cache), from Python, one connection per mailbox.
        emu.ctl("POST", "/_emu/reset")
        note("C: replaying the same requests on the reset emulator")
        count = {}
        ths = [threading.Thread(target=replay_gmail if prov == "gmail" else replay_graph,
                                args=(emu.port, addr, count)) for prov, addr in boxes]
        c0, t0 = emu.cpu(), time.perf_counter()
        for t in ths:
            t.start()
        for t in ths:
            t.join(1800)
        replay_wall = time.perf_counter() - t0
        replay_cpu = emu.cpu() - c0
    finally:
        emu.stop()
    replayed = sum(count.values())
    rate = full["fetched"] / full["wall"]
    ceiling = replayed / replay_wall
    section("C  speed: 3 Gmail + 2 Outlook x %d, quotas off, no latency" % n)
    row("msg/s ingested by the full pull (%d in %.2f s)" % (full["fetched"], full["wall"]),
        "%.0f" % rate, ">= 10000", rate >= 10000)
    row("emulator ceiling: same requests replayed (%d in %.2f s)"
        % (replayed, replay_wall), "%.0f" % ceiling)
    row("pull / emulator ceiling", "%.2f" % (rate / ceiling))
    row("CPU s in the pull: emulator / mailsync-pull",
        "%.2f / %.2f" % (emu_cpu, full["cpu"]), "(wall %.2f)" % full["wall"])
    row("CPU s in the replay: emulator", "%.2f" % replay_cpu, "(wall %.2f)" % replay_wall)
    row("client CPU-bound rate: msg / mailsync-pull CPU s",
        "%.0f" % (full["fetched"] / max(full["cpu"], 1e-9)))
    row("peak RSS of the pull (MB; exit %d)" % full["rc"], "%.1f" % (full["rss"] / 1024),
        "<= 32", full["rss"] <= RSS_GOAL)
    return full


REAL_UNITS = 6000  # Google's current per-user figure, the emulator's default


def refusal_stats(log):
    """(answers, refused): every answer a Gmail account got (outer
    requests and batch parts, each a separate request by Google's batch
    docs), and those refused for rate (429, quota 403)."""
    answers = [e for e in log if not is_token(e) and e["path"] != "/batch/gmail/v1"
               and (e["path"].startswith("/gmail/"))]
    refused = [e for e in answers if e["status"] == 429 or e.get("quota") == "exceeded"]
    return len(answers), len(refused)


def learned_quota(ms, addr):
    con = sqlite3.connect(ms.db)
    row_ = con.execute("SELECT s.value FROM settings s JOIN accounts a "
                       "ON s.key = 'state.quota.' || a.id WHERE a.address = ?",
                       (addr,)).fetchone()
    con.close()
    return float(row_[0]) if row_ else None


def scenario_d(a):
    """D: a project whose real Gmail quota (6,000) is below the configured
    15,000: a first sync that learns it, then a run that starts from the
    learned rate; E: the same real quota with the setting at its
    default."""
    scale, n = a.scale, a.messages
    boxes = mailboxes(3, 0)
    gmail = [addr for prov, addr in boxes]
    window = 60.0 / scale
    bound = REAL_UNITS / window / COST_GET  # messages/s per account
    half = max(2, int(n * COST_GET / REAL_UNITS * window / 2))
    out = {}
    for name, configured in (("D", 15000), ("E", None)):
        settings = {"quota.time_scale": str(scale)}
        if configured:
            settings["quota.gmail_units_per_minute"] = str(configured)
        emu, ms = prepare(a, name, "gmail:3,outlook:0,messages:%d" % n, boxes,
                          settings, scale=scale)
        try:
            emu.ctl("POST", "/_emu/config", {"latency_ms": 20})
            emu.ctl("POST", "/_emu/quotas", {"enabled": True,
                                             "gmail_units_per_minute": REAL_UNITS,
                                             "time_scale": scale})
            runs = []
            # D: a first sync too long for one run, as under cron: the
            # first run (--max-time, half the time the sync takes at the
            # real quota) learns the quota, the next resumes from it.
            half = max(2, int(n * COST_GET / REAL_UNITS * window / 2))
            for k in range(2 if configured else 1):
                if k == 1:
                    # Under cron the next run starts minutes after the
                    # last one ended, well past the provider's window.
                    time.sleep(window)
                off = emu.log_size()
                note("%s: pull %d of 3 x %d messages, real quota %d, configured %s"
                     % (name, k + 1, n, REAL_UNITS, configured or "default"))
                full = ms.pull(*(["--max-time", str(half)] if configured and k == 0 else []))
                log = emu.entries(off)
                runs.append((full, log, {addr: learned_quota(ms, addr) for addr in gmail}))
        finally:
            emu.stop()
        out[name] = runs
    for name, label in (("D", "configured 15,000"), ("E", "setting at its default")):
        for k, (full, log, learned) in enumerate(out[name]):
            what = (("learning, --max-time %d of a first sync" % half) if k == 0 else
                    "the next run resumes it from the learned rate") if name == "D" else "default"
            section("%s%d  real Gmail quota %d, %s, 3 x %d, time scale %g (minute %.1f s): %s"
                    % (name, k + 1, REAL_UNITS, label, n, scale, window, what))
            stats = {addr: account_stats(log, addr) for addr in gmail}
            got = {addr: full["accounts"].get(addr, {}).get("fetched", 0) for addr in gmail}
            rates = [got[addr] / stats[addr]["span"] if stats[addr] else 0 for addr in gmail]
            goal = 0.85 if (name == "D" and k == 0) else 0.95
            row("real-quota-bound msg/s per account (%d / %.1f s / 5)" % (REAL_UNITS, window),
                "%.0f" % bound)
            row("achieved / real-quota-bound (slowest account)", "%.3f" % (min(rates) / bound),
                ">= %.2f" % goal, min(rates) / bound >= goal)
            answers, refused = refusal_stats(log)
            row("rate-limit replies / requests (batch parts count as requests)",
                "%d / %d = %.2f%%" % (refused, answers, 100.0 * refused / max(answers, 1)),
                "< 1%", refused < 0.01 * answers)
            if name == "D":
                row("quota learned, units a minute (per account)",
                    "/".join("%.0f" % (learned[x] or 0) for x in gmail), "~%d" % REAL_UNITS)
            row("exit status / accounts ok", "%d / %d" % (
                full["rc"], sum(1 for r in full["accounts"].values() if r["status"] == "ok")),
                "0 / 3", full["rc"] == 0)
    return out


def stored_rows(db, account):
    """{provider id: the row's fields} of one account: Message-ID,
    subject, date, snippet, attachment flag, direction, bulk, thread id,
    and From, To, Cc (addresses and names, in order)."""
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    out = {}
    for r in con.execute(
            "SELECT e.id, ea.provider_id, e.message_id, e.subject, e.date, e.snippet,"
            " e.has_attachments, e.direction, e.bulk, e.thread_id"
            " FROM emails e JOIN email_accounts ea ON ea.email_id = e.id"
            " JOIN accounts a ON a.id = ea.account_id WHERE a.address = ?", (account,)):
        who = con.execute(
            "SELECT x.role, x.pos, d.email, x.name FROM email_addrs x"
            " JOIN addresses d ON d.id = x.address_id WHERE x.email_id = ?"
            " ORDER BY x.role, x.pos", (r[0],)).fetchall()
        out[r[1]] = tuple(r[2:]) + (tuple(who),)
    con.close()
    return out


def scenario_t(a):
    """T: a first sync by thread under the real quota, against the bound a
    message-by-message sync has at that quota; then the same mailbox
    message by message into a second database, for the rows."""
    scale, n = a.scale, a.messages
    boxes = mailboxes(1, 0)
    addr = boxes[0][1]
    window = 60.0 / scale
    emu, ms = prepare(a, "T", "gmail:1,outlook:0,messages:%d,threads:3" % n, boxes,
                      {"quota.time_scale": str(scale)}, scale=scale)
    try:
        emu.ctl("POST", "/_emu/config", {"latency_ms": 20})
        emu.ctl("POST", "/_emu/quotas", {"enabled": True,
                                         "gmail_units_per_minute": REAL_UNITS,
                                         "time_scale": scale})
        prof = emu.ctl("GET", "/_emu/mailboxes/%s?limit=1" % addr)
        off = emu.log_size()
        note("T: first pull of 1 x %d messages in threads (mean 3), quota %d (x%g)"
             % (n, REAL_UNITS, scale))
        full = ms.pull()
        log = emu.entries(off)
        # The same mailbox message by message, quotas off: only its rows
        # matter here.
        emu.ctl("POST", "/_emu/quotas", {"enabled": False})
        emu.ctl("POST", "/_emu/config", {"latency_ms": 0})
        work = os.path.join(a.dir, "T", "messages")
        os.makedirs(work)
        mm = Mailsync(a.bin, work, emu)
        mm.setup()
        mm.connect("gmail", addr)
        mm.settings({"gmail.fetch": "messages", "quota.gmail_units_per_minute": UNLIMITED})
        off = emu.log_size()
        note("T: the same mailbox message by message, quotas off")
        bymsg = mm.pull()
        mlog = emu.entries(off)
    finally:
        emu.stop()
    mine = [e for e in log if e.get("mailbox") == addr]
    ops = {}
    for e in mine:
        if e.get("op"):
            ops[e["op"]] = ops.get(e["op"], 0) + 1
    got = full["accounts"].get(addr, {})
    fetched, new = got.get("fetched", 0), got.get("new", 0)
    units = sum(e.get("units", 0) for e in mine if e["path"].startswith("/gmail/"))
    stats = account_stats(log, addr)
    rate = fetched / stats["span"] if stats else 0
    bound = REAL_UNITS / window / COST_GET
    a_rows = stored_rows(ms.db, addr)
    m_rows = stored_rows(mm.db, addr)
    differ = sum(1 for k in set(a_rows) | set(m_rows) if a_rows.get(k) != m_rows.get(k))
    section("T  threads: 1 Gmail x %d (%d messages in threads of mean %.2f), real quota %d, "
            "20 ms/request, time scale %g (minute %.1f s)"
            % (n, prof["messages"], prof["messages"] / max(prof["threads"], 1), REAL_UNITS, scale,
               window))
    row("the way auto chose (requests: %s)" % ", ".join(
        "%s %d" % kv for kv in sorted(ops.items())),
        "threads" if ops.get("threads.get") and not ops.get("messages.get") else "messages",
        "threads", bool(ops.get("threads.get")) and not ops.get("messages.get"))
    row("Gmail quota units per message fetched (%d units / %d)" % (units, fetched),
        "%.3f" % (units / max(fetched, 1)), "<= 3.5", units / max(fetched, 1) <= 3.5)
    row("Gmail quota units per message stored (%d new)" % new,
        "%.3f" % (units / max(new, 1)))
    row("message-by-message quota bound, msg/s (%d units / %.1f s / 5)"
        % (REAL_UNITS, window), "%.0f" % bound)
    row("achieved msg/s (first to last request, %.1f s)" % (stats["span"] if stats else 0),
        "%.0f" % rate)
    row("achieved / message-by-message bound", "%.3f" % (rate / bound), ">= 1.4",
        rate / bound >= 1.4)
    n429 = sum(1 for e in log if e["status"] == 429 or e.get("quota") == "exceeded")
    row("rate-limit replies", "%d" % n429, "0", n429 == 0)
    row("stored rows: by thread / message by message / differing (field by field)",
        "%d / %d / %d" % (len(a_rows), len(m_rows), differ), "equal, 0 differ",
        len(a_rows) == len(m_rows) > 0 and differ == 0)
    mops = {}
    for e in mlog:
        if e.get("op") and e.get("mailbox") == addr:
            mops[e["op"]] = mops.get(e["op"], 0) + 1
    munits = sum(e.get("units", 0) for e in mlog
                 if e.get("mailbox") == addr and e["path"].startswith("/gmail/"))
    row("message by message: quota units per message fetched (%d / %d)"
        % (munits, bymsg["fetched"]), "%.3f" % (munits / max(bymsg["fetched"], 1)))
    row("exit status: by thread / message by message", "%d / %d" % (full["rc"], bymsg["rc"]),
        "0 / 0", full["rc"] == 0 and bymsg["rc"] == 0)
    row("peak RSS of the pull by thread (MB)", "%.1f" % (full["rss"] / 1024), "<= 32",
        full["rss"] <= RSS_GOAL)


def scenario_f(a):
    """Outlook's folders: the requests of an idle run of a mailbox with
    45 tracked folders (goal 3: one $batch per 20 folders, the folder
    list riding along), and the full sync of 5 folders of --messages
    each, quotas off, no latency."""
    nf = 45
    emu, ms = prepare(a, "F1", "outlook:1,messages:%d,folders:%d" % (nf * 10, nf),
                      mailboxes(0, 1), {"quota.graph_requests_per_10min": UNLIMITED})
    try:
        note("F: first pull of %d folders" % nf)
        first = ms.pull()
        off = emu.log_size()
        idle = ms.pull()
        ilog = emu.entries(off)
    finally:
        emu.stop()
    section("F  Outlook folders: an idle run of %d folders; 5 folders x %d" % (nf, a.messages))
    reqs = outer(ilog)
    polled = [e for e in ilog if "batch" in e and e["path"].endswith("/messages/delta")]
    row("idle run of %d tracked folders: HTTP requests (%d folder deltas inside)"
        % (nf, len(polled)), "%d" % len(reqs), "3", len(reqs) == 3 and len(polled) == nf)
    if first["rc"] != 0 or idle["fetched"]:
        row("first pull exit / idle run fetched", "%d / %d" % (first["rc"], idle["fetched"]),
            "0 / 0", False)
    n = a.messages
    emu, ms = prepare(a, "F2", "outlook:1,messages:%d,folders:5" % (5 * n),
                      mailboxes(0, 1), {"quota.graph_requests_per_10min": UNLIMITED})
    try:
        note("F: full pull of 5 folders x %d" % n)
        off = emu.log_size()
        cpu0 = emu.cpu()
        full = ms.pull()
        emu_cpu = emu.cpu() - cpu0
        log = emu.entries(off)
    finally:
        emu.stop()
    reqs = outer(log)
    row("5 folders x %d: msg/s (%d in %.1f s, exit %d)"
        % (n, full["fetched"], full["wall"], full["rc"]),
        "%.0f" % (full["fetched"] / full["wall"]))
    row("HTTP requests per message (%d / %d)" % (len(reqs), full["fetched"]),
        "%.4f" % (len(reqs) / max(full["fetched"], 1)))
    row("peak RSS of the pull (MB)", "%.1f" % (full["rss"] / 1024), "<= 32",
        full["rss"] <= RSS_GOAL)
    row("CPU s in the pull: emulator / mailsync-pull",
        "%.2f / %.2f" % (emu_cpu, full["cpu"]), "(wall %.1f)" % full["wall"])
    return full


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(HERE, "..", "build", "cmd"))
    ap.add_argument("--dir", default=None, help="work directory (default: a new temporary one)")
    ap.add_argument("--scale", type=float, default=10,
                    help="quota time scale of scenario A (default 10: a 6 s Gmail minute)")
    ap.add_argument("--messages", type=int, default=None,
                    help="messages per mailbox in A and C (default 10000)")
    ap.add_argument("--big", type=int, default=None,
                    help="messages of the mailbox of B (default 200000)")
    ap.add_argument("--quick", action="store_true",
                    help="small sizes: a smoke run in under 30 s")
    ap.add_argument("--skip", action="append", default=[],
                    choices=["A", "B", "C", "D", "T", "F"],
                    help="skip a scenario (repeatable)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    a = ap.parse_args()
    if a.messages is None:
        a.messages = 500 if a.quick else 10000
    if a.big is None:
        a.big = 5000 if a.quick else 200000
    if a.scale <= 0:
        ap.error("--scale must be positive")
    if a.scale == int(a.scale):
        a.scale = int(a.scale)
    a.bin = os.path.abspath(a.bin)
    if not os.access(os.path.join(a.bin, "mailsync-pull"), os.X_OK):
        sys.exit("pull.py: no %s/mailsync-pull: build first (ninja -C build)" % a.bin)
    if not os.access("/usr/bin/time", os.X_OK):
        sys.exit("pull.py: needs GNU time at /usr/bin/time")
    tmp = a.dir is None
    a.dir = a.dir or tempfile.mkdtemp(prefix="mailsync-pull-bench.")
    os.makedirs(a.dir, exist_ok=True)
    t0 = time.perf_counter()
    a.rss_a = None
    try:
        for name, fn in (("A", scenario_a), ("B", scenario_b), ("C", scenario_c),
                         ("D", scenario_d), ("T", scenario_t), ("F", scenario_f)):
            if name not in a.skip:
                r = fn(a)
                if name == "A":
                    a.rss_a = r["rss"]
    finally:
        if tmp and not a.keep:
            shutil.rmtree(a.dir, ignore_errors=True)
    print_table()
    print("(%d cores; whole benchmark %.0f s)" % (os.cpu_count(), time.perf_counter() - t0))


if __name__ == "__main__":
    main()

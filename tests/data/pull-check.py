#!/usr/bin/env python3
"""pull-check.py: the expectations of t-pull.sh and t-pull-kill.sh,
computed from the emulator's own data (its control API and the data file),
never from what mailsync printed.

    pull-check.py COMMAND [ARGS...]

Environment: EMU (emulator URL), MAILSYNC_DB, T (test dir), ACCTS (the
connected mailbox addresses, space-separated), EMU_DATA (data file),
MS_SRC. Messages the test adds go through "add", which keeps their spec in
$T/added.jsonl so attributes can be checked; CRM messages recorded with
mailsync-record are listed in $T/crm.jsonl. A check prints "# ..."
diagnostics and exits 1 when it fails.

The checks the tests make often, or that read better as a sentence, are
named (json-all-ok, json-says, log-idle-costs-one-request, ...: see
"named checks" below); "json" and "log" evaluate an expression for the
others.
"""

import email.policy
import html
import json
import os
import re
import sqlite3
import subprocess
import sys
import urllib.request
from datetime import datetime, timezone

EMU = os.environ.get("EMU", "")
DB = os.environ.get("MAILSYNC_DB", "")
T = os.environ.get("T", ".")
ACCTS = os.environ.get("ACCTS", "").split()
SKIP_LABELS = {"DRAFT", "SPAM", "TRASH", "CHAT"}
# Outlook folders a pull skips, with everything below them (every other
# folder is synced).
SKIPPED_FOLDERS = {"drafts", "deleteditems", "junkemail", "outbox",
                   "conversationhistory", "syncissues", "conflicts",
                   "localfailures", "serverfailures"}
HF = email.policy.default.header_factory


def fail(msg, *more):
    print("# " + msg)
    for m in more[:15]:
        print("#   %s" % (m,))
    sys.exit(1)


def ctl(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(EMU + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def norm_id(s):
    return "<" + s.strip().strip("<>").strip() + ">"


def epoch(iso):
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00"))
               .astimezone(timezone.utc).timestamp())


def addrs(raw):
    if not raw:
        return []
    return [(a.display_name, a.addr_spec.lower()) for a in HF("to", raw).addresses]


def subject(raw):
    return str(HF("subject", raw))


def db():
    c = sqlite3.connect("file:%s?mode=ro" % DB, uri=True, timeout=10)
    c.row_factory = sqlite3.Row
    return c


# ------------------------------------------------------------ expectations

def mailbox(addr):
    return ctl("GET", "/_emu/mailboxes/%s?limit=10000000" % addr)


def kept(addr):
    """(provider, set of Message-IDs pull must store for this mailbox,
    set of Message-IDs it holds but must skip)."""
    box = mailbox(addr)
    keep, skip = set(), set()
    for x in box["list"]:
        if box["provider"] == "gmail":
            bad = SKIP_LABELS & set(x["labelIds"])
        else:
            bad = bool(SKIPPED_FOLDERS & set(x.get("under") or [x["folder"]]))
        (skip if bad else keep).add(norm_id(x["messageId"]))
    return box["provider"], keep, skip


def expected():
    """{address: (provider, keep, skip)} for every connected mailbox."""
    return {a: kept(a) for a in ACCTS}


def specs():
    out = {}
    data = os.environ.get("EMU_DATA")
    if data:
        for m in json.load(open(data, encoding="utf-8")).get("messages", []):
            out[norm_id(m["message_id"])] = m
    for f in ("added.jsonl", "crm.jsonl"):
        p = os.path.join(T, f)
        if os.path.exists(p):
            for line in open(p, encoding="utf-8"):
                m = json.loads(line)
                out[norm_id(m["message_id"])] = m
    return out


def crm_ids():
    p = os.path.join(T, "crm.jsonl")
    if not os.path.exists(p):
        return set()
    return {norm_id(json.loads(l)["message_id"]) for l in open(p, encoding="utf-8")}


# ------------------------------------------------------------ commands

def cmd_add(addr, spec_json):
    """Add one message to a mailbox (labels for Gmail, folder for Outlook)
    and remember its spec; prints the provider id."""
    spec = json.loads(spec_json)
    r = ctl("POST", "/_emu/mailboxes/%s/messages" % addr, spec)
    rec = dict(spec)
    with open(os.path.join(T, "added.jsonl"), "a", encoding="utf-8") as f:
        f.write(json.dumps(rec) + "\n")
    print(r["added"][0]["id"])


def kept_since(addr, day):
    """The Message-IDs of kept(addr) dated on or after day (UTC)."""
    t = epoch(day + "T00:00:00Z")
    box = mailbox(addr)
    _, keep, _ = kept(addr)
    out = set()
    for x in box["list"]:
        d = int(x["internalDate"]) // 1000 if "internalDate" in x else epoch(x["received"])
        if d >= t and norm_id(x["messageId"]) in keep:
            out.add(norm_id(x["messageId"]))
    return out


def cmd_since(addr, day):
    """Print how many messages a first sync --since day stores for addr."""
    print(len(kept_since(addr, day)))


def cmd_since_distinct(day):
    """Print how many distinct emails a first sync --since day stores."""
    u = set()
    for a in ACCTS:
        u |= kept_since(a, day)
    print(len(u))


def cmd_count(addr):
    """Print how many messages pull must store for this mailbox."""
    print(len(kept(addr)[1]))


def cmd_distinct():
    """Print how many distinct emails the connected mailboxes hold."""
    u = set()
    for _, k, _ in expected().values():
        u |= k
    print(len(u | crm_ids()))


def cmd_links():
    """Every account is linked to exactly the emails its mailbox holds."""
    exp = expected()
    c = db()
    rows = c.execute("""SELECT a.address, e.message_id, ea.provider_id
        FROM email_accounts ea JOIN accounts a ON a.id = ea.account_id
        JOIN emails e ON e.id = ea.email_id""").fetchall()
    got = {}
    pids = {}
    for r in rows:
        got.setdefault(r["address"], []).append(r["message_id"])
        pids.setdefault(r["address"], []).append(r["provider_id"])
    for a, (_, keep, _) in exp.items():
        g = got.get(a, [])
        if len(g) != len(set(g)):
            fail("%s: an email is linked more than once" % a)
        if len(pids.get(a, [])) != len(set(pids.get(a, []))):
            fail("%s: a provider id is linked more than once" % a)
        if set(g) != keep:
            fail("%s: %d linked, the mailbox holds %d to sync" % (a, len(g), len(keep)),
                 *(["missing " + x for x in sorted(keep - set(g))] +
                   ["extra " + x for x in sorted(set(g) - keep)]))


def cmd_covers():
    """Every account is linked to every email its mailbox holds to sync,
    each once (mail that left the synced folders may stay linked)."""
    exp = expected()
    c = db()
    rows = c.execute("""SELECT a.address, e.message_id, ea.provider_id
        FROM email_accounts ea JOIN accounts a ON a.id = ea.account_id
        JOIN emails e ON e.id = ea.email_id""").fetchall()
    for a, (_, keep, _) in exp.items():
        g = [r["message_id"] for r in rows if r["address"] == a]
        p = [r["provider_id"] for r in rows if r["address"] == a]
        if len(g) != len(set(g)) or len(p) != len(set(p)):
            fail("%s: an email or provider id is linked more than once" % a)
        if not keep <= set(g):
            fail("%s: missing" % a, *sorted(keep - set(g)))


def cmd_emails():
    """The emails table holds each expected Message-ID once, nothing else."""
    exp = expected()
    union = set()
    for _, k, _ in exp.values():
        union |= k
    crm = crm_ids()
    c = db()
    rows = c.execute("SELECT message_id, source FROM emails").fetchall()
    ids = [r["message_id"] for r in rows]
    low = [i.lower() for i in ids]
    if len(low) != len(set(low)):
        fail("duplicate Message-IDs", *sorted({i for i in low if low.count(i) > 1}))
    want = union | crm
    if set(ids) != want:
        fail("%d emails stored, %d expected" % (len(ids), len(want)),
             *(["missing " + x for x in sorted(want - set(ids))] +
               ["extra " + x for x in sorted(set(ids) - want)]))
    for r in rows:
        if (r["message_id"] in crm) != (r["source"] == "crm"):
            fail("%s has source %s" % (r["message_id"], r["source"]))


def cmd_attrs():
    """Subjects, names, participants, dates, attachments, direction,
    snippet and no body, for every email whose spec the test knows."""
    sp = specs()
    crm = crm_ids()
    team = {a.lower() for a in ACCTS}
    c = db()
    exp = expected()
    holders = {}
    for a, (prov, keep, _) in exp.items():
        for m in keep:
            holders.setdefault(m, set()).add(prov)
    errs = []
    checked = 0
    for e in c.execute("SELECT * FROM emails").fetchall():
        m = sp.get(e["message_id"])
        if m is None:
            continue
        checked += 1
        mid = e["message_id"]
        parts = c.execute("""SELECT ea.role, ea.pos, ea.name, a.email
            FROM email_addrs ea JOIN addresses a ON a.id = ea.address_id
            WHERE ea.email_id = ? ORDER BY ea.role, ea.pos""", (e["id"],)).fetchall()
        frm = addrs(m.get("from", ""))
        want_from = frm[0][1] if frm else ""
        got_from = [p["email"] for p in parts if p["role"] == 0]
        if got_from != [want_from]:
            errs.append("%s: From %s, want %s" % (mid, got_from, want_from))
        if frm and frm[0][0]:
            nm = [p["name"] for p in parts if p["role"] == 0]
            if nm != [frm[0][0]]:
                errs.append("%s: From name %r, want %r" % (mid, nm, frm[0][0]))
        for role, key in ((1, "to"), (2, "cc")):
            want = sorted({x[1] for x in addrs(m.get(key, ""))})
            got = sorted({p["email"] for p in parts if p["role"] == role})
            if got != want:
                errs.append("%s: %s %s, want %s" % (mid, key, got, want))
        if e["subject"] != subject(m.get("subject", "")):
            errs.append("%s: subject %r, want %r" % (mid, e["subject"], subject(m.get("subject", ""))))
        if e["date"] != epoch(m["date"]):
            errs.append("%s: date %s, want %s" % (mid, e["date"], epoch(m["date"])))
        if e["has_attachments"] != int(bool(m.get("attachments"))):
            errs.append("%s: has_attachments %s" % (mid, e["has_attachments"]))
        if mid in crm:
            if e["source"] != "crm" or e["direction"] != "out" or not e["body"]:
                errs.append("%s: CRM email changed: %s %s body=%r" % (
                    mid, e["source"], e["direction"], (e["body"] or "")[:20]))
            continue
        want_dir = "out" if want_from in team else "in"
        if e["direction"] != want_dir:
            errs.append("%s: direction %s, want %s" % (mid, e["direction"], want_dir))
        if e["body"] is not None:
            errs.append("%s: a synced email has a body" % mid)
        if e["source"] not in holders.get(mid, set()):
            errs.append("%s: source %s, held by %s" % (mid, e["source"], holders.get(mid)))
        body = " ".join(m.get("body", "").split())
        snip = " ".join(html.unescape(e["snippet"] or "").split())
        if body and snip[:15] != body[:15]:
            errs.append("%s: snippet %r, body starts %r" % (mid, snip[:30], body[:30]))
    if errs:
        fail("%d of %d emails differ from the emulator's data" % (len(errs), checked), *errs)
    if checked == 0:
        fail("no email to check")


def client_addrs(crm_id):
    src = os.environ["MS_SRC"]
    for line in open(os.path.join(src, "share/sample/clients.jsonl"), encoding="utf-8"):
        c = json.loads(line)
        if c["id"] == crm_id:
            s = {c["email"].lower()}
            if c.get("portal_email"):
                s.add(c["portal_email"].lower())
            s |= {x["email"].lower() for x in c.get("contacts", [])}
            return s
    fail("no client %s in clients.jsonl" % crm_id)


def cmd_show(crm_id):
    """mailsync-show --json CLIENT lists exactly the client's emails, each
    with the accounts that hold it, its source and viewable flag."""
    who = client_addrs(crm_id)
    sp = specs()
    crm = crm_ids()
    exp = expected()
    holders = {}
    for a, (prov, keep, _) in exp.items():
        for m in keep:
            holders.setdefault(m, {})[a] = prov
    want = {}
    for m in set(holders) | crm:
        s = sp.get(m)
        if s is None:
            continue
        ps = {x[1] for k in ("from", "to", "cc") for x in addrs(s.get(k, ""))}
        if ps & who:
            want[m] = s
    out = subprocess.run(["mailsync-show", "--json", crm_id], capture_output=True,
                         text=True)
    if out.returncode != 0:
        fail("mailsync-show exit %d: %s" % (out.returncode, out.stderr.strip()))
    rows = [json.loads(l) for l in out.stdout.splitlines() if l.strip()]
    got = {r["message_id"]: r for r in rows}
    if len(got) != len(rows):
        fail("an email is listed twice")
    if set(got) != set(want):
        fail("%d listed, %d expected" % (len(got), len(want)),
             *(["missing " + x for x in sorted(set(want) - set(got))] +
               ["extra " + x for x in sorted(set(got) - set(want))]))
    errs = []
    for m, r in got.items():
        h = holders.get(m, {})
        if sorted(r["accounts"]) != sorted(h):
            errs.append("%s: accounts %s, want %s" % (m, r["accounts"], sorted(h)))
        if m in crm:
            if r["source"] != "crm" or r["viewable"] is not True:
                errs.append("%s: source %s viewable %s" % (m, r["source"], r["viewable"]))
        elif r["source"] not in set(h.values()) or r["viewable"] is not False:
            errs.append("%s: source %s viewable %s, held by %s" % (
                m, r["source"], r["viewable"], sorted(set(h.values()))))
        if r["has_attachments"] is not bool(want[m].get("attachments")):
            errs.append("%s: has_attachments %s" % (m, r["has_attachments"]))
        if r["subject"] != subject(want[m].get("subject", "")):
            errs.append("%s: subject %r" % (m, r["subject"]))
    if errs:
        fail("show differs from the emulator's data", *errs)


def cmd_json(path, expr):
    """Evaluate expr over the lines of a --json file: J maps each account
    to its line, L is the list of lines, E the expectations."""
    L, J = json_lines(path)
    E = expected() if "E" in expr else {}
    if not eval(expr, dict(globals(), J=J, L=L, E=E)):
        fail("false: " + expr, *L)


def log_entries(source):
    if source == "file":
        return [json.loads(l) for l in open(os.path.join(T, "emu.log"), encoding="utf-8")]
    return ctl("GET", "/_emu/log")["entries"]


def is_token(e):
    p = e["path"]
    return p in ("/token", "/o/oauth2/token") or p.endswith("/oauth2/v2.0/token")


def api(entries):
    return [e for e in entries if not e["path"].startswith("/_emu") and not is_token(e)
            and "batch" not in e]


def q(e, k, d=None):
    """The query parameter k of log entry e (d when absent)."""
    return e.get("query", {}).get(k, d)


def ql(e, k):
    """The query parameter k of log entry e as a list."""
    v = q(e, k, [])
    return v if isinstance(v, list) else [v]


def of(entries, mb):
    """The entries for mailbox mb."""
    return [e for e in entries if (e.get("mailbox") or "").lower() == mb.lower()]


def cmd_log(source, expr):
    """Evaluate expr over the emulator's request log (source "mem": the
    in-memory log since the last clear; "file": the whole run). A: API
    requests (outer requests only, token endpoint excluded), G: every
    entry, by(mailbox): A for one mailbox, E the expectations."""
    G = log_entries(source)
    A = api(G)

    def by(mb):
        return of(A, mb)

    def parts(mb):
        """The inner requests of mb's batches (Gmail's and Graph's)."""
        return [e for e in of(G, mb) if "batch" in e]

    def every(mb):
        """mb's requests, outer and inner, in order."""
        return sorted(by(mb) + parts(mb), key=lambda e: e["seq"])
    E = expected() if "E[" in expr else {}
    if not eval(expr, dict(globals(), G=G, A=A, E=E, by=by, parts=parts,
                           every=every, q=q, ql=ql)):
        log_fail("false: " + expr, A)


def log_fail(msg, A):
    fail(msg, *["%s %s %s %s %s" % (e.get("mailbox"), e["method"], e["path"], e["status"],
                                     e.get("time")) for e in A[-15:]])


def cmd_delta_folders(addr):
    """Every Graph request of the run for this mailbox is a $batch, a
    delta of a folder it syncs (well-known name or id), the folder list's
    delta, a read of a well-known folder's id, or a partial item read in
    full; and the Inbox, Sent Items and Archive are among the folders."""
    box = mailbox(addr)
    f = box["folders"]
    names = {}
    for key, fid in f.items():
        names[fid.lower()] = key
        if "/" not in key:
            names[key.lower()] = key
    skipped = {k.lower() for k in SKIPPED_FOLDERS}
    seen = set()
    for e in log_entries("file"):
        if (e.get("mailbox") or "").lower() != addr.lower() or \
                not e["path"].startswith("/v1.0/") or \
                e["path"] in ("/v1.0/me", "/v1.0/$batch") or \
                re.match(r"^/v1\.0/me/(mailFolders/delta|mailFolders/[a-z]+|messages/[^/]+)$",
                         e["path"]):
            continue
        m = re.match(r"^/v1\.0/me/mailFolders(?:\('([^']*)'\)|/([^/]+))/messages/delta$",
                     e["path"], re.I)
        key = names.get((m.group(1) or m.group(2)).lower()) if m else None
        if key is None or key in skipped:
            fail("not a delta on a folder synced: %s" % e["path"])
        seen.add(key)
    if not {"inbox", "sentitems", "archive"} <= seen:
        fail("folders used: %s" % sorted(seen))


def cmd_sql(sql, want):
    """The rows of sql, | and ; joined, equal want."""
    c = db()
    got = ";".join("|".join("" if v is None else str(v) for v in r)
                   for r in c.execute(sql).fetchall())
    if got != want:
        fail("%s: got %r, want %r" % (sql, got, want))


# ------------------------------------------------------------ named checks
#
# The checks the tests make more than once, or that a sentence says better
# than an expression: "pc json-all-ok FILE", "pc log-idle-costs-one-request
# mem". The JSON ones read a --json file of mailsync-pull; the log ones the
# emulator's log, "mem" (since the last clear) or "file" (the whole run).

def json_lines(path):
    """The lines of a --json file, and each account's line by address."""
    L = []
    for line in open(path, encoding="utf-8"):
        try:
            L.append(json.loads(line))
        except ValueError:
            fail("not JSON: %r" % line)
    return L, {r.get("account"): r for r in L}


def cmd_json_all_ok(path, n=None):
    """Every line says ok (and there are n lines, when given)."""
    L, _ = json_lines(path)
    if n is not None and len(L) != int(n):
        fail("%d lines, want %s" % (len(L), n), *L)
    if not L or any(r.get("status") != "ok" for r in L):
        fail("not every account is ok", *L)


def cmd_json_idle(path, n):
    """n lines, every account ok with nothing fetched and nothing new."""
    L, _ = json_lines(path)
    if len(L) != int(n) or any(r.get("status") != "ok" or r.get("fetched") != 0 or
                               r.get("new") != 0 for r in L):
        fail("not %s idle lines" % n, *L)


def cmd_json_says(path, *facts):
    """Each fact holds of the lines: lines=N (how many); WHO=STATUS (the
    account's status; an error always with its message), WHO=STATUS:TEXT
    (and the error message says TEXT); WHO.fetched=N, WHO.new=N. WHO is
    an account, or "all" for every line."""
    L, J = json_lines(path)
    errs = []
    for f in facts:
        key, _, want = f.partition("=")
        if key == "lines":
            if len(L) != int(want):
                errs.append("%d lines, want %s" % (len(L), want))
            continue
        who, field = key, "status"
        for k in ("fetched", "new"):
            if key.endswith("." + k):
                who, field = key[:-len(k) - 1], k
        rows = L if who == "all" else [J[who]] if who in J else []
        if not rows:
            errs.append("%s: no line" % who)
        for r in rows:
            if field != "status":
                if r.get(field) != int(want):
                    errs.append("%s: %s %r, want %s" % (r.get("account"), field,
                                                         r.get(field), want))
                continue
            status, _, text = want.partition(":")
            err = r.get("error")
            if r.get("status") != status:
                errs.append("%s: status %r, want %s" % (r.get("account"), r.get("status"), status))
            elif (status == "error" or text) and not (isinstance(err, str) and err):
                errs.append("%s: %s without an error message" % (r.get("account"), status))
            elif text and text not in err:
                errs.append("%s: error %r does not say %r" % (r.get("account"), err, text))
    if errs:
        fail(errs[0], *(errs[1:] + L))


def cmd_json_one_ok_line_per_account(path):
    """A line per connected account, each with account, provider (the
    mailbox's), status ok, and whole numbers fetched and new."""
    L, J = json_lines(path)
    E = expected()
    if len(L) != len(E) or sorted(J) != sorted(E):
        fail("lines for %s, want %s" % (sorted(J), sorted(E)), *L)
    for r in L:
        if not (set(r) >= {"account", "provider", "status", "fetched", "new"} and
                type(r["fetched"]) is int and type(r["new"]) is int and
                r["status"] == "ok" and r["provider"] == E[r["account"]][0]):
            fail("not an ok line with the contract's fields", r)


def cmd_json_fetched_what_to_sync(path):
    """Each account fetched every message it must store, and at most the
    ones it must skip besides."""
    _, J = json_lines(path)
    for a, (_, keep, skip) in expected().items():
        if not len(keep) <= J[a]["fetched"] <= len(keep) + len(skip):
            fail("%s fetched %d; %d to store, %d to skip" % (a, J[a]["fetched"],
                                                             len(keep), len(skip)))


def cmd_json_all_new(path):
    """Every message an account must store is new to it."""
    _, J = json_lines(path)
    for a, (_, keep, _) in expected().items():
        if J[a]["new"] != len(keep):
            fail("%s: %d new, %d to store" % (a, J[a]["new"], len(keep)))


def log_check(source, ok, what):
    A = api(log_entries(source))
    if not ok(A):
        log_fail(what, A)


def path_is(e, end):
    return e["path"].endswith(end)


def cmd_log_idle_costs_one_request(source, *mailboxes):
    """An idle run (of the connected accounts, or the mailboxes named):
    one history.list per Gmail account, one $batch per Outlook account
    (its folders' deltas, up to 20, inside it), nothing else."""
    mbs = mailboxes or ACCTS

    def ok(A):
        for a in mbs:
            want = "/gmail/v1/users/me/history" \
                if mailbox(a)["provider"] == "gmail" else "/v1.0/$batch"
            if [e["path"] for e in of(A, a)] != [want]:
                return False
        return len(A) == len(mbs)
    log_check(source, ok, "not one request per Gmail account and one "
              "$batch per Outlook account")


def cmd_log_history_types(source):
    """Every history.list asked for added messages and added labels."""
    log_check(source, lambda A: all(
        ql(e, "historyTypes") == ["messageAdded", "labelAdded"]
        for e in A if path_is(e, "/history")),
        "a history.list without historyTypes messageAdded, labelAdded")


def gmail_accounts():
    return [a for a in ACCTS if mailbox(a)["provider"] == "gmail"]


def cmd_log_gmail_full_sync(source):
    """Gmail's full syncs read each profile once, listed by 500 (and once
    for has:attachment), fetched in batches of 1 to 50 parts and never a
    message outside a batch."""
    def ok(A):
        return all(len([e for e in of(A, a) if e["path"] == "/gmail/v1/users/me/profile"]) == 1
                   for a in gmail_accounts()) and \
            all(q(e, "maxResults") == "500" for e in A
                if e["path"] == "/gmail/v1/users/me/messages") and \
            any(q(e, "q") == "has:attachment" for e in of(A, gmail_accounts()[0])) and \
            all(0 < e.get("parts", 0) <= 50 for e in A if e["path"] == "/batch/gmail/v1") and \
            not any(e["path"].startswith("/gmail/v1/users/me/messages/") for e in A)
    log_check(source, ok, "not a Gmail full sync by the book")


def cmd_log_gmail_incremental(source, *parts):
    """Gmail's incremental syncs: history.list with messageAdded and
    labelAdded, no profile and no listing (but has:attachment), and for
    each MAILBOX=N, N batch parts: the new messages only."""
    want = sorted(m for p in parts for m in [p.split("=")[0]] * int(p.split("=")[1]))
    G = log_entries(source)
    A = api(G)
    ok = all(ql(e, "historyTypes") == ["messageAdded", "labelAdded"]
             for e in A if path_is(e, "/history")) and \
        not any(path_is(e, "/profile") or path_is(e, "/messages") and
                not q(e, "q", "").startswith("has:attachment") for e in A) and \
        sorted(e.get("mailbox") for e in G
               if "batch" in e and e["path"].startswith("/gmail/")) == want
    if not ok:
        log_fail("not an incremental Gmail sync of %s" % " ".join(parts), A)


def cmd_log_asked_only(source, *mailboxes):
    """Requests went to each of these mailboxes and to no other connected
    one."""
    low = {m.lower() for m in mailboxes}
    log_check(source, lambda A: all(of(A, m) for m in mailboxes) and
              not any(of(A, a) for a in ACCTS if a.lower() not in low),
              "requests beyond %s, or none for one of them" % " ".join(mailboxes))


def cmd_log_history_404_resync(source, addr):
    """addr's first history.list got a 404, then it read the profile and
    listed its messages again."""
    def ok(A):
        mine = of(A, addr)
        return [e["status"] for e in mine if path_is(e, "/history")][:1] == [404] and \
            any(path_is(e, "/profile") for e in mine) and \
            any(path_is(e, "/messages") for e in mine)
    log_check(source, ok, "%s: no full sync after a history 404" % addr)


def cmd_log_delta_410_initial(source, addr, folders="1"):
    """addr got a 410 on as many folders as given (1 or 2, default 1),
    and started that many folders over with an initial round (inside a
    $batch or alone)."""
    n = int(folders)
    G = log_entries(source)
    mine = of(G, addr)
    gone = [e for e in mine if e["status"] == 410]
    initial = {e["path"] for e in mine if e.get("round") == "initial"}
    if not (bool(gone) and bool(initial) if n == 1 else
            len(gone) == n and len(initial) == n):
        log_fail("%s: not %d folder(s) started over after a 410" % (addr, n),
                 api(G))


def cmd_log_retry_after(source, addr, seconds):
    """addr's history.list got a 429, then a 200 at least the Retry-After
    seconds later (50 ms of the emulator's clock spared)."""
    def ok(A):
        h = [e for e in of(A, addr) if path_is(e, "/history")]
        return [e["status"] for e in h] == [429, 200] and \
            h[1]["time"] - h[0]["time"] >= float(seconds) - 0.05
    log_check(source, ok, "%s: no retry %s s after a 429" % (addr, seconds))


def cmd_log_retried(source, addr, status, count, seconds):
    """addr got count replies of status, each followed by a 200 on the
    same path at least seconds later."""
    st = int(status)

    def ok(A):
        mine = of(A, addr)
        bad = [e for e in mine if e["status"] == st]
        return len(bad) == int(count) and all(
            any(x["path"] == e["path"] and x["status"] == 200 and
                x["time"] - e["time"] >= float(seconds) for x in mine) for e in bad)
    log_check(source, ok, "%s: not %s %s each retried after %s s" % (addr, count, status, seconds))


def cmd_log_one_refresh_per_account(source):
    """An API request was refused (401), and each connected account
    refreshed its token once."""
    G = log_entries(source)
    A = api(G)
    got = sorted(e.get("mailbox") for e in G if e.get("grant_type") == "refresh_token")
    if got != sorted(ACCTS) or not any(e["status"] == 401 for e in A):
        log_fail("refreshes by %s, want one by each of %s" % (got, sorted(ACCTS)), A)


def cmd_log_full_resync(source):
    """--full: each Gmail account read its profile and listed at least
    every message it must store; each Outlook account started every
    folder it syncs over (at least its inbox and sent items)."""
    E = expected()
    G = log_entries(source)
    A = api(G)
    for a, (prov, keep, _) in E.items():
        if prov == "gmail":
            mine = of(A, a)
            listed = sum(e.get("count", 0) for e in mine
                         if path_is(e, "/messages") and not q(e, "q"))
            if not any(path_is(e, "/profile") for e in mine) or listed < len(keep):
                log_fail("%s: not a full sync" % a, A)
        elif len({e["path"] for e in of(G, a) if e.get("round") == "initial"
                  and path_is(e, "/messages/delta")}) < 2:
            log_fail("%s: its folders did not start over" % a, A)


def cmd_log_no_body(source):
    """No messages.get asked for format full or raw, no body was asked
    for or returned."""
    G = log_entries(source)
    if any(q(e, "format") in ("full", "raw") or e.get("body_requested") or
           e.get("body_returned") for e in G):
        log_fail("a body was asked for or returned", api(G))


def gets(G):
    return [e for e in G if e["path"].startswith("/gmail/v1/users/me/messages/")]


def cmd_log_metadata_headers(source):
    """Every messages.get asked for format metadata with the headers pull
    stores."""
    need = {"From", "To", "Cc", "Subject", "Date", "Message-ID"}
    G = log_entries(source)
    if not all(q(e, "format") == "metadata" and need <= set(ql(e, "metadataHeaders"))
               for e in gets(G)):
        log_fail("a messages.get without format=metadata and its headers", api(G))


def cmd_log_gets_batched(source):
    """Every messages.get went through a batch."""
    G = log_entries(source)
    if not all("batch" in e for e in gets(G)):
        log_fail("a messages.get outside a batch", api(G))


def cmd_log_graph_select_no_body(source):
    """Every answered Graph delta asked for immutable ids, and every first
    call of a round had a $select without body or uniqueBody."""
    G = log_entries(source)
    deltas = [e for e in G if path_is(e, "/messages/delta") and e["status"] == 200]
    first = [e for e in deltas if not q(e, "$skiptoken") and not q(e, "$deltatoken")]
    if not all(e.get("immutable") for e in deltas) or not all(
            q(e, "$select") and "body" not in q(e, "$select").split(",") and
            "uniqueBody" not in q(e, "$select").split(",") for e in first):
        log_fail("a delta without immutable ids, or a $select with a body", api(G))



def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    globals()["cmd_" + cmd.replace("-", "_")](*args)


if __name__ == "__main__":
    main()

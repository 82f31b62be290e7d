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
    L = []
    for line in open(path, encoding="utf-8"):
        try:
            L.append(json.loads(line))
        except ValueError:
            fail("not JSON: %r" % line)
    J = {r.get("account"): r for r in L}
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


def cmd_log(source, expr):
    """Evaluate expr over the emulator's request log (source "mem": the
    in-memory log since the last clear; "file": the whole run). A: API
    requests (outer requests only, token endpoint excluded), G: every
    entry, by(mailbox): A for one mailbox, E the expectations."""
    G = log_entries(source)
    A = api(G)

    def by(mb):
        return [e for e in A if (e.get("mailbox") or "").lower() == mb.lower()]

    def parts(mb):
        return [e for e in G if "batch" in e and (e.get("mailbox") or "").lower() == mb.lower()]

    def every(mb):
        return sorted(by(mb) + parts(mb), key=lambda e: e["seq"])

    def q(e, k, d=None):
        return e.get("query", {}).get(k, d)

    def ql(e, k):
        v = q(e, k, [])
        return v if isinstance(v, list) else [v]
    E = expected() if "E[" in expr else {}
    if not eval(expr, dict(globals(), G=G, A=A, E=E, by=by, parts=parts,
                           every=every, q=q, ql=ql)):
        fail("false: " + expr,
             *["%s %s %s %s %s" % (e.get("mailbox"), e["method"], e["path"], e["status"],
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


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    globals()["cmd_" + cmd](*args)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The foundation benchmark: prints its figures, asserts nothing.

Builds a database of 100,000 clients (300,000 addresses) and 1,000,000
emails (10 team accounts with an alias each, 10 % bulk mail), then
times, as whole processes:
  - mailsync-clients import of the 100,000 clients (target <= 5 s)
  - mailsync-match --rematch over everything (target <= 3 s), with the
    default rules, with every rule on (plus addressing, Gmail dots,
    internal and bulk exclusion, a blocklist, retention) and with every
    rule off; and the first match after each change of rules, which
    classifies every address again (no target: it runs once per change)
  - mailsync-show of a client with 10,000 emails, newest 50 (<= 20 ms)
and reports each one's peak RSS.

usage: bench/bench.py [--bin BUILD/cmd] [--dir WORKDIR] [--emails N]
"""
import argparse
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

TARGETS = {"import": 5.0, "rematch": 3.0, "show": 0.020, "change": None}

RULES_ON = {"match.plus_addressing": "on", "match.gmail_dots": "on",
            "exclude.internal": "on", "exclude.bulk": "on",
            # on, and checking every email, though none is that old
            "retention.unmatched_days": "3650"}
RULES_OFF = {"match.plus_addressing": "off", "match.gmail_dots": "off",
             "exclude.internal": "off", "exclude.bulk": "off",
             "retention.unmatched_days": "0"}
BLOCKED = ["@spam.example", "@mailer.elsewhere.example", "person7@elsewhere.example"]


def run(cmd, env, stdin=None):
    """Run cmd; return (seconds, peak RSS in KiB).

    The RSS comes from GNU time(1): a child forked from this (large)
    Python process would report the parent's RSS as its own peak.
    """
    err = tempfile.TemporaryFile()
    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "rss=%M"] + cmd, env=env,
                       stdin=stdin, stdout=subprocess.DEVNULL, stderr=err)
    dt = time.perf_counter() - t0
    err.seek(0)
    lines = err.read().decode().strip().splitlines()
    err.close()
    if p.returncode != 0:
        sys.exit("bench: %s failed: %s" % (" ".join(cmd), " ".join(lines)))
    return dt, int(lines[-1].split("=")[1])


def write_clients(path, n):
    with open(path, "w") as f:
        for i in range(n):
            f.write('{"id":"c-%06d","name":"Client %d","email":"main%d@client%d.example",'
                    '"portal_email":"portal%d@client%d.example",'
                    '"contacts":[{"name":"Contact %d","email":"contact%d@client%d.example"}]}\n'
                    % (i, i, i, i, i, i, i, i, i))


def fill_emails(db, nemails, heavy_emails):
    """Insert emails as mailsync stores them, with bound parameters."""
    con = sqlite3.connect(db)
    con.execute("PRAGMA foreign_keys = OFF")
    con.execute("PRAGMA synchronous = OFF")
    con.execute("PRAGMA journal_mode = WAL")
    rnd = random.Random(42)
    cur = con.cursor()
    # Client addresses are ids 1..300000 from the import, in order main,
    # portal, contact per client. Add team and stranger addresses.
    (maxid,) = cur.execute("SELECT max(id) FROM addresses").fetchone()
    team = list(range(maxid + 1, maxid + 11))
    strangers = list(range(maxid + 11, maxid + 11 + 200000))
    cur.executemany("INSERT INTO addresses (id, email) VALUES (?, ?)",
                    [(a, "member%d@firm.example" % (a - maxid)) for a in team] +
                    [(a, "person%d@elsewhere.example" % a) for a in strangers])
    # The team's accounts, each with an alias: the business addresses.
    for k, a in enumerate(team):
        cur.execute("INSERT INTO accounts (id, provider, address, member, created) "
                    "VALUES (?, 'gmail', ?, ?, 1700000000)",
                    (k + 1, "member%d@firm.example" % (a - maxid), "m%d" % k))
        cur.execute("INSERT INTO aliases (address, account_id, origin) "
                    "VALUES (?, ?, 'manual')", ("team%d@firm.example" % k, k + 1))
    heavy = 1  # client c-000000's main email
    t0 = 1700000000
    emails, addrs = [], []
    for i in range(1, nemails + 1):
        src = ("gmail", "outlook", "crm")[i % 3]
        out = i % 2
        date = t0 + i * 60 + rnd.randrange(60)
        emails.append((i, "<b%d@bench.example>" % i, src,
                       "out" if out or src == "crm" else "in", date,
                       "Subject %d" % i, "Snippet of email %d, short." % i,
                       i % 7 == 0, src != "crm" and i % 10 == 3))
        me = rnd.choice(team)
        if i <= heavy_emails:
            other = heavy
        elif rnd.random() < 0.6:
            other = rnd.randrange(1, maxid + 1)
        else:
            other = rnd.choice(strangers)
        frm, to = (me, other) if out else (other, me)
        addrs.append((i, 0, 0, frm, ""))
        addrs.append((i, 1, 0, to, ""))
        if i % 4 == 0:
            addrs.append((i, 2, 0, rnd.choice(strangers), ""))
        if len(emails) == 100000:
            flush(cur, emails, addrs)
    flush(cur, emails, addrs)
    con.commit()
    con.close()


def flush(cur, emails, addrs):
    cur.executemany("INSERT INTO emails (id, message_id, source, direction, "
                    "date, subject, snippet, has_attachments, bulk) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", emails)
    cur.executemany("INSERT INTO email_addrs (email_id, role, pos, "
                    "address_id, name) VALUES (?, ?, ?, ?, ?)", addrs)
    emails.clear()
    addrs.clear()


def setup(name, emails):
    """The options of the database benchmarks (bench.py, complete.py; --emails
    defaults to EMAILS) and a fresh database NAME in the work folder: the
    options, the work folder, the database, the environment for the binaries
    and their folder."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(
        os.path.dirname(__file__), "..", "build", "cmd"))
    ap.add_argument("--dir", default=None)
    ap.add_argument("--emails", type=int, default=emails)
    ap.add_argument("--clients", type=int, default=100000)
    ap.add_argument("--runs", type=int, default=30)
    a = ap.parse_args()
    work = a.dir or tempfile.mkdtemp(prefix="mailsync-bench.")
    os.makedirs(work, exist_ok=True)
    db = os.path.join(work, name)
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.unlink(db + suffix)
    env = dict(os.environ, MAILSYNC_DB=db, LC_ALL="C.UTF-8")
    env.pop("NO_COLOR", None)
    return a, work, db, env, os.path.abspath(a.bin)


def main():
    a, work, db, env, bin_ = setup("bench.db", 1000000)

    def exe(name):
        return os.path.join(bin_, "mailsync-" + name)

    clients = os.path.join(work, "clients.jsonl")
    write_clients(clients, a.clients)
    with open(clients) as f:
        t_imp, rss_imp = run([exe("clients"), "-q", "import"], env, stdin=f)
    print("generating %d emails..." % a.emails, file=sys.stderr)
    fill_emails(db, a.emails, 10000)
    config = exe("config")

    def rules(settings, block):
        for k, v in settings.items():
            subprocess.run([config, "set", k, v], env=env, check=True)
        verb = "block" if block else "unblock"
        subprocess.run([config, verb] + BLOCKED, env=env, check=True,
                       stderr=subprocess.DEVNULL)

    matches = []
    for label, settings, block in (("default rules", None, False),
                                   ("every rule on", RULES_ON, True),
                                   ("every rule off", RULES_OFF, False)):
        if settings:
            rules(settings, block)
        t, rss = run([exe("match"), "-q"], env)
        matches.append(("match, rules changed: %s" % label, t, rss, "change"))
        t, rss = run([exe("match"), "-q", "--rematch"], env)
        matches.append(("match --rematch, %s" % label, t, rss, "rematch"))
    # Back to the defaults, as the show figure's database.
    for k in RULES_ON:
        subprocess.run([config, "unset", k], env=env, check=True)
    run([exe("match"), "-q"], env)
    con = sqlite3.connect(db)
    (links,) = con.execute("SELECT count(*) FROM email_clients").fetchone()
    (heavy,) = con.execute("SELECT count(*) FROM email_clients "
                           "WHERE client_id = 1").fetchone()
    con.close()
    times, rss_show = [], 0
    for _ in range(a.runs):
        dt, rss = run([exe("show"), "--limit", "50", "c-000000"], env)
        times.append(dt)
        rss_show = max(rss_show, rss)
    t_show = statistics.median(times)

    print("database: %d clients (%d addresses), %d emails, %d links; "
          "busiest client %d emails"
          % (a.clients, a.clients * 3, a.emails, links, heavy))
    rows = [("clients import (%d)" % a.clients, t_imp, rss_imp, "import")]
    rows += matches
    rows.append(("show --limit 50 (median of %d)" % a.runs, t_show, rss_show,
                 "show"))
    print("%-44s %8s %8s %12s" % ("step", "seconds", "target", "peak RSS"))
    for name, t, rss, key in rows:
        target = TARGETS[key]
        print("%-44s %8.3f %8s %9.1f MB %s" % (
            name, t, "%.3f" % target if target else "-", rss / 1024,
            "" if target is None else "ok" if t <= target else "OVER TARGET"))


if __name__ == "__main__":
    main()

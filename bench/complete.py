#!/usr/bin/env python3
"""The completion benchmark: prints its figures, asserts nothing.

The shell completions ask the binaries for candidates as whole processes:
`mailsync-clients list --ids PREFIX` for a CLIENT (ids and the addresses
on client records), `mailsync-show --accounts --tsv` for an ADDRESS. On
the database of bench.py (100,000 clients, 300,000 client addresses,
200,000 strangers' addresses from the emails) each must answer in under
50 ms (target), whatever the prefix: a short one, one no client has but
thousands of strangers do ("person"), a full id, none at all (the first
1000 of everything). Prints the median of --runs runs of each, as the
time a person waits after TAB.

usage: bench/complete.py [--bin BUILD/cmd] [--dir WORKDIR] [--emails N]
"""
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the same options and database builder)

TARGET = 0.050


def timed(cmd, env):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit("complete: %s failed: %s" % (" ".join(cmd),
                                              p.stderr.decode().strip()))
    return dt, p.stdout.count(b"\n")


def main():
    a, work, db, env, bin_ = bench.setup("complete.db", 200000)
    clients = os.path.join(work, "clients.jsonl")
    bench.write_clients(clients, a.clients)
    with open(clients) as f:
        subprocess.run([os.path.join(bin_, "mailsync-clients"), "-q",
                        "import"], env=env, stdin=f, check=True)
    print("generating %d emails..." % a.emails, file=sys.stderr)
    bench.fill_emails(db, a.emails, 1000)

    ids = os.path.join(bin_, "mailsync-clients")
    cases = [
        ("list --ids c-0421 (an id's prefix)", [ids, "list", "--ids", "c-0421"]),
        ("list --ids c-042137 (a whole id)", [ids, "list", "--ids", "c-042137"]),
        ("list --ids main4213 (addresses)", [ids, "list", "--ids", "main4213"]),
        ("list --ids person (strangers only)", [ids, "list", "--ids", "person"]),
        ("list --ids p (portal after strangers)", [ids, "list", "--ids", "p"]),
        ("list --ids (no prefix: the first 1000)", [ids, "list", "--ids"]),
        ("show --accounts --tsv (addresses)",
         [os.path.join(bin_, "mailsync-show"), "--accounts", "--tsv"]),
    ]
    print("database: %d clients (%d addresses), %d emails"
          % (a.clients, a.clients * 3, a.emails))
    print("%-44s %10s %7s %8s" % ("completion", "median", "lines", "target"))
    for label, cmd in cases:
        times, lines = [], 0
        for _ in range(a.runs):
            dt, lines = timed(cmd, env)
            times.append(dt)
        t = statistics.median(times)
        print("%-44s %8.1f ms %7d %8s" % (label, t * 1000, lines,
              "ok" if t <= TARGET else "SLOW"))


if __name__ == "__main__":
    main()

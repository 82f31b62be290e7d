#!/usr/bin/env python3
"""chrome.py: drive Debian's headless Chromium for the HTML tests.

    chrome.py shot PAGE PNG WIDTH HEIGHT [--dark]   a screenshot
    chrome.py dom PAGE                              the DOM, on stdout
    chrome.py version                               "Chromium 1xx..."

PAGE is a file. --dark renders with prefers-color-scheme: dark
(--force-dark-mode, which Chromium's headless mode honours; it sets the
preference only, it does not darken pages itself). Environment: CHROMIUM
(default /usr/bin/chromium), T (the profile goes under $T/chrome, the log
to $T/chrome.log).

Nothing leaves the machine: the background services are off, every host
name resolves to nothing and any request would go to a dead proxy on
127.0.0.1; the pages under test load nothing anyway (their CSP says so).
"""
import os
import subprocess
import sys

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
T = os.environ.get("T", "/tmp")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
    "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions",
    "--disable-domain-reliability", "--no-pings",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
    "--hide-scrollbars", "--force-device-scale-factor=1",
    "--user-data-dir=" + os.path.join(T, "chrome"),
]


def run(args, capture=False):
    with open(os.path.join(T, "chrome.log"), "ab") as log:
        r = subprocess.run([CHROMIUM] + FLAGS + args, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE if capture else log,
                           stderr=log, timeout=120, check=True)
    return r.stdout


def url(page):
    return "file://" + os.path.abspath(page)


def shot(page, png, width, height, dark=False):
    if os.path.exists(png):
        os.unlink(png)
    run((["--force-dark-mode"] if dark else []) +
        ["--screenshot=" + png, "--window-size=%d,%d" % (width, height),
         url(page)])
    if not os.path.exists(png):
        raise SystemExit(f"chromium wrote no screenshot of {page}")


def dom(page):
    return run(["--dump-dom", url(page)], capture=True).decode("utf-8")


def version():
    r = subprocess.run([CHROMIUM, "--version"], capture_output=True,
                       timeout=60, check=True)
    return r.stdout.decode().strip()


if __name__ == "__main__":
    a = sys.argv[1:]
    if a[0] == "shot":
        shot(a[1], a[2], int(a[3]), int(a[4]), "--dark" in a[5:])
    elif a[0] == "dom":
        sys.stdout.write(dom(a[1]))
    elif a[0] == "version":
        print(version())
    else:
        raise SystemExit("usage: chrome.py shot|dom|version ...")

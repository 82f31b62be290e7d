#!/usr/bin/env python3
"""html-check.py: the checks of tests/t-html.sh, on what mailsync-show
--html printed, on the DOM Chromium built from it (--dump-dom) and on
its screenshots (png.py).

    html-check.py COMMAND ARGS...

Each command prints "# ..." diagnostics and exits 1 when its check
fails. The colours are read from the page's own stylesheet (the custom
properties of .ms-tab, per scheme), never written down here, so what is
checked is what is printed.
"""
import json
import os
import re
import sqlite3
import sys
from html.parser import HTMLParser

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import png  # noqa: E402

VOID = {"meta", "br", "hr", "img", "input", "link", "wbr", "col", "source"}
# What the HTML back end drops (term.h): C0 but tab/CR/LF (spaces), DEL,
# C1, ALM, the zero-width and bidi controls, word joiner and friends,
# BOM.
DROPPED = set(range(0x00, 0x20)) | set(range(0x7F, 0xA0)) | {0x061C} \
    | set(range(0x200B, 0x2010)) | set(range(0x202A, 0x202F)) \
    | set(range(0x2060, 0x2070)) | {0xFEFF}


def fail(msg, *more):
    print("# " + msg)
    for m in more[:20]:
        print("#   %s" % (m,))
    sys.exit(1)


def diag(msg):
    print("# " + msg)


# ------------------------------------------------------------------ DOM

class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent = tag, dict(attrs), parent
        self.children = []

    @property
    def classes(self):
        return (self.attrs.get("class") or "").split()

    def text(self):
        return "".join(c if isinstance(c, str) else c.text()
                       for c in self.children)

    def walk(self):
        for c in self.children:
            if isinstance(c, Node):
                yield c
                yield from c.walk()

    def find(self, tag=None, cls=None):
        return [n for n in self.walk()
                if (tag is None or n.tag == tag)
                and (cls is None or cls in n.classes)]

    def within(self, tag):
        n = self.parent
        while n is not None:
            if n.tag == tag:
                return True
            n = n.parent
        return False


class Tree(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {}, None)
        self.cur = self.root
        self.errors, self.decl = [], None

    def handle_decl(self, decl):
        self.decl = decl

    def handle_starttag(self, tag, attrs):
        n = Node(tag, attrs, self.cur)
        self.cur.children.append(n)
        if tag not in VOID:
            self.cur = n

    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(Node(tag, attrs, self.cur))

    def handle_endtag(self, tag):
        if self.cur.tag != tag:
            self.errors.append(f"</{tag}> closes <{self.cur.tag}>")
            return
        self.cur = self.cur.parent

    def handle_data(self, data):
        self.cur.children.append(data)


def parse(path):
    t = Tree()
    t.feed(open(path, encoding="utf-8").read())
    t.close()
    return t


def texts_outside(node, tag):
    """The text of node outside any <tag> element."""
    out = []
    for c in node.children:
        if isinstance(c, str):
            out.append(c)
        elif c.tag != tag:
            out.append(texts_outside(c, tag))
    return "".join(out)


def dropped(s):
    """s as the HTML back end shows it: controls dropped, tab, CR and
    LF a space (line feeds kept in bodies)."""
    return "".join(" " if ch in "\t\r" else ch for ch in s
                   if ord(ch) not in DROPPED or ch in "\t\r\n")


# ------------------------------------------------------------- colours

def blocks(css):
    """The top-level rules of css: (prelude, body) pairs."""
    out, i = [], 0
    while True:
        j = css.find("{", i)
        if j < 0:
            return out
        depth, k = 0, j
        while k < len(css):
            depth += {"{": 1, "}": -1}.get(css[k], 0)
            if depth == 0:
                break
            k += 1
        out.append((css[i:j].strip(), css[j + 1:k]))
        i = k + 1


def tab_style(page):
    t = parse(page)
    roots = [n for n in t.root.walk() if "ms-tab" in n.classes]
    if not roots:
        fail(f"{page}: no .ms-tab element")
    styles = roots[0].find("style")
    if not styles:
        fail(f"{page}: the .ms-tab element has no <style>")
    return styles[0].text()


VAR = re.compile(r"--ms-([a-z]+):\s*(#[0-9a-fA-F]{6})")


def schemes(page):
    """{"light": {...}, "dark": {...}, "print": {...}}: the custom
    properties of .ms-tab in each scheme (dark and print over light)."""
    css = tab_style(page)
    light, dark, prnt = {}, {}, {}
    for pre, body in blocks(css):
        if pre == ".ms-tab":
            light.update(VAR.findall(body))
        elif pre.startswith("@media") and "prefers-color-scheme" in pre \
                and "dark" in pre:
            for p2, b2 in blocks(body):
                if p2 == ".ms-tab":
                    dark.update(VAR.findall(b2))
        elif pre == "@media print":
            for p2, b2 in blocks(body):
                if p2 == ".ms-tab":
                    prnt.update(VAR.findall(b2))
    if not light or not dark or not prnt:
        fail(f"{page}: want the colours of .ms-tab for light, dark and "
             f"print, got {len(light)}, {len(dark)}, {len(prnt)}")
    low = lambda d: {k: v.lower() for k, v in d.items()}
    return {"light": low(light), "dark": low({**light, **dark}),
            "print": low({**light, **prnt})}


def rgb(h):
    h = h.lstrip("#")
    return tuple(int(h[i:i + 2], 16) for i in (0, 2, 4))


def luminance(h):
    def lin(c):
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (lin(c) for c in rgb(h))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a, b):
    """WCAG 2.x contrast ratio (relative luminance, (L1 + 0.05) /
    (L2 + 0.05))."""
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


# The pairs of text and the background it is drawn on: (what, text,
# background). A badge's text is drawn on the badge.
PAIRS = [
    ("text", "fg", "bg"),
    ("muted text: snippets, addresses, headers", "muted", "bg"),
    ("text on the View panel", "fg", "panel"),
    ("muted text on the View panel", "muted", "panel"),
    ("inbound arrow", "in", "bg"),
    ("outbound arrow", "out", "bg"),
    ("status active", "on", "active"),
    ("status stale", "on", "stale"),
    ("status needs re-authorization", "on", "reauth"),
    ("status disconnected", "on", "off"),
    ("status error", "on", "error"),
]
# In print the badges lose their background: their text is on the page.
PRINT_PAIRS = PAIRS[:6] + [("badge text", "on", "bg")]


SOURCE = re.compile(r"\.ms-src-([a-z]+)\{")


def cmd_contrast(page):
    bad = []
    # Every source badge the page styles (the CRM's and one per driver).
    sources = sorted(set(SOURCE.findall(tab_style(page))))
    if "crm" not in sources or len(sources) < 3:
        fail(f"{page}: want the CRM's and the drivers' badges, got {sources}")
    pairs = PAIRS + [("%s badge" % s, "on", s) for s in sources]
    for scheme, v in schemes(page).items():
        for what, fg, bg in PRINT_PAIRS if scheme == "print" else pairs:
            r = contrast(v[fg], v[bg])
            diag(f"{scheme:5} {what}: {v[fg]} on {v[bg]} {r:.2f}:1")
            if r < 4.5:
                bad.append(f"{scheme} {what}: {r:.2f}:1")
    if bad:
        fail("below WCAG AA (4.5:1)", *bad)


# --------------------------------------------------------- screenshots

def clusters(img, colour, box, tol=6, min_px=3):
    """The vertical runs of rows holding at least min_px pixels of colour
    (each channel within tol) inside box: [(y0, y1)]."""
    x0, y0, x1, y1 = box
    ys = []
    for y in range(max(0, y0), min(img.height, y1)):
        if img.count(rgb(colour), (x0, y, x1, y + 1), tol) >= min_px:
            ys.append(y)
    runs = []
    for y in ys:
        if runs and y - runs[-1][1] <= 2:
            runs[-1][1] = y
        else:
            runs.append([y, y])
    return [tuple(r) for r in runs]


def sequence(img, marks, box, tol, min_px):
    """Top to bottom, which of marks ({label: colour}) is drawn, with
    the middle row of each: runs of rows with min_px pixels of it."""
    found = []
    for label, colour in marks.items():
        for a, b in clusters(img, colour, box, tol, min_px):
            if b - a >= 3:
                found.append(((a + b) // 2, label))
    return sorted(found)


def column_box(img, colours, margin=4):
    """The x range where any of colours is drawn, the whole height."""
    want = {rgb(c) for c in colours}
    lo, hi = img.width, -1
    for y in range(img.height):
        r = img.rows[y]
        for i, p in enumerate(zip(r[0::3], r[1::3], r[2::3])):
            if p in want:
                lo, hi = min(lo, i), max(hi, i)
    return (max(0, lo - margin), 0, hi + margin + 1, img.height)


def source_vars(page):
    """The sources the page styles a badge for (the CRM's and one per
    driver), each its custom property's name."""
    return sorted(set(SOURCE.findall(tab_style(page))))


def cmd_rows(shot, page, scheme, expect):
    """The screenshot shows, row by row from the top, the arrow of each
    email in its colour and its source badge in its colour, in the order
    of expect ("out:crm in:gmail ..."), each arrow beside its badge."""
    v = schemes(page)[scheme]
    img = png.read(shot)
    want = [tuple(e.split(":")) for e in expect.split()]
    arrows = {"in": v["in"], "out": v["out"]}
    badges = {s: v[s] for s in source_vars(page)}
    left = (0, 0, img.width // 3, img.height)
    # An arrow's stem is a pixel or two wide; a badge is filled.
    a = sequence(img, arrows, left, 2, 1)
    b = sequence(img, badges, left, 2, 12)
    diag("arrows drawn: " + " ".join(f"{l}@{y}" for y, l in a))
    diag("badges drawn: " + " ".join(f"{l}@{y}" for y, l in b))
    if [l for _, l in a] != [d for d, _ in want]:
        fail("the arrows, top to bottom, are not the emails' directions",
             [d for d, _ in want])
    if [l for _, l in b] != [s for _, s in want]:
        fail("the badges, top to bottom, are not the emails' sources",
             [s for _, s in want])
    far = [(ya, yb) for (ya, _), (yb, _) in zip(a, b) if abs(ya - yb) > 12]
    if far:
        fail("an arrow and its badge are not on the same row", *far)
    xa = column_box(img, list(arrows.values()))
    xb = column_box(img, list(badges.values()))
    if not xa[2] <= xb[0] + 8:
        fail(f"the arrows (x {xa[0]}-{xa[2]}) are not left of the badges "
             f"(x {xb[0]}-{xb[2]})")


def share(img, colour, tol=0):
    return img.count(rgb(colour), tol=tol) / (img.width * img.height)


def cmd_scheme(shot, page, scheme):
    """The page is drawn in scheme: its background covers most of the
    screenshot, its text colour is there, and the other scheme's
    background is not."""
    s = schemes(page)
    v = s[scheme]
    other = s["light" if scheme == "dark" else "dark"]
    img = png.read(shot)
    bg, fg = share(img, v["bg"]), img.count(rgb(v["fg"]))
    diag(f"{scheme}: background {v['bg']} {bg:.1%} of the pixels, "
         f"{fg} pixels of text colour {v['fg']}, "
         f"the other background {other['bg']} "
         f"{share(img, other['bg']):.2%}")
    if bg < 0.6:
        fail(f"the background {v['bg']} covers only {bg:.1%}")
    if fg < 200:
        fail(f"only {fg} pixels of the text colour {v['fg']}")
    if share(img, other["bg"]) > 0.01:
        fail(f"the other scheme's background {other['bg']} is drawn")
    if scheme == "dark" and luminance(v["fg"]) <= luminance(v["bg"]):
        fail("dark scheme: the text is not lighter than the background")


def cmd_panels(closed, opened, page, scheme, n):
    """The View panels: none drawn while closed, n drawn once open."""
    v = schemes(page)[scheme]
    a, b = png.read(closed), png.read(opened)
    box = (0, 0, a.width, a.height)
    ca = clusters(a, v["panel"], box, tol=0, min_px=200)
    cb = clusters(b, v["panel"], box, tol=0, min_px=200)
    diag(f"panels ({v['panel']}) closed: {ca}, open: {cb}")
    if ca:
        fail("a View panel is drawn before it is opened")
    if len(cb) < int(n):
        fail(f"{len(cb)} View panels drawn once opened, want {n}")


def cmd_colours(shot, page, scheme, names):
    """Each named colour of the scheme is drawn (at least 50 pixels)."""
    v = schemes(page)[scheme]
    img = png.read(shot)
    missing = []
    for name in names.split(","):
        n = img.count(rgb(v[name]))
        diag(f"{name} {v[name]}: {n} pixels")
        if n < 50:
            missing.append(name)
    if missing:
        fail("not drawn: " + ", ".join(missing))


def cmd_absent(shot, page, scheme, names):
    """None of the named colours is drawn (print: no backgrounds)."""
    v = schemes(page)[scheme]
    img = png.read(shot)
    there = [f"{n} {v[n]}: {img.count(rgb(v[n]))} pixels"
             for n in names.split(",") if img.count(rgb(v[n])) > 20]
    if there:
        fail("drawn", *there)


def cmd_fits(shot, page, scheme):
    """Nothing is drawn in the 24 rightmost columns: the page fits the
    window's width (no line runs off the edge)."""
    v = schemes(page)[scheme]
    img = png.read(shot)
    box = (img.width - 24, 0, img.width, img.height)
    h = img.histogram(box)
    other = sum(n for p, n in h.items() if p != rgb(v["bg"]))
    if other:
        fail(f"{other} pixels drawn in the rightmost 24 columns")


def cmd_same(a, b):
    """Two screenshots with the same pixels."""
    x, y = png.read(a), png.read(b)
    if (x.width, x.height) != (y.width, y.height):
        fail(f"sizes differ: {x.width}x{x.height}, {y.width}x{y.height}")
    diff = [i for i in range(x.height) if x.rows[i] != y.rows[i]]
    if diff:
        fail(f"{len(diff)} rows differ, from row {diff[0]} to {diff[-1]}")


# ----------------------------------------------------------------- DOM

def cmd_page(page):
    """A standalone HTML5 page: doctype, lang, charset, viewport, inline
    style, no script, nothing loaded from elsewhere."""
    raw = open(page, encoding="utf-8").read()
    t = parse(page)
    why = list(t.errors)
    if (t.decl or "").lower() != "doctype html":
        why.append(f"doctype {t.decl!r}")
    html = t.root.find("html")
    if not html or not html[0].attrs.get("lang"):
        why.append("no <html lang>")
    metas = t.root.find("meta")
    if not any(m.attrs.get("charset", "").lower() == "utf-8" for m in metas):
        why.append("no <meta charset=utf-8>")
    if not any(m.attrs.get("name") == "viewport" for m in metas):
        why.append("no viewport")
    csp = [m.attrs.get("content", "") for m in metas
           if m.attrs.get("http-equiv", "").lower()
           == "content-security-policy"]
    if not csp or "default-src 'none'" not in csp[0]:
        why.append("no Content-Security-Policy default-src 'none'")
    for n in t.root.walk():
        if n.tag in ("script", "link", "img", "iframe", "object", "embed"):
            why.append(f"a <{n.tag}> element")
        for k, val in n.attrs.items():
            if k.startswith("on") or k in ("src", "href", "srcset"):
                why.append(f"<{n.tag} {k}={val!r}>")
    if re.search(r"@import|url\(|javascript:", raw, re.I):
        why.append("@import, url() or javascript: in the page")
    if why:
        fail(f"{page}: not a standalone page", *why)


def cmd_fragment(path):
    """One element, the tab: a <section class="ms-tab ..."> whose first
    child is its <style>, every selector of which is under .ms-tab; no
    document around it."""
    t = parse(path)
    top = [c for c in t.root.children
           if not (isinstance(c, str) and not c.strip())]
    why = list(t.errors)
    if t.decl:
        why.append("a doctype")
    if len(top) != 1 or isinstance(top[0], str):
        why.append(f"{len(top)} top-level nodes")
    else:
        root = top[0]
        if root.tag != "section" or "ms-tab" not in root.classes:
            why.append(f"the root is <{root.tag} class={root.classes}>")
        kids = [c for c in root.children if isinstance(c, Node)]
        if not kids or kids[0].tag != "style":
            why.append("its first child is not its <style>")
        for n in root.walk():
            if n.tag in ("html", "head", "body", "script", "link"):
                why.append(f"a <{n.tag}>")
            for c in n.classes:
                if not c.startswith("ms-"):
                    why.append(f"class {c!r} is not namespaced")
        if kids and kids[0].tag == "style":
            for sel in selectors(kids[0].text()):
                if not sel.startswith(".ms-tab"):
                    why.append(f"selector {sel!r} is not under .ms-tab")
    if why:
        fail(f"{path}: not one embeddable element", *why)


def selectors(css):
    out = []
    for pre, body in blocks(css):
        if pre.startswith("@media") or pre.startswith("@container"):
            out += selectors(body)
        else:
            out += [s.strip() for s in pre.split(",")]
    return out


def rows_of(dom):
    t = parse(dom)
    return {int(n.attrs["data-id"]): n for n in t.root.find("tr")
            if "data-id" in n.attrs}, t


LABEL = {"crm": "CRM", "gmail": "Gmail", "outlook": "Outlook",
         "imap": "IMAP"}


def cmd_emails(dom, jsonl, db):
    """Row by row, the DOM says what --json says: the order, the arrow's
    words, the badge, the <time datetime>, who it is with (name and
    address), the subject as stored (controls dropped), the snippet
    apart from it, the attachment mark."""
    rows, t = rows_of(dom)
    want = [json.loads(l) for l in open(jsonl, encoding="utf-8")]
    if t.errors:
        fail("the DOM is not well formed", *t.errors)
    order = [int(n.attrs["data-id"]) for n in t.root.find("tr")
             if "data-id" in n.attrs]
    if order != [e["id"] for e in want]:
        fail("the rows are not the emails newest first",
             order, [e["id"] for e in want])
    c = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    why = []
    for e in want:
        r = rows[e["id"]]
        stored = c.execute("SELECT subject FROM emails WHERE id = ?",
                           (e["id"],)).fetchone()[0]

        def one(cls):
            n = r.find(cls=cls)
            return n[0].text() if n else None
        sr = " ".join(n.text() for n in r.find(cls="ms-sr"))
        word = "inbound" if e["direction"] == "in" else "outbound"
        if word not in sr:
            why.append(f"{e['id']}: no {word!r} for screen readers: {sr!r}")
        badge = r.find(cls="ms-badge")
        if not badge or badge[0].text() != LABEL[e["source"]] or \
                "ms-src-" + e["source"] not in badge[0].classes:
            why.append(f"{e['id']}: badge {badge and badge[0].text()!r}")
        times = [n.attrs.get("datetime") for n in r.find("time")]
        if not times or times[0] != e["date"]:
            why.append(f"{e['id']}: <time datetime> {times[:1]} "
                       f"!= {e['date']}")
        subj = one("ms-subject")
        if subj != dropped(stored or "") and not (stored == "" and
                                                   subj == "(no subject)"):
            why.append(f"{e['id']}: subject {subj!r} != stored "
                       f"{dropped(stored or '')!r}")
        snip = one("ms-snippet")
        if e["snippet"] and snip != dropped(e["snippet"]).replace("\n", " "):
            why.append(f"{e['id']}: snippet {snip!r}")
        if e["snippet"] and r.find(cls="ms-snippet")[0].within("details"):
            why.append(f"{e['id']}: the snippet is inside the View")
        name = one("ms-name")
        addr = one("ms-addr")
        who = e["from"] if e["direction"] == "in" else \
            (e["to"] or e["cc"] or [e["from"]])[0]
        if (who["name"] and (name, addr) != (dropped(who["name"]),
                                               who["email"])) or \
                (not who["name"] and name != who["email"]):
            why.append(f"{e['id']}: with {name!r} {addr!r}, want {who}")
        clip = bool(r.find(cls="ms-clip")) and "has attachments" in sr
        if clip != e["has_attachments"]:
            why.append(f"{e['id']}: attachment mark {clip}")
    if why:
        fail("the DOM differs from --json", *why)


def cmd_view(dom, db):
    """A CRM email has a View (<details>) holding its headers and its
    whole body (controls dropped); a synced one has none. The body's
    text is in the DOM only inside the <details>."""
    rows, t = rows_of(dom)
    c = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    why = []
    for i, r in rows.items():
        src, body, snippet = c.execute(
            "SELECT source, body, snippet FROM emails WHERE id = ?",
            (i,)).fetchone()
        det = r.find("details")
        if src != "crm" or body is None:
            if det:
                why.append(f"{i}: a synced email with a View")
            continue
        if len(det) != 1:
            why.append(f"{i}: {len(det)} <details>")
            continue
        d = det[0]
        summ = d.find("summary")
        if not summ or not summ[0].text().startswith("View"):
            why.append(f"{i}: no <summary>View")
        heads = [n.text() for n in d.find("dt")]
        if not {"Date", "From", "To", "Subject"} <= set(heads):
            why.append(f"{i}: headers {heads}")
        pre = d.find("pre")
        if not pre or pre[0].text() != dropped(body):
            why.append(f"{i}: the View's body {pre and pre[0].text()!r} != "
                       f"{dropped(body)!r}")
        # The end of a body past its snippet: only in the View.
        lines = [l for l in dropped(body).split("\n") if len(l) > 8]
        outside = texts_outside(r, "details")
        if lines and lines[-1] not in (snippet or "") and \
                lines[-1] in outside:
            why.append(f"{i}: its last line {lines[-1]!r} is outside the "
                       f"View")
    if why:
        fail("the Views", *why)


def cmd_text(dom, *words):
    """Each word is in the DOM's text; with "--not", the words after it
    are not; no <script> element at all."""
    t = parse(dom)
    text = t.root.text()
    neg = False
    why = [f"a <{n.tag}> element" for n in t.root.walk()
           if n.tag in ("script", "img", "iframe")]
    for w in words:
        if w == "--not":
            neg = True
        elif (w in text) == neg:
            why.append(("present" if neg else "missing") + f" {w!r}")
    if why:
        fail("the DOM's text", *why)


def cmd_empty(dom):
    """The empty state: no table, a message saying so."""
    t = parse(dom)
    e = t.root.find(cls="ms-empty")
    if t.root.find("table") or not e or "No emails" not in e[0].text():
        fail("no empty state", t.root.text()[:200])


def cmd_accounts(dom, jsonl):
    """Each account's row: its provider badge and its status badge,
    worded for people (stale for an active account that has not synced
    for long)."""
    t = parse(dom)
    words = {"active": "active", "needs-reauth": "needs re-authorization",
             "disconnected": "disconnected", "error": "error"}
    cls = {"active": "ms-st-active", "stale": "ms-st-stale",
           "needs re-authorization": "ms-st-reauth",
           "disconnected": "ms-st-off", "error": "ms-st-error"}
    want = [json.loads(l) for l in open(jsonl, encoding="utf-8")]
    rows = [r for r in t.root.find("tr") if r.find("td")]
    why = []
    if len(rows) != len(want):
        fail(f"{len(rows)} rows for {len(want)} accounts")
    for a, r in zip(want, rows):
        badges = r.find(cls="ms-badge")
        say = "stale" if a["stale"] and a["status"] == "active" \
            else words[a["status"]]
        got = [(b.text(), b.classes) for b in badges]
        if len(badges) != 2 or badges[0].text() != LABEL[a["provider"]] \
                or badges[1].text() != say or cls[say] not in \
                badges[1].classes:
            why.append(f"{a['address']}: badges {got}, want "
                       f"{LABEL[a['provider']]} and {say!r}")
        if a["address"] not in r.text():
            why.append(f"{a['address']}: not in its row")
    if why:
        fail("the accounts", *why)


COMMANDS = {
    "contrast": cmd_contrast, "rows": cmd_rows, "scheme": cmd_scheme,
    "panels": cmd_panels, "colours": cmd_colours, "absent": cmd_absent,
    "same": cmd_same, "fits": cmd_fits,
    "page": cmd_page, "fragment": cmd_fragment, "emails": cmd_emails,
    "view": cmd_view, "text": cmd_text, "empty": cmd_empty,
    "accounts": cmd_accounts,
}

if __name__ == "__main__":
    COMMANDS[sys.argv[1]](*sys.argv[2:])

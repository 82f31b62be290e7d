#!/usr/bin/env python3
"""msemu: Google OAuth + Gmail API + Microsoft identity platform + Graph mail
emulator for the mailsync tests, benchmarks and demo.

Python 3.11 standard library only.  One process, one port on 127.0.0.1.
See README.md beside this file for the data format and the control API.
"""

import argparse
import base64
import bisect
import collections
import datetime
import email.policy
import gc
import email.utils
import functools
import hashlib
import html
import json
import math
import os
import random
import _random
import re
import secrets
import signal
import socket
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GMAIL_METADATA = "https://www.googleapis.com/auth/gmail.metadata"
GMAIL_READONLY = "https://www.googleapis.com/auth/gmail.readonly"
GMAIL_MODIFY = "https://www.googleapis.com/auth/gmail.modify"
GMAIL_FULL = "https://mail.google.com/"
GMAIL_READ_SCOPES = {GMAIL_READONLY, GMAIL_MODIFY, GMAIL_FULL}

REASONS = {200: "OK", 204: "No Content", 302: "Found", 400: "Bad Request",
           401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 410: "Gone", 413: "Payload Too Large",
           429: "Too Many Requests", 500: "Internal Server Error",
           502: "Bad Gateway", 503: "Service Unavailable",
           504: "Gateway Timeout"}

GOOGLE_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED",
                 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
                 502: "UNAVAILABLE", 503: "UNAVAILABLE",
                 504: "DEADLINE_EXCEEDED"}

WELL_KNOWN = [  # (wellknown name, displayName, hidden, parent well-known name)
    ("inbox", "Inbox", False, None),
    ("sentitems", "Sent Items", False, None),
    ("drafts", "Drafts", False, None),
    ("deleteditems", "Deleted Items", False, None),
    ("junkemail", "Junk Email", False, None),
    ("archive", "Archive", False, None),
    ("outbox", "Outbox", False, None),
    ("conversationhistory", "Conversation History", False, None),
    ("syncissues", "Sync Issues", False, None),
    ("conflicts", "Conflicts", False, "syncissues"),
    ("localfailures", "Local Failures", False, "syncissues"),
    ("serverfailures", "Server Failures", False, "syncissues"),
]
# Folders a mail client does not sync as correspondence (their subtrees too).
SKIPPED_WK = {"drafts", "deleteditems", "junkemail", "outbox",
              "conversationhistory", "syncissues", "conflicts",
              "localfailures", "serverfailures"}

GRAPH_FIELDS = [
    "createdDateTime", "lastModifiedDateTime", "changeKey", "categories",
    "receivedDateTime", "sentDateTime", "hasAttachments",
    "internetMessageId", "subject", "bodyPreview", "importance",
    "parentFolderId", "conversationId", "conversationIndex",
    "isDeliveryReceiptRequested", "isReadReceiptRequested", "isRead",
    "isDraft", "webLink", "inferenceClassification", "body", "sender",
    "from", "toRecipients", "ccRecipients", "bccRecipients", "replyTo",
    "flag", "internetMessageHeaders", "uniqueBody"]
GRAPH_DEFAULT_FIELDS = [f for f in GRAPH_FIELDS
                        if f not in ("internetMessageHeaders", "uniqueBody")]
GRAPH_FIELD_CANON = {f.lower(): f for f in GRAPH_FIELDS + ["id"]}


def now():
    return time.time()


def b64u(data):
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def rand_token(n=32):
    return b64u(secrets.token_bytes(n))


def fingerprint(tok):
    return hashlib.sha256(tok.encode()).hexdigest()[:12]


def iso_ms(ms):
    if type(ms) is int:
        # datetime.strftime is time.strftime over the same UTC time tuple;
        # an integral ms count needs no sub-second rounding.
        try:
            return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms // 1000))
        except (OverflowError, OSError, ValueError):
            pass
    return datetime.datetime.fromtimestamp(
        ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(s):
    s = s.strip()
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    d = datetime.datetime.fromisoformat(s)
    if d.tzinfo is None:
        d = d.replace(tzinfo=datetime.timezone.utc)
    return int(d.timestamp() * 1000)


_WDAY = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MON = (None, "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
        "Oct", "Nov", "Dec")


def rfc2822(ms):
    if type(ms) is int:
        # what email.utils.format_datetime prints for a UTC datetime
        try:
            t = time.gmtime(ms // 1000)
            return "%s, %02d %s %04d %02d:%02d:%02d +0000" % (
                _WDAY[t.tm_wday], t.tm_mday, _MON[t.tm_mon], t.tm_year,
                t.tm_hour, t.tm_min, t.tm_sec)
        except (OverflowError, OSError, ValueError):
            pass
    return email.utils.format_datetime(datetime.datetime.fromtimestamp(
        ms / 1000, datetime.timezone.utc))


# Runs of ASCII white space only: str.split() would also take C0 separators
# (U+001C..U+001F) and NEL (U+0085) for white space and drop them, and the
# snippet must carry every other character as the body has it.
_RE_ASCII_WS = re.compile(r"[ \t\n\r\f\v]+")


def squash_ws(text):
    if text.isascii() and "\x1c" not in text and "\x1d" not in text and \
            "\x1e" not in text and "\x1f" not in text:
        return " ".join(text.split())      # the same here, and 5 times faster
    return _RE_ASCII_WS.sub(" ", text).strip(" ")


def gmail_snippet(text):
    # Gmail snippets are plain text with HTML entities (&#39; &quot; &amp;).
    s = squash_ws(text)[:200]
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#39;"))


def spec_snippet(s):
    """The Gmail snippet: the data's own (verbatim) or made from the body."""
    v = s.snippet
    return gmail_snippet(s.body) if v is None else v


def spec_preview(s):
    """Graph's bodyPreview: the data's own (verbatim) or made from the body."""
    v = s.preview
    return squash_ws(s.body)[:255] if v is None else v


def qs_first(q, name, default=None):
    v = q.get(name)
    return v[0] if v else default


# ---------------------------------------------------------------- messages

class Spec:
    """The content of one RFC 5322 message (shared by every mailbox that
    holds a copy).  Built from the data file or lazily by the generator."""
    __slots__ = ("message_id", "date_ms", "from_", "to", "cc", "bcc",
                 "reply_to", "subject", "extra", "body", "att", "mime",
                 "header_case", "raw_headers", "thread", "parsed",
                 "att_names", "_hdrs", "_rawsize", "snippet", "preview")

    def __init__(self, d):
        self.message_id = d.get("message_id")
        self.date_ms = d["date_ms"]
        self.from_ = d.get("from", "")
        self.to = d.get("to", "")
        self.cc = d.get("cc", "")
        self.bcc = d.get("bcc", "")
        self.reply_to = d.get("reply_to", "")
        self.subject = d.get("subject", "")
        self.extra = [tuple(h) for h in d.get("headers", [])]
        self.body = d.get("body", "")
        self.att = bool(d.get("attachments", False))
        self.att_names = d.get("attachment_names") or (
            ["attachment.pdf"] if self.att else [])
        self.mime = d.get("mime") or (
            "multipart/mixed" if self.att else "multipart/alternative")
        self.header_case = {k.lower(): v for k, v in
                            (d.get("header_case") or {}).items()}
        self.raw_headers = d.get("raw_headers")
        self.thread = d.get("thread")
        self.parsed = d.get("parsed")
        self._hdrs = None
        self._rawsize = None
        # sent verbatim when given (Gmail snippet, Graph bodyPreview)
        self.snippet = d.get("snippet")
        self.preview = d.get("preview")

    def headers(self):
        """[(name, value)] exactly as Gmail would return them (raw)."""
        if self._hdrs is not None:
            return self._hdrs
        if self.raw_headers:
            h = [tuple(x) for x in self.raw_headers]
        else:
            hc = self.header_case
            if hc:
                def n(x):
                    return hc.get(x.lower(), x)
            else:
                def n(x):
                    return x
            h = [(n("MIME-Version"), "1.0"), (n("Date"), rfc2822(self.date_ms))]
            if self.message_id:
                h.append((n("Message-ID"), self.message_id))
            h.append((n("Subject"), self.subject))
            h.append((n("From"), self.from_))
            if self.to:
                h.append((n("To"), self.to))
            if self.cc:
                h.append((n("Cc"), self.cc))
            if self.reply_to:
                h.append((n("Reply-To"), self.reply_to))
            h.extend(self.extra)
            ct = self.mime
            if ct.startswith("multipart/"):
                ct += '; boundary="000000000000' + hashlib.md5(
                    (self.message_id or self.subject).encode()
                ).hexdigest()[:16] + '"'
            else:
                ct += '; charset="UTF-8"'
            h.append((n("Content-Type"), ct))
        self._hdrs = h
        return h

    def header(self, name):
        name = name.lower()
        for k, v in self.headers():
            if k.lower() == name:
                return v
        return ""

    def rfc822(self):
        lines = ["%s: %s" % hv for hv in self.headers()]
        boundary = "b" + hashlib.md5((self.message_id or "").encode()).hexdigest()[:12]
        if self.mime.startswith("multipart/"):
            ct = self.header("Content-Type")
            m = re.search(r'boundary="?([^";]+)', ct)
            boundary = m.group(1) if m else boundary
            body = ["", "--" + boundary,
                    'Content-Type: text/plain; charset="UTF-8"', "",
                    self.body, ""]
            for nm in self.att_names:
                body += ["--" + boundary,
                         'Content-Type: application/octet-stream; name="%s"' % nm,
                         'Content-Disposition: attachment; filename="%s"' % nm,
                         "Content-Transfer-Encoding: base64", "",
                         base64.b64encode(b"emulated attachment " * 20).decode(), ""]
            body.append("--" + boundary + "--")
        else:
            body = ["", self.body]
        return ("\r\n".join(lines + body) + "\r\n").encode()

    def size(self):
        if self._rawsize is None:
            n = sum(len(k) + len(v) + 4 for k, v in self.headers())
            n += len(self.body.encode()) + 400
            self._rawsize = n + 8200 * len(self.att_names if self.att else [])
        return self._rawsize

    def graph_parsed(self):
        """Decoded values for Graph (addresses parsed, RFC 2047 decoded)."""
        if self.parsed is not None:
            return self.parsed
        f = email.policy.default.header_factory
        def addrs(name, raw):
            if not raw:
                return []
            try:
                return [(a.display_name, a.addr_spec) for a in f(name, raw).addresses]
            except Exception:
                return [("", x) for _, x in email.utils.getaddresses([raw])]
        def dec(raw):
            try:
                return str(f("subject", raw))
            except Exception:
                return raw
        frm = addrs("from", self.from_)
        self.parsed = {
            "from": frm[0] if frm else ("", ""),
            "to": addrs("to", self.to), "cc": addrs("cc", self.cc),
            "bcc": addrs("bcc", self.bcc),
            "reply_to": addrs("reply-to", self.reply_to),
            "subject": dec(self.subject),
        }
        return self.parsed


class GMsg:
    __slots__ = ("id", "thread", "labels", "internal", "hid", "spec", "cache")

    def __init__(self, mid, thread, labels, internal, hid, spec):
        self.id, self.thread, self.labels = mid, thread, list(labels)
        self.internal, self.hid, self.spec = internal, hid, spec
        self.cache = {}


class OMsg:
    __slots__ = ("imm", "rest", "folder", "received", "spec", "is_read",
                 "version", "moves", "conv", "cache", "created", "entered")

    def __init__(self, imm, folder, received, spec, is_read, conv):
        self.imm, self.folder, self.received = imm, folder, received
        self.spec, self.is_read, self.conv = spec, is_read, conv
        self.version, self.moves, self.created = 1, 0, received
        self.rest = imm
        self.cache = {}
        # the change sequence number at which it came into its folder:
        # a delta round based before it knows the message already
        self.entered = 0


class Mailbox:
    def __init__(self, provider, address, name, rng, **kw):
        self.provider = provider
        self.address = address            # login name / primary address
        self.name = name
        self.personal = bool(kw.get("personal"))
        self.upn = kw.get("upn") or address
        self.mail = kw.get("mail", address if not self.personal else None)
        self.tenant = kw.get("tenant") or (
            "9188040d-6c67-4c5b-b112-36a304b66dad" if self.personal
            else "72f988bf-86f1-41af-91ab-2d7cd011db47")
        self.untick = set(kw.get("untick") or [])
        self.send_as = kw.get("send_as")
        self.rng = rng
        self.lock = threading.RLock()
        if self.personal:
            self.user_id = "%016x" % rng.getrandbits(64)
        else:
            self.user_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        # gmail
        self.msgs = {}                    # id -> GMsg
        self.order = []                   # [(-internal, id)] sorted
        self.history_id = 100000 + rng.randrange(900000)
        self.min_history = self.history_id
        self.history = []                 # [(hid, kind, msgid, labels)]
        self.threads = {}                 # thread key -> thread id
        self._tindex = None               # thread id -> [ids], oldest first
        self.seq_lo = rng.getrandbits(20)
        # outlook
        self.folders = {}                 # id -> dict
        self.wk = {}                      # well-known name -> id
        self.omsgs = {}                   # imm -> OMsg
        self.rest_index = {}              # rest id -> imm
        self.oorder = []                  # [(-received, imm)]
        self.change_seq = 0
        self.changes = []                 # [(seq, folder_id, imm)]
        self.delta_min_seq = 0
        self.convs = {}
        self.shared = bool(kw.get("shared"))
        self.members = {x.lower() for x in kw.get("members") or []}
        self.folder_seq = 0
        self.folder_changes = []          # [(seq, folder id)]
        self.spread_next = 0
        if provider == "outlook":
            # msgfolderroot (the "Top of Information Store") holds the
            # folders people see; searchfolders lives outside it
            root = self.folder_id("msgfolderroot")
            self.root_id = root
            self.wk["msgfolderroot"] = root
            sroot = self.folder_id("searchfolders")
            self.wk["searchfolders"] = sroot
            self.search_root = sroot
            for wk, disp, hidden, parent in WELL_KNOWN:
                fid = self.folder_id(wk)
                self.folders[fid] = {"id": fid, "displayName": disp,
                                     "parentFolderId": self.wk[parent] if parent else root,
                                     "isHidden": hidden, "wk": wk}
                self.wk[wk] = fid

    def folder_id(self, wk):
        h = hashlib.sha256((self.address + "/" + wk).encode()).digest()
        return "AQMkAD" + base64.urlsafe_b64encode(h[:27]).decode() + "AAA="

    def resolve_folder(self, fid, paths=False):
        """A folder id or well-known name (or, for the control API, a path
        such as "Inbox/Clients") -> its id, or None."""
        if fid in self.folders:
            return fid
        w = self.wk.get(fid.lower())
        if w in self.folders:
            return w
        return self.folder_by_path(fid) if paths else None

    def folder_by_path(self, path):
        parent = self.root_id
        fid = None
        for name in path.strip("/").split("/"):
            fid = next((i for i, f in self.folders.items()
                        if f["parentFolderId"] == parent and f["displayName"] == name), None)
            if fid is None:
                return None
            parent = fid
        return fid

    def children(self, fid):
        return [i for i, f in self.folders.items() if f["parentFolderId"] == fid]

    def chain(self, fid):
        """fid and its ancestors up to (not including) the root."""
        out = []
        while fid in self.folders and len(out) < 100:
            out.append(fid)
            fid = self.folders[fid]["parentFolderId"]
        return out

    def folder_path(self, fid):
        return "/".join(self.folders[i]["displayName"] for i in reversed(self.chain(fid)))

    def folder_under(self, fid):
        """The well-known names of fid and its ancestors."""
        return [self.folders[i]["wk"] for i in self.chain(fid) if self.folders[i].get("wk")]

    def in_ipm(self, fid):
        c = self.chain(fid)
        return bool(c) and self.folders[c[-1]]["parentFolderId"] == self.root_id

    def folder_changed(self, fid):
        self.folder_seq += 1
        self.folder_changes.append((self.folder_seq, fid))

    def folder_add(self, name, parent=None, search=False):
        pid = self.resolve_folder(parent, paths=True) if parent else self.root_id
        if pid is None:
            raise ValueError("no folder %s" % parent)
        h = hashlib.sha256(("%s/%s/%d/%s" % (self.address, pid, self.folder_seq,
                                             name)).encode()).digest()
        fid = "AAMkAD" + base64.urlsafe_b64encode(h[:30]).decode() + "AAA="
        self.folders[fid] = {"id": fid, "displayName": name, "parentFolderId": pid,
                             "isHidden": False, "wk": None, "search": search}
        self.folder_changed(fid)
        return fid

    def folder_ensure(self, path):
        """The folder at path, made (with its parents) when missing."""
        parent = None
        fid = None
        for name in path.strip("/").split("/"):
            here = parent or self.root_id
            fid = next((i for i, f in self.folders.items()
                        if f["parentFolderId"] == here and f["displayName"] == name), None)
            if fid is None:
                fid = self.folder_add(name, parent)
            parent = fid
        return fid

    def folder_remove(self, fid):
        """Delete fid, its subfolders and their messages for good."""
        for c in self.children(fid):
            self.folder_remove(c)
        for imm in [i for i, m in self.omsgs.items() if m.folder == fid]:
            self.outlook_delete(imm)
        del self.folders[fid]
        self.folder_changed(fid)

    # gmail helpers
    def next_hid(self):
        self.history_id += 1 + self.rng.randrange(5)
        return self.history_id

    def new_gid(self, internal):
        self.seq_lo = (self.seq_lo + 1 + self.rng.randrange(7)) & 0xFFFFF
        gid = "%x" % ((internal << 20) | self.seq_lo)
        while gid in self.msgs:
            self.seq_lo = (self.seq_lo + 1) & 0xFFFFF
            gid = "%x" % ((internal << 20) | self.seq_lo)
        return gid

    def gmail_add(self, spec, labels, record=True, mid=None, thread_id=None):
        internal = spec.date_ms
        gid = mid or self.new_gid(internal)
        if thread_id is not None and thread_id in self.thread_index():
            tid = thread_id           # a reply into a thread the box has
        else:
            tkey = spec.thread or spec.message_id or gid
            tid = self.threads.setdefault(tkey, gid)
        self._tindex = None
        hid = self.next_hid()
        m = GMsg(gid, tid, labels, internal, hid, spec)
        self.msgs[gid] = m
        bisect.insort(self.order, (-internal, gid))
        if record:
            self.history.append((hid, "messageAdded", gid, tuple(m.labels)))
        return m

    def gmail_delete(self, gid):
        m = self.msgs.pop(gid, None)
        if not m:
            return None
        self._tindex = None
        i = bisect.bisect_left(self.order, (-m.internal, gid))
        if i < len(self.order) and self.order[i] == (-m.internal, gid):
            del self.order[i]
        hid = self.next_hid()
        self.history.append((hid, "messageDeleted", gid, tuple(m.labels)))
        m.cache.clear()
        return m

    def gmail_relabel(self, gid, add, remove):
        m = self.msgs.get(gid)
        if not m:
            return None
        added = [x for x in add if x not in m.labels]
        removed = [x for x in remove if x in m.labels]
        m.labels = [x for x in m.labels if x not in removed] + added
        if added:
            hid = self.next_hid()
            self.history.append((hid, "labelsAdded", gid, tuple(added)))
        if removed:
            hid = self.next_hid()
            self.history.append((hid, "labelsRemoved", gid, tuple(removed)))
        m.hid = self.history_id
        m.cache.clear()
        return m

    def thread_index(self):
        """{thread id: [message ids]}, each thread oldest first (Gmail's
        thread order).  Made when first asked after a change: 200,000
        single-message threads would cost memory that most runs never use."""
        if self._tindex is None:
            idx = {}
            msgs = self.msgs
            for _, gid in self.order:             # newest first
                t = msgs[gid].thread
                lst = idx.get(t)
                if lst is None:
                    idx[t] = [gid]
                else:
                    lst.append(gid)
            for lst in idx.values():
                lst.reverse()
            self._tindex = idx
        return self._tindex

    # outlook helpers
    def new_imm(self):
        return "AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0A" + b64u(
            self.rng.getrandbits(160).to_bytes(20, "big")) + "AAA="

    def change(self, folder, imm):
        self.change_seq += 1
        self.changes.append((self.change_seq, folder, imm))

    def outlook_add(self, spec, folder_wk, is_read=True, imm=None):
        fid = self.resolve_folder(folder_wk, paths=True) or self.wk["inbox"]
        imm = imm or self.new_imm()
        ck = spec.thread or spec.message_id or imm
        conv = self.convs.get(ck)
        if conv is None:
            conv = "AAQkAD" + b64u(hashlib.sha256(
                (self.address + ck).encode()).digest()[:24]) + "="
            self.convs[ck] = conv
        m = OMsg(imm, fid, spec.date_ms, spec, is_read, conv)
        m.rest = self.rest_id(m)
        self.omsgs[imm] = m
        self.rest_index[m.rest] = imm
        bisect.insort(self.oorder, (-m.received, imm))
        self.change(fid, imm)
        m.entered = self.change_seq
        return m

    def rest_id(self, m):
        # Without IdType="ImmutableId" Graph ids change when mail moves.
        if m.moves == 0:
            return "AAMkAD" + m.imm[36:]
        return "AAMkAD" + m.imm[36:-4] + "%04dAA=" % m.moves

    def outlook_find(self, mid):
        if mid in self.omsgs:
            return self.omsgs[mid]
        imm = self.rest_index.get(mid)
        return self.omsgs.get(imm) if imm else None

    def outlook_delete(self, mid):
        m = self.outlook_find(mid)
        if not m:
            return None
        del self.omsgs[m.imm]
        self.rest_index.pop(m.rest, None)
        i = bisect.bisect_left(self.oorder, (-m.received, m.imm))
        if i < len(self.oorder) and self.oorder[i] == (-m.received, m.imm):
            del self.oorder[i]
        self.change(m.folder, m.imm)
        m.cache.clear()
        return m

    def outlook_move(self, mid, folder_wk):
        m = self.outlook_find(mid)
        fid = self.resolve_folder(folder_wk, paths=True)
        if not m or not fid:
            return None
        old = m.folder
        m.folder = fid
        m.moves += 1
        self.rest_index.pop(m.rest, None)
        m.rest = self.rest_id(m)
        self.rest_index[m.rest] = m.imm
        m.version += 1
        m.cache.clear()
        self.change(old, m.imm)
        self.change(fid, m.imm)
        m.entered = self.change_seq
        return m

    def outlook_update(self, mid, is_read=None):
        m = self.outlook_find(mid)
        if not m:
            return None
        if is_read is not None:
            m.is_read = bool(is_read)
        m.version += 1
        m.cache.clear()
        self.change(m.folder, m.imm)
        return m

    def summary(self):
        d = {"provider": self.provider, "address": self.address,
             "name": self.name}
        if self.provider == "gmail":
            d.update(messages=len(self.msgs), threads=len(self.thread_index()),
                     historyId=str(self.history_id),
                     minHistoryId=str(self.min_history))
        else:
            d.update(messages=len(self.omsgs), upn=self.upn, mail=self.mail,
                     personal=self.personal, id=self.user_id,
                     changeSeq=self.change_seq,
                     shared=self.shared,
                     folders={(f["wk"] or self.folder_path(fid)): fid
                              for fid, f in self.folders.items()})
        return d


# ---------------------------------------------------------------- generator

FIRST = ["Jane", "Omar", "Li", "Sofia", "Marc", "Ana", "Tom", "Priya", "Jon",
         "Eva", "Raj", "Mia", "Paul", "Nora", "Ivan", "Zoe", "Hugo", "Lena"]
LAST = ["Doe", "Smith", "Nguyen", "García", "Müller", "O'Brien", "Kowalski",
        "Rossi", "Chen", "Dubois", "Silva", "Berg", "Novák", "Haddad"]
DOMAINS = ["acme.example", "globex.example", "initech.example",
           "umbrella.example", "hooli.example", "stark.example",
           "wayne.example", "tyrell.example"]
SUBJECTS = ["Renewal for {y}", "Invoice {n} attached", "Re: Meeting on {d}",
            "Question about the contract", "Fwd: Quarterly report",
            "Onboarding checklist", "Re: Re: Pricing {n}",
            "Payment received – thank you", "Portal access for {c}",
            "Schedule a call?", "Signed documents", "Update on ticket #{n}"]
BODIES = [
    "Hi {fn},\n\nThanks for your message. Please find the details below and "
    "let me know if anything is unclear. We're happy to help.\n\nBest,\n{sn}",
    "Hello,\n\nThe documents you asked for are attached. Could you sign and "
    "return them by Friday? \"Urgent\" items are marked.\n\nRegards,\n{sn}",
    "{fn}, quick follow-up on our call: pricing is confirmed at the agreed "
    "rate & the contract starts next month.\n\n{sn}",
    "Dear customer,\n\nYour monthly statement is ready. Log in to the portal "
    "to view it.\n\nThe team",
]


_RE_ADDR_SPECIAL = re.compile(r"[,.'()]")
# the local part a surname gives an address
_LAST_ADDR = {ln: re.sub(r"[^a-z]", "", ln.lower().replace("ü", "u").replace("í", "i")
                         .replace("á", "a")) for ln in LAST}


class Generator:
    """Deterministic synthetic mailboxes.  Message content is materialised
    lazily from (seed, index) so 200,000 messages load in seconds."""

    # Gmail's conversations hold at most 100 messages (the 101st starts a
    # new one)
    THREAD_MAX = 100

    def __init__(self, seed, end_ms, span_days=730, threads=1.0, singles=0.4):
        self.seed = seed
        self.end_ms = end_ms
        self.span_ms = span_days * 86400 * 1000
        self.meta = []     # index -> (kind, owner, other, client, date_ms)
        self.thread_mean = threads
        self.singles = singles
        self.tkeys = {}    # index -> thread key, for messages in longer threads

    def thread_lengths(self, k, rng):
        """Thread lengths summing to k: a fraction `singles` of the threads
        hold one message, the others 2 + a geometric tail (at most
        THREAD_MAX), so that the mean is `thread_mean`.  When that mean is
        below 2 - singles, threads hold 1 or 2 messages."""
        mean, s = self.thread_mean, self.singles
        out, n = [], 0
        m2 = (mean - s) / (1 - s) if s < 1 else 2.0
        while n < k:
            if m2 < 2:
                ln = 2 if rng.random() < mean - 1 else 1
            elif rng.random() < s:
                ln = 1
            else:
                p = 1.0 / (m2 - 1)     # geometric from 0, mean m2 - 2
                ln = 2
                while ln < self.THREAD_MAX and rng.random() >= p:
                    ln += 1
            ln = min(ln, k - n)
            out.append(ln)
            n += ln
        return out

    def thread_slots(self, k, rng):
        """For each of a mailbox's k messages (in date order), the index of
        its thread: threads start one after another and their messages
        follow at random gaps of about 3 messages, interleaved with the
        threads begun meanwhile."""
        pos = []
        start = 0
        for j, ln in enumerate(self.thread_lengths(k, rng)):
            at = float(start)
            for i in range(ln):
                pos.append((at, j, i))
                at += rng.random() * 6
            start += ln
        pos.sort()
        return [j for _, j, _ in pos]

    @staticmethod
    def fmt_addr(name, addr, r=None):
        if not name:
            return addr
        if _RE_ADDR_SPECIAL.search(name) or not name.isascii():
            if not name.isascii():
                return "=?UTF-8?B?%s?= <%s>" % (
                    base64.b64encode(name.encode()).decode(), addr)
            return '"%s" <%s>' % (name.replace('"', '\\"'), addr)
        return "%s <%s>" % (name, addr)

    def spec(self, i):
        # The draws of random.Random's choice() and randrange() (CPython:
        # seq[_randbelow(len(seq))], start + _randbelow(width)), made
        # without their Python-level wrappers: the same values, faster.
        kind, owner, other, date_ms, att_m = self.meta[i]
        # _random.Random: random.Random's generator, seeded alike from an int
        r = _random.Random(self.seed * 1000003 + i)
        gb = r.getrandbits
        rnd = r.random

        def below(n):
            k = n.bit_length()
            x = gb(k)
            while x >= n:
                x = gb(k)
            return x

        def person():
            fn, ln = FIRST[below(len(FIRST))], LAST[below(len(LAST))]
            return fn, ln, "%s.%s@%s" % (fn.lower(), _LAST_ADDR[ln], DOMAINS[below(len(DOMAINS))])
        fn, ln, caddr = person()
        cname = "%s, %s" % (ln, fn) if rnd() < 0.2 else "%s %s" % (fn, ln)
        oname = owner.split("@")[0].capitalize()
        n = 1000 + below(98999)
        subj = SUBJECTS[below(len(SUBJECTS))]
        subj = subj.format(
            y=2025 + below(3), n=n, d="%d/%d" % (1 + below(12), 1 + below(28)),
            c=DOMAINS[below(len(DOMAINS))])
        dec_subj = subj
        if rnd() < 0.1:
            t = below(3)
            if t == 0:
                dec_subj = "Café meeting – " + subj
                subj = "=?UTF-8?B?%s?=" % base64.b64encode(dec_subj.encode()).decode()
            elif t == 1:
                dec_subj = "Résumé: " + subj
                subj = "=?UTF-8?Q?R=C3=A9sum=C3=A9:_?= " + subj
            else:
                dec_subj = "Grüße " + subj
                subj = "=?ISO-8859-1?Q?Gr=FC=DFe?= " + subj
        body = BODIES[below(len(BODIES))].format(fn=fn, sn=oname)
        extra = []
        att = rnd() < 0.2
        att = att_m if att_m is not None else att
        to_l, cc_l = [], []
        if kind == "in":
            frm = (cname, caddr)
            to_l = [(oname, owner)]
            if rnd() < 0.2:
                f2, l2, a2 = person()
                cc_l.append(("%s %s" % (f2, l2), a2))
        elif kind == "out":
            frm = (oname, owner)
            to_l = [(cname, caddr)]
        elif kind == "internal":
            frm = (oname, owner)
            to_l = [(other.split("@")[0].capitalize(), other)]
            cc_l = [(cname, caddr)]
        elif kind == "news":
            frm = ("Acme News", "news@acme.example")
            to_l = [("", owner)]
            extra.append(("List-Unsubscribe",
                          "<mailto:unsub-%d@acme.example>, <https://acme.example/u/%d>" % (n, n)))
            extra.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
            subj = dec_subj = "Acme newsletter #%d" % n
        else:  # undisclosed
            frm = (cname, caddr)
            to_l = []
        hc = {"message-id": "Message-Id"} if rnd() < 0.3 else {}
        fa = self.fmt_addr
        to_raw = ", ".join([fa(a, b) for a, b in to_l])
        if kind == "undisclosed":
            to_raw = "undisclosed-recipients:;"
        # Spec(d) for the d this generator used to build, set directly
        sp = Spec.__new__(Spec)
        sp.message_id = "<%s.%d.%d@mail.%s>" % (
            b64u(gb(72).to_bytes(9, "big")), date_ms, i, frm[1].split("@")[1])
        sp.date_ms = date_ms
        sp.from_ = fa(*frm)
        sp.to = to_raw
        sp.cc = ", ".join([fa(a, b) for a, b in cc_l])
        sp.bcc = sp.reply_to = ""
        sp.subject = subj
        sp.extra = extra
        sp.body = body
        sp.att = bool(att)
        sp.att_names = ["doc-%d.pdf" % n] if att else []
        sp.mime = "multipart/mixed" if sp.att else "multipart/alternative"
        sp.header_case = hc
        sp.raw_headers = sp.thread = sp._hdrs = sp._rawsize = None
        sp.snippet = sp.preview = None
        sp.parsed = {"from": frm, "to": to_l, "cc": cc_l, "bcc": [],
                     "reply_to": [], "subject": dec_subj}
        return sp

    def build(self, emu, gmail_n, outlook_n, k, folders=0):
        boxes = []
        self.spread = {}
        for j in range(gmail_n):
            boxes.append(emu.add_mailbox({"provider": "gmail",
                                          "address": "gmail%d@firm.example" % (j + 1),
                                          "name": "Gmail User %d" % (j + 1)}))
        for j in range(outlook_n):
            boxes.append(emu.add_mailbox({"provider": "outlook",
                                          "address": "outlook%d@firm.example" % (j + 1),
                                          "name": "Outlook User %d" % (j + 1)}))
        for box in boxes:
            if box.provider == "outlook" and folders > 0:
                # folders tracked in all: Inbox, Sent Items, Archive and
                # custom ones, every other one nested below the one before
                tracked = [box.wk["inbox"], box.wk["sentitems"], box.wk["archive"]][:folders]
                parent = None
                for i in range(folders - len(tracked)):
                    fid = box.folder_add("Clients %02d" % (i + 1) if i % 2 == 0 else "Project %02d" % (i + 1),
                                         parent if i % 2 == 1 else None)
                    parent = fid
                    tracked.append(fid)
                box.folder_changes = []
                self.spread[box.address] = tracked
        r = random.Random(self.seed)
        for bi, box in enumerate(boxes):
            nxt = boxes[(bi + 1) % len(boxes)] if len(boxes) > 1 else None
            step = self.span_ms // max(k, 1)
            t = self.end_ms - self.span_ms
            slots = None
            if box.provider == "gmail" and self.thread_mean > 1:
                # a stream of its own: the data without threads stays as it was
                slots = self.thread_slots(k, random.Random(self.seed * 7919 + bi))
            for x in range(k):
                t += 1 + r.randrange(max(1, 2 * step))
                t = min(t, self.end_ms)
                p = r.random()
                if nxt is not None and p < 0.12:
                    kind = "internal"
                elif p < 0.55:
                    kind = "in"
                elif p < 0.85:
                    kind = "out"
                elif p < 0.97:
                    kind = "news"
                else:
                    kind = "undisclosed"
                idx = len(self.meta)
                self.meta.append((kind, box.address,
                                  nxt.address if kind == "internal" else None, t,
                                  kind != "news" and r.random() < 0.2))
                if slots is not None:
                    self.tkeys[idx] = "t%d.%d" % (bi, slots[x])
                spec = LazySpec(self, idx)
                q = r.random()
                self._place(box, spec, kind, "out" if kind == "internal" else kind, q, r)
                if kind == "internal":
                    self._place(nxt, spec, kind, "in", r.random(), r)
        return boxes

    def _place(self, box, spec, kind, role, q, r):
        with box.lock:
            if box.provider == "gmail":
                if role == "out":
                    labels = ["SENT"]
                else:
                    labels = ["INBOX"] + (["UNREAD"] if r.random() < 0.3 else [])
                    if kind == "news":
                        labels.append("CATEGORY_PROMOTIONS")
                if q < 0.01:
                    labels = ["DRAFT"]
                elif q < 0.02:
                    labels = ["SPAM", "UNREAD"]
                elif q < 0.03:
                    labels = ["CHAT"]
                elif q < 0.04:
                    labels = ["TRASH"]
                box.gmail_add(spec, labels, record=False)
            else:
                folder = "sentitems" if role == "out" else "inbox"
                if q < 0.01:
                    folder = "drafts"
                elif q < 0.02:
                    folder = "junkemail"
                elif q < 0.04:
                    folder = "deleteditems"
                elif box.address in self.spread:
                    # spread over the folders a client tracks, evenly
                    spread = self.spread[box.address]
                    folder = spread[box.spread_next % len(spread)]
                    box.spread_next += 1
                elif q < 0.10:
                    folder = "archive"
                box.outlook_add(spec, folder, is_read=r.random() > 0.3)


class LazySpec:
    """Proxy that materialises a generator Spec on first use (and forgets
    it again on memory pressure: the serialised forms are cached anyway)."""
    __slots__ = ("gen", "idx", "_s")

    def __init__(self, gen, idx):
        self.gen, self.idx, self._s = gen, idx, None

    @property
    def date_ms(self):
        return self.gen.meta[self.idx][3]

    @property
    def att(self):
        return self.gen.meta[self.idx][4]

    @property
    def thread(self):
        return self.gen.tkeys.get(self.idx) or "gen%d" % self.idx

    def real(self):
        return self.gen.spec(self.idx)

    def __getattr__(self, name):
        return getattr(self.real(), name)


def _graph_ea(t):
    return {"emailAddress": {"name": t[0] or t[1], "address": t[1]}}


def _graph_from(m, s, etag, is_draft):
    f = s.graph_parsed()["from"]
    return _graph_ea(f) if f[1] and not is_draft else None


# A Graph message's properties, each computed only when selected:
# (OMsg, Spec, etag, is_draft) -> value.
GRAPH_FIELD_VALUE = {
    "createdDateTime": lambda m, s, etag, dr: iso_ms(m.created),
    "lastModifiedDateTime": lambda m, s, etag, dr: iso_ms(m.created),
    "changeKey": lambda m, s, etag, dr: etag[3:-1],
    "categories": lambda m, s, etag, dr: [],
    "receivedDateTime": lambda m, s, etag, dr: iso_ms(m.received),
    "sentDateTime": lambda m, s, etag, dr: iso_ms(s.date_ms),
    "hasAttachments": lambda m, s, etag, dr: bool(s.att),
    "internetMessageId": lambda m, s, etag, dr: s.message_id,
    "subject": lambda m, s, etag, dr: s.graph_parsed()["subject"],
    "bodyPreview": lambda m, s, etag, dr: spec_preview(s),
    "importance": lambda m, s, etag, dr: "normal",
    "parentFolderId": lambda m, s, etag, dr: m.folder,
    "conversationId": lambda m, s, etag, dr: m.conv,
    "conversationIndex": lambda m, s, etag, dr: base64.b64encode(
        hashlib.md5(m.conv.encode()).digest()[:22] * 1).decode(),
    "isDeliveryReceiptRequested": lambda m, s, etag, dr: False if not dr else None,
    "isReadReceiptRequested": lambda m, s, etag, dr: False,
    "isRead": lambda m, s, etag, dr: m.is_read,
    "isDraft": lambda m, s, etag, dr: dr,
    "webLink": lambda m, s, etag, dr: "https://outlook.office365.com/owa/?ItemID=%s"
        "&exvsurl=1&viewmodel=ReadMessageItem" % urllib.parse.quote(m.rest, safe=""),
    "inferenceClassification": lambda m, s, etag, dr: "focused",
    "body": lambda m, s, etag, dr: {"contentType": "text", "content": s.body},
    "sender": _graph_from,
    "from": _graph_from,
    "toRecipients": lambda m, s, etag, dr: [_graph_ea(x) for x in s.graph_parsed()["to"]],
    "ccRecipients": lambda m, s, etag, dr: [_graph_ea(x) for x in s.graph_parsed()["cc"]],
    "bccRecipients": lambda m, s, etag, dr: [_graph_ea(x) for x in s.graph_parsed()["bcc"]],
    "replyTo": lambda m, s, etag, dr: [_graph_ea(x) for x in s.graph_parsed()["reply_to"]],
    "flag": lambda m, s, etag, dr: {"flagStatus": "notFlagged"},
}


def graph_etag(m):
    return 'W/"CQAAABYAAAAR' + b64u(hashlib.sha256(
        ("%s%d" % (m.imm, m.version)).encode()).digest()[:12]) + '"'


def att_flag(spec):
    return spec.att


def spec_of(m):
    s = m.spec
    return s.real() if isinstance(s, LazySpec) else s


# ---------------------------------------------------------------- HTTP glue

# the patterns of the hot paths, compiled once
RE_GMAIL_USER = re.compile(r"^/gmail/v1/users/([^/]+)(/.*)?$")
RE_GMAIL_MSG = re.compile(r"^/messages/([^/]+)$")
RE_GMAIL_THREAD = re.compile(r"^/threads/([^/]+)$")
RE_BOUNDARY = re.compile(r'boundary="?([^";]+)"?')
RE_PART_REQLINE = re.compile(r"^(\w+)\s+(\S+)(?:\s+HTTP/\d\.\d)?$")
# a batch part as mailsync-pull (and most clients) write it: Content-Type and
# Content-ID headers (no spaces in the ID), then a request line without
# version, headers or body
RE_PART_FAST = re.compile(rb"Content-Type: application/http\r\nContent-ID: ([!-~]+)\r\n\r\n"
                          rb"([A-Z]+) ([!-~]+)\r\n\r\n(?:\r\n)*\Z")
RE_GRAPH_USER = re.compile(r"^/v1\.0/(me|users/([^/]+))(/.*)?$", re.I)
RE_GRAPH_SEG = re.compile(r"^([A-Za-z.]+)\('([^']*)'\)$")

_QS_CACHE = {}


def parse_query(rawq):
    """parse_qs, memoised: a batch repeats one query string per part.  The
    result is shared, so nothing may modify it (nothing does)."""
    q = _QS_CACHE.get(rawq)
    if q is None:
        q = urllib.parse.parse_qs(rawq, keep_blank_values=True)
        if len(_QS_CACHE) >= 2048:
            _QS_CACHE.clear()
        _QS_CACHE[rawq] = q
    return q


_jenc = json.encoder.encode_basestring               # ensure_ascii=False

# json.dumps(obj) without its per-call set-up: the C encoder made once, with
# json.dumps' defaults (no circular check: log entries are flat).
if json.encoder.c_make_encoder is not None:
    _log_encoder = json.encoder.c_make_encoder(
        None, json.JSONEncoder().default, json.encoder.encode_basestring_ascii,
        None, ": ", ", ", False, False, True)

    def log_line(e):
        return "".join(_log_encoder(e, 0)) + "\n"
else:
    def log_line(e):
        return json.dumps(e) + "\n"


class Req:
    __slots__ = ("method", "path", "query", "rawq", "headers", "body", "base",
                 "inner", "parent", "ctx")

    def __init__(self, method, path, rawq, headers, body, base, inner=False,
                 parent=None):
        self.method = method
        self.path = path
        self.rawq = rawq
        self.query = parse_query(rawq)
        self.headers = headers          # dict lower-name -> value
        self.body = body
        self.base = base
        self.inner = inner
        self.parent = parent
        self.ctx = {}

    def form(self):
        ct = self.headers.get("content-type", "")
        if "application/x-www-form-urlencoded" in ct or not ct:
            d = urllib.parse.parse_qs(self.body.decode("utf-8", "replace"),
                                      keep_blank_values=True)
        else:
            d = {}
        return {k: v[0] for k, v in d.items()}


class Resp:
    __slots__ = ("status", "headers", "body", "action", "extra")

    def __init__(self, status=200, body=b"", headers=None, action=None):
        self.status = status
        self.body = body if isinstance(body, bytes) else body.encode()
        self.headers = headers or []
        # None | "truncate" | "drop" | "stream" | "trickle" | "endless" |
        # "chunked_truncated": how Handler writes it (hostile faults)
        self.action = action
        self.extra = None        # the action's parameters; {"raw": True}


def json_resp(status, obj, pretty=False, headers=None):
    if pretty:
        body = json.dumps(obj, indent=2, ensure_ascii=False).encode()
    else:
        body = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    h = [("Content-Type", "application/json; charset=UTF-8")]
    if headers:
        h.extend(headers)
    return Resp(status, body, h)


def google_error(status, message, reason, domain="global", extra=None,
                 headers=None):
    err = {"message": message, "domain": domain, "reason": reason}
    if extra:
        err.update(extra)
    return json_resp(status, {"error": {
        "code": status, "message": message, "errors": [err],
        "status": GOOGLE_STATUS.get(status, "UNKNOWN")}}, pretty=True,
        headers=headers)


def gmail_concurrency_error():
    # observed: googleapis/google-api-dotnet-client#1982, elie222/inbox-zero#1880
    return google_error(429, "Too many concurrent requests for user.",
                        "rateLimitExceeded", domain="global")


def graph_error(status, code, message, headers=None):
    d = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    rid = str(uuid.uuid4())
    return json_resp(status, {"error": {
        "code": code, "message": message,
        "innerError": {"date": d, "request-id": rid,
                       "client-request-id": rid}}},
        headers=[("request-id", rid)] + (headers or []))


def aad_error(status, error, code, desc, headers=None):
    ts = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
    tid, cid = str(uuid.uuid4()), str(uuid.uuid4())
    return json_resp(status, {
        "error": error,
        "error_description": "AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s"
        % (code, desc, tid, cid, ts),
        "error_codes": [code], "timestamp": ts, "trace_id": tid,
        "correlation_id": cid,
        "error_uri": "https://login.microsoftonline.com/error?code=%d" % code},
        headers=headers)


def oauth_error(status, error, desc):
    return json_resp(status, {"error": error, "error_description": desc},
                     pretty=True)


def html_resp(status, text):
    return Resp(status, "<!doctype html><title>%s</title><p>%s</p>\n" % (
        html.escape(text), html.escape(text)),
        [("Content-Type", "text/html; charset=utf-8")])


def google_404(path):
    """Google's front end's page for a URL it does not serve."""
    return Resp(404, ("<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n"
                      "  <title>Error 404 (Not Found)!!1</title>\n"
                      "  <p><b>404.</b> <ins>That\u2019s an error.</ins>\n"
                      "  <p>The requested URL <code>%s</code> was not found on this "
                      "server.  <ins>That\u2019s all we know.</ins>\n")
                % html.escape(path), [("Content-Type", "text/html; charset=UTF-8")])


def redirect(url):
    return Resp(302, b"", [("Location", url),
                           ("Content-Type", "text/html; charset=UTF-8")])


def add_query(url, params):
    sep = "&" if "?" in url else "?"
    return url + sep + urllib.parse.urlencode(params, quote_via=urllib.parse.quote)


# ---------------------------------------------------------------- the emulator

DEFAULT_CONFIG = {
    "token_lifetime": 3600,         # access token lifetime (s)
    "code_lifetime": 600,
    "refresh_grace": 0,             # MS: old refresh token valid N s after rotation
    "google_rotate_refresh": False, # Google refresh: return a new refresh token
    "time_scale": 1.0,              # quota windows are divided by this
    "latency_ms": 0,                # added to every API request
    "quotas": False,
    # Google's current usage-limits page: 6,000 units per minute per user
    # per project (older pages: 15,000)
    "gmail_units_per_minute": 6000,
    "gmail_quota_status": 403,      # 403 userRateLimitExceeded, or 429
    # requests in flight per Gmail user, quotas on or off (0 = unlimited):
    # Google documents that the limit exists, not its number
    "gmail_concurrency": 10,
    "graph_concurrency": 4,
    "graph_requests_per_10min": 10000,
    "graph_retry_after": 1,
    "delta_410_code": "SyncStateNotFound",
    # a message changed after an earlier delta round comes back with only
    # id, isRead and parentFolderId (microsoft-graph-docs#7776)
    "graph_partial_updates": True,
    # $batch responses: "reverse" (Graph may answer in any order) or "request"
    "graph_batch_order": "reverse",
    "device": {"pending": 2, "slow_down": 0, "outcome": "approve",
               "interval": 5, "expires_in": 900, "mailbox": None},
    "gmail_full_allowed_readonly": True,
}

# developers.google.com/workspace/gmail/api/reference/quota, per-method usage
BATCH_MODES = ("dup_cid", "missing", "unknown_cid", "extra", "reorder")
FAULT_KINDS = ("status", "latency", "invalid_grant", "history404", "delta410",
               "malformed", "truncate", "drop", "json", "raw", "huge", "trickle",
               "endless", "chunked_truncated", "foreign_link", "batch")
# taken only by the handler that asks for them
FAULT_ASKED = ("history404", "delta410", "invalid_grant")
# whole-connection faults: never taken by an inner batch request
FAULT_OUTER_ONLY = ("huge", "trickle", "endless", "chunked_truncated", "batch")
# applied to the real answer once it is made
FAULT_AFTER = ("malformed", "truncate", "json", "trickle", "chunked_truncated",
               "foreign_link", "batch")


def _json_seg(container, seg):
    if isinstance(container, list):
        try:
            return int(seg)
        except ValueError:
            return None
    return seg


def json_path_set(obj, segs, val):
    """obj with the value at the dotted path segs set to val (a fresh copy
    per place); "*" means every element; missing object keys are made."""
    if not segs:
        return json.loads(json.dumps(val))
    seg, rest = segs[0], segs[1:]
    if seg == "*":
        if isinstance(obj, list):
            for i in range(len(obj)):
                obj[i] = json_path_set(obj[i], rest, val)
        elif isinstance(obj, dict):
            for k in list(obj):
                obj[k] = json_path_set(obj[k], rest, val)
        return obj
    if isinstance(obj, list):
        i = _json_seg(obj, seg)
        if i is None:
            return obj
        if -len(obj) <= i < len(obj):
            obj[i] = json_path_set(obj[i], rest, val)
        elif i == len(obj):
            obj.append(json_path_set({}, rest, val))
        return obj
    if isinstance(obj, dict):
        obj[seg] = json_path_set(obj.get(seg, {}) if rest else None, rest, val)
    return obj


def json_path_delete(obj, segs):
    if not segs:
        return
    seg, rest = segs[0], segs[1:]
    if seg == "*":
        items = list(range(len(obj))) if isinstance(obj, list) else \
            list(obj) if isinstance(obj, dict) else []
        if not rest:
            if isinstance(obj, list):
                del obj[:]
            elif isinstance(obj, dict):
                obj.clear()
            return
        for k in items:
            json_path_delete(obj[k], rest)
        return
    if isinstance(obj, list):
        i = _json_seg(obj, seg)
        if i is None or not -len(obj) <= i < len(obj):
            return
    elif isinstance(obj, dict):
        if seg not in obj:
            return
        i = seg
    else:
        return
    if rest:
        json_path_delete(obj[i], rest)
    else:
        del obj[i]


# users.history.list historyTypes value -> the kind of record it selects
HISTORY_TYPES = {"messageAdded": "messageAdded", "messageDeleted": "messageDeleted",
                 "labelAdded": "labelsAdded", "labelRemoved": "labelsRemoved"}

GMAIL_COST = {"getProfile": 1, "messages.list": 5, "messages.get": 5,
              "history.list": 2, "settings.sendAs.list": 1, "labels.list": 1,
              "threads.get": 10, "threads.list": 10}


def folder_id_parent(box, root):
    """msgfolderroot's and searchfolders' parent: the mailbox's root."""
    return box.folder_id("root")


class Emu:
    # serialised messages kept in memory at most (about; see cache_put)
    CACHE_BYTES = int(os.environ.get("MSEMU_CACHE_MB", "256")) << 20

    def __init__(self, args):
        self.args = args
        self.lock = threading.RLock()
        self.log_lock = threading.Lock()
        self.log = []
        self.log_seq = 0
        self.log_file = open(args.log, "a") if args.log else None
        self.log_pending = []
        self.log_write_lock = threading.Lock()
        self.cache_lock = threading.Lock()
        self.last_request = now()
        # the spy server (main() starts it): requests a client should never
        # have sent, to an origin that is not the provider's
        self.spy_origin = None
        self.spy_lock = threading.Lock()
        self.spy_requests = []
        self.reset()

    # ------------------------------------------------------------ state
    def reset(self):
        with self.lock:
            self.config = json.loads(json.dumps(DEFAULT_CONFIG))
            if self.args.token_lifetime is not None:
                self.config["token_lifetime"] = self.args.token_lifetime
            if self.args.time_scale is not None:
                self.config["time_scale"] = self.args.time_scale
            self.rng = random.Random(self.args.seed)
            self.apps = {}
            self.mailboxes = []
            self.by_addr = {}
            self.codes = {}
            self.access = {}
            self.refresh = {}
            self.grants = {}
            self.devices = {}
            self.delta_tokens = {}
            self.list_snaps = {}
            self.thread_snaps = {}
            self.faults = []
            self.fault_seq = 0
            self.authorize_denials = []
            self.gmail_usage = collections.defaultdict(collections.deque)
            self.gmail_used = collections.Counter()    # running sums of gmail_usage
            self.graph_usage = collections.defaultdict(collections.deque)
            self.inflight = collections.Counter()
            self.stats = collections.Counter()
            data = {}
            if self.args.data:
                with open(self.args.data, encoding="utf-8") as f:
                    data = json.load(f)
            self.load(data)
            if self.args.generate:
                self.generate(self.args.generate)
            if not any(a["provider"] == "google" for a in self.apps.values()):
                self.add_app({"provider": "google",
                              "client_id": "emu-google-client.apps.googleusercontent.com",
                              "client_secret": "emu-google-secret"})
            if not any(a["provider"] == "microsoft" for a in self.apps.values()):
                self.add_app({"provider": "microsoft",
                              "client_id": "11111111-2222-4333-8444-555555555555",
                              "public": True})
        with self.log_lock:
            self.log = []
        with self.spy_lock:
            self.spy_requests = []
        with self.cache_lock:
            self.cache_fifo = collections.deque()
            self.cache_bytes = 0
        # The mailboxes live until the next reset and hold no garbage cycles:
        # keep the cyclic collector from walking them again and again.
        gc.collect()
        gc.freeze()

    def add_app(self, a):
        a = dict(a)
        a.setdefault("public", a["provider"] == "microsoft" and not a.get("client_secret"))
        a.setdefault("redirect_uris", ["http://localhost", "http://127.0.0.1"])
        a.setdefault("allow_device_code", True)
        self.apps[a["client_id"]] = a
        return a

    def add_mailbox(self, d):
        prov = d.get("provider", "gmail")
        if prov not in ("gmail", "outlook"):
            raise ValueError("provider must be gmail or outlook")
        addr = d.get("address") or d.get("upn")
        if not addr:
            raise ValueError("mailbox needs address or upn")
        if addr.lower() in self.by_addr:
            return self.by_addr[addr.lower()]
        kw = {k: d[k] for k in ("personal", "upn", "mail", "tenant", "untick",
                                "send_as", "shared", "members") if k in d}
        if d.get("personal") and "mail" not in d:
            kw["mail"] = None
        box = Mailbox(prov, addr, d.get("name") or addr.split("@")[0],
                      random.Random("%s/%s" % (self.args.seed, addr.lower())), **kw)
        self.mailboxes.append(box)
        self.by_addr[addr.lower()] = box
        if box.upn:
            self.by_addr.setdefault(box.upn.lower(), box)
        if prov == "outlook":
            for path in d.get("folders") or []:
                box.folder_ensure(path)
            box.folder_changes = []
        return box

    def find_box(self, addr):
        return self.by_addr.get((addr or "").lower())

    def load(self, data):
        for a in data.get("apps", []):
            self.add_app(a)
        for d in data.get("mailboxes", []):
            self.add_mailbox(d)
        for box in self.mailboxes:
            pass
        for m in data.get("messages", []):
            self.add_message(m, record=False)
        for box in self.mailboxes:
            box.min_history = box.history_id

    def make_spec(self, m):
        d = dict(m)
        if "date_ms" not in d:
            d["date_ms"] = parse_iso(d["date"]) if "date" in d else int(now() * 1000)
        if not d.get("message_id") and not d.get("raw_headers"):
            d["message_id"] = "<%s@emu.%s>" % (
                rand_token(9), (d.get("from") or "x@emu.example").split("@")[-1].strip(">"))
        return Spec(d)

    def add_message(self, m, record=True):
        """m: a message spec with "in": {address: labels-or-folder}."""
        spec = self.make_spec(m)
        placed = {}
        for addr, where in (m.get("in") or {}).items():
            box = self.find_box(addr)
            if box is None:
                raise ValueError("unknown mailbox %s" % addr)
            with box.lock:
                if box.provider == "gmail":
                    labels = where if isinstance(where, list) else [where]
                    gm = box.gmail_add(spec, labels, record=record,
                                       mid=m.get("id") if len(m.get("in")) == 1 else None,
                                       thread_id=m.get("threadId") if len(m.get("in")) == 1 else None)
                    placed[box.address] = {"id": gm.id, "threadId": gm.thread,
                                           "historyId": str(gm.hid)}
                else:
                    if isinstance(where, dict):
                        folder, is_read = where.get("folder", "inbox"), where.get("isRead", True)
                    else:
                        folder, is_read = where, True
                    om = box.outlook_add(spec, folder, is_read=is_read)
                    placed[box.address] = {"id": om.imm, "restId": om.rest,
                                           "folder": om.folder}
        return placed

    def generate(self, what):
        parts = dict(p.split(":", 1) for p in what.split(",") if ":" in p)
        g = int(parts.get("gmail", 0))
        o = int(parts.get("outlook", 0))
        k = int(parts.get("messages", 100))
        threads = float(parts.get("threads", 1))
        singles = float(parts.get("singles", 0.4))
        if threads < 1 or not 0 <= singles <= 1:
            raise ValueError("--generate: threads is a mean of at least 1, "
                             "singles a fraction from 0 to 1")
        end = parse_iso(self.args.gen_end) if self.args.gen_end != "now" \
            else int(now() * 1000)
        gen = Generator(self.args.seed, end, threads=threads, singles=singles)
        gen.build(self, g, o, k, folders=int(parts.get("folders", 0)))
        for box in self.mailboxes:
            box.min_history = box.history_id

    # ------------------------------------------------------------ logging
    def record(self, req, resp, t0, **kw):
        q = self.safe_query_cached(req)
        e = {"time": round(t0, 3), "method": req.method, "path": req.path,
             "query": q, "status": resp.status,
             "ms": round((now() - t0) * 1000, 2)}
        for k, v in req.ctx.items():
            if k[0] != "_":
                e[k] = v
        if kw:
            e.update(kw)
        with self.log_lock:
            self.log_seq += 1
            e["seq"] = self.log_seq
            if req.inner and req.parent is not None:
                e["batch"] = req.parent
            self.log.append(e)
            if len(self.log) > 200000:
                del self.log[:50000]
            if self.log_file:
                self.log_pending.append(log_line(e))
        if self.log_file and not req.inner:
            # The lines of a batch's parts go out with the batch's own line,
            # before its answer does.  Lines are taken and written under
            # log_write_lock, so the file stays in seq order; the writing is
            # outside log_lock, which other threads need meanwhile.
            with self.log_write_lock:
                with self.log_lock:
                    out = self.log_pending
                    self.log_pending = []
                if out:
                    self.log_file.write("".join(out))
                    self.log_file.flush()
        return e["seq"]

    _SQ_CACHE = {}

    def safe_query_cached(self, req):
        """safe_query(req), memoised per query string (the dict is shared
        by the log entries; nothing modifies it)."""
        if req.path.startswith("/_emu/"):
            return {}
        r = self._SQ_CACHE.get(req.rawq)
        if r is None:
            r = self.safe_query(req)
            if len(self._SQ_CACHE) >= 2048:
                self._SQ_CACHE.clear()
            self._SQ_CACHE[req.rawq] = r
        return r

    def next_batch_id(self):
        with self.log_lock:
            self.batch_seq = getattr(self, "batch_seq", 0) + 1
            return self.batch_seq

    @staticmethod
    def safe_query(req):
        if req.path.startswith("/_emu/"):
            return {}
        q = {}
        for k, v in req.query.items():
            if k.lower() in ("access_token", "token", "refresh_token", "code",
                             "client_secret", "device_code", "code_verifier"):
                continue
            q[k] = v if len(v) > 1 else v[0]
        return q

    # ------------------------------------------------------------ faults
    def take_fault(self, req, kinds=None):
        if not self.faults:
            return None
        with self.lock:
            for f in self.faults:
                if f["remaining"] == 0:
                    continue
                if not req.path.startswith(f.get("prefix", "/")):
                    continue
                if f.get("method") and f["method"] != req.method:
                    continue
                k = f["kind"]
                if kinds is not None and k not in kinds:
                    continue
                if kinds is None and k in FAULT_ASKED:
                    continue
                if req.inner and k in FAULT_OUTER_ONLY:
                    continue
                if k == "batch" and not (req.path.startswith("/batch/") or
                                         req.path.lower() == "/v1.0/$batch"):
                    continue
                if k == "json" and (req.path.startswith("/batch/") or
                                    req.path.lower() == "/v1.0/$batch"):
                    continue        # edits the parts' answers, not the envelope
                if k == "foreign_link" and not (req.path.startswith("/v1.0/") and
                                                "delta" in req.path.lower()):
                    continue
                if f.get("mailbox") and req.ctx.get("mailbox") and \
                        f["mailbox"].lower() != req.ctx["mailbox"].lower():
                    continue
                if f.get("probability") is not None:
                    if f["_rng"].random() >= f["probability"]:
                        continue
                if f["remaining"] > 0:
                    f["remaining"] -= 1
                f["hits"] += 1
                return f
        return None

    def refund_fault(self, f):
        """A fault taken for a request it could not apply to (a json edit of
        an answer that is no 200 JSON): it waits for the next one."""
        with self.lock:
            if f["remaining"] >= 0:
                f["remaining"] += 1
            f["hits"] -= 1

    def fault_response(self, f, req):
        kind = f["kind"]
        fam = self.family(req.path)
        if kind == "latency":
            if self.family(req.path) in ("gmail", "graph", "gbatch", "ggraphbatch"):
                req.ctx["_delay"] = f.get("latency_ms", 1000) / 1000   # slept in flight
            else:
                time.sleep(f.get("latency_ms", 1000) / 1000)
            return None
        if kind == "drop":
            return Resp(200, b"", action="drop")
        if kind in FAULT_AFTER:
            if kind == "batch":
                req.ctx["_batch_fault"] = f
            return None  # applied to the real response afterwards
        if kind == "raw":
            if "body_b64" in f:
                body = base64.b64decode(f["body_b64"])
            else:
                body = f.get("body", "").encode("utf-8", "surrogatepass")
            r = Resp(int(f.get("status", 200)), body,
                     [("Content-Type", f.get("content_type", "application/json"))])
            r.extra = {"raw": True}
            return r
        if kind == "huge":
            return self.huge_resp(f, fam)
        if kind == "endless":
            r = Resp(200, b"", [("Content-Type", "application/json; charset=UTF-8")],
                     action="endless")
            r.extra = {"head": b'{"value":[', "max_bytes": int(f.get("max_bytes", 2 << 30)),
                       "max_seconds": float(f.get("max_seconds", 600))}
            return r
        status = int(f.get("status", 503))
        ra = f.get("retry_after")
        hdrs = [("Retry-After", str(ra))] if ra is not None else []
        reason = f.get("reason")
        if fam in ("gmail", "gbatch"):
            if reason is None:
                reason = {429: "rateLimitExceeded", 403: "rateLimitExceeded",
                          500: "backendError", 503: "backendError",
                          401: "authError", 404: "notFound"}.get(status, "backendError")
            msg = f.get("message") or {
                "rateLimitExceeded": "Rate Limit Exceeded",
                "userRateLimitExceeded": "User Rate Limit Exceeded",
                "dailyLimitExceeded": "Daily Limit Exceeded",
                "backendError": "Backend Error",
                "authError": "Invalid Credentials",
                "notFound": "Requested entity was not found."}.get(reason, reason)
            dom = "usageLimits" if "Limit" in reason else "global"
            return google_error(status, msg, reason, domain=dom, headers=hdrs)
        if fam in ("graph", "ggraphbatch"):
            code = f.get("code") or {429: "ApplicationThrottled",
                                     503: "ServiceNotAvailable",
                                     500: "InternalServerError",
                                     504: "GatewayTimeout",
                                     401: "InvalidAuthenticationToken",
                                     403: "ErrorAccessDenied"}.get(status, "UnknownError")
            msg = f.get("message") or ("Application is over its MailboxConcurrency limit."
                                       if status == 429 else "Service unavailable (emulated fault).")
            return graph_error(status, code, msg, headers=hdrs)
        if fam == "aad":
            return aad_error(status, f.get("error", "temporarily_unavailable"),
                             f.get("aadsts", 90033), f.get("message", "Emulated fault."),
                             headers=hdrs)
        if fam == "google_oauth":
            r = oauth_error(status, f.get("error", "internal_failure"),
                            f.get("message", "Emulated fault."))
            r.headers.extend(hdrs)
            return r
        r = json_resp(status, {"error": "emulated fault"}, headers=hdrs)
        return r

    @staticmethod
    def huge_resp(f, fam):
        """A 200 JSON answer of about f["bytes"] bytes, written in chunks as
        they are made (never held whole)."""
        n = max(16, int(f.get("bytes", 48 << 20)))
        shape = f.get("shape", "objects")
        piece = 1 << 16
        if shape == "objects":
            key = b"messages" if fam in ("gmail", "gbatch") else b"value"
            head, tail = b'{"' + key + b'":[', b"{}]}"
            k = max(0, (n - len(head) - len(tail)) // 3)
            unit = b"{}," * (piece // 3)

            def chunks():
                yield head
                left = k
                while left > 0:
                    c = min(left, len(unit) // 3)
                    yield unit if c == len(unit) // 3 else b"{}," * c
                    left -= c
                yield tail
            length = len(head) + 3 * k + len(tail)
        elif shape == "deep":
            depth = max(1, n // 2)

            def chunks():
                for ch in (b"[", b"]"):
                    left = depth
                    while left > 0:
                        c = min(left, piece)
                        yield ch * c
                        left -= c
            length = 2 * depth
        elif shape == "string":
            head, tail = b'{"value":"', b'"}'
            k = max(0, n - len(head) - len(tail))

            def chunks():
                yield head
                left = k
                while left > 0:
                    c = min(left, piece)
                    yield b"x" * c
                    left -= c
                yield tail
            length = len(head) + k + len(tail)
        else:
            raise ValueError("huge shape must be objects, deep or string")
        r = Resp(200, b"", [("Content-Type", "application/json; charset=UTF-8")],
                 action="stream")
        r.extra = {"chunks": chunks, "length": length}
        return r

    def fault_after(self, f, req, resp):
        """Apply a fault of FAULT_AFTER to the real answer."""
        kind = f["kind"]
        if kind == "malformed":
            b = resp.body or b"{}"
            resp.body = b[:max(1, len(b) // 2)] + b'",,]}{ not json'
        elif kind == "truncate":
            resp.action = "truncate"
        elif kind == "json":
            if not self.json_edit(f, resp):
                self.refund_fault(f)
                return
        elif kind == "trickle":
            resp.action = "trickle"
            resp.extra = {"rate": max(1, int(f.get("bytes_per_sec", 100))),
                          "max_seconds": float(f.get("max_seconds", 600))}
        elif kind == "chunked_truncated":
            resp.action = "chunked_truncated"
        elif kind == "foreign_link":
            if not self.foreign_link(f, resp):
                self.refund_fault(f)
                return
        elif kind == "batch":
            if "batch_fault" not in req.ctx:
                self.refund_fault(f)    # not a batch answer after all
                return
        req.ctx["fault"] = kind

    @staticmethod
    def json_edit(f, resp):
        if resp.status != 200 or resp.action is not None:
            return False
        try:
            obj = json.loads(resp.body)
        except ValueError:
            return False
        for path, val in (f.get("set") or {}).items():
            obj = json_path_set(obj, path.split(".") if path else [], val)
        for path in f.get("delete") or []:
            json_path_delete(obj, path.split("."))
        body = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
        resp.body = body.encode("utf-8", "surrogatepass")
        return True

    def foreign_link(self, f, resp):
        """Point the page's nextLink and/or deltaLink at the spy origin."""
        if resp.status != 200 or resp.action is not None or not self.spy_origin:
            return False
        try:
            obj = json.loads(resp.body)
        except ValueError:
            return False
        if not isinstance(obj, dict):
            return False
        want = f.get("link", "both")
        keys = {"next": ["@odata.nextLink"], "delta": ["@odata.deltaLink"],
                "both": ["@odata.nextLink", "@odata.deltaLink"]}.get(want)
        if keys is None:
            raise ValueError("foreign_link link must be next, delta or both")
        have = [k for k in keys if k in obj]
        if not have:
            # the page has no link of the kind asked: rewrite the one it has
            have = [k for k in ("@odata.nextLink", "@odata.deltaLink") if k in obj]
        if not have:
            return False
        for k in have:
            u = urllib.parse.urlsplit(obj[k])
            obj[k] = self.spy_origin + u.path + ("?" + u.query if u.query else "")
        resp.body = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
        return True

    @staticmethod
    def family(path):
        if path.startswith("/gmail/"):
            return "gmail"
        if path.startswith("/batch/"):
            return "gbatch"
        if path.startswith("/v1.0/$batch"):
            return "ggraphbatch"
        if path.startswith("/v1.0/"):
            return "graph"
        if "/oauth2/v2.0/" in path:
            return "aad"
        if path.startswith(("/token", "/revoke", "/o/oauth2", "/device/code")):
            return "google_oauth"
        return "other"

    # ------------------------------------------------------------ dispatch
    def handle(self, req):
        t0 = now()
        self.last_request = t0
        path = req.path
        if path.startswith("/_emu/") or path == "/_emu":
            try:
                resp = self.control(req)
            except Exception as e:  # control errors are the tester's
                resp = json_resp(400, {"error": str(e)})
            return resp
        resp = None
        f = None
        h = req.headers.get("authorization", "")
        if h[:7].lower() == "bearer ":
            a = self.access.get(h[7:].strip())
            if a:
                req.ctx["mailbox"] = a["mailbox"]
        try:
            f = self.take_fault(req)
            if f is not None:
                resp = self.fault_response(f, req)
                if resp is not None:
                    req.ctx["fault"] = f["kind"]
            if resp is None:
                resp = self.route(req)
                if f is not None and f["kind"] in FAULT_AFTER and resp.action is None:
                    self.fault_after(f, req, resp)
        except Exception as e:  # an emulator bug must still answer
            import traceback
            traceback.print_exc()
            resp = json_resp(500, {"error": {"code": 500, "message": "emulator error: %s" % e}})
        self.record(req, resp, t0)
        return resp

    def delay(self, req):
        """Emulated service time, spent while the request counts as in flight."""
        d = req.ctx.pop("_delay", 0)
        if not req.inner:
            d += self.config["latency_ms"] / 1000
        if d > 0:
            time.sleep(d)

    def route(self, req):
        p, m = req.path, req.method
        if p.startswith("/gmail/v1/users/"):
            return self.gmail(req)
        if p == "/batch/gmail/v1":
            if m != "POST":
                return google_error(405, "Method not allowed", "badRequest")
            return self.gmail_batch(req)
        if p == "/batch" or p.startswith("/batch/"):
            # The global batch endpoint (and any other API's) is gone since
            # 12 August 2020: a plain Google 404 page.
            return google_404(p)
        if p.startswith("/v1.0/"):
            if p.lower() == "/v1.0/$batch":
                return self.graph_batch(req)
            return self.graph(req)
        if p == "/o/oauth2/v2/auth" or p == "/o/oauth2/auth":
            return self.google_authorize(req)
        if p == "/token" or p == "/o/oauth2/token":
            if m != "POST":
                return oauth_error(405, "invalid_request", "POST required")
            return self.google_token(req)
        if p == "/revoke" or p == "/o/oauth2/revoke":
            return self.google_revoke(req)
        if p == "/device/code":
            return self.google_device(req)
        mo = re.match(r"^/([^/]+)/oauth2/v2\.0/(authorize|token|devicecode)$", p)
        if mo:
            tenant, ep = mo.group(1), mo.group(2)
            req.ctx["tenant"] = tenant
            if ep == "authorize":
                return self.ms_authorize(req, tenant)
            if m != "POST":
                return aad_error(400, "invalid_request", 900561,
                                 "The endpoint only accepts POST requests. Received a GET request.")
            if ep == "token":
                return self.ms_token(req, tenant)
            return self.ms_devicecode(req, tenant)
        if p == "/devicelogin":
            return self.device_page(req)
        if p == "/" or p == "/favicon.ico":
            return html_resp(200 if p == "/" else 404, "msemu mail provider emulator")
        return json_resp(404, {"error": "not found", "path": p})

    # ------------------------------------------------------------ auth
    def bearer(self, req, provider):
        """Returns (grant, error_resp)."""
        h = req.headers.get("authorization", "")
        tok = h[7:].strip() if h[:7].lower() == "bearer " else None
        if tok is None:
            tok = qs_first(req.query, "access_token")
        g = self.access.get(tok) if tok else None
        if g is None or g["expires"] < now() or g["provider"] != provider or \
                self.grants.get(g["grant"], {}).get("revoked"):
            req.ctx["auth"] = "expired" if g is not None else ("missing" if not tok else "invalid")
            if provider == "google":
                if not tok:
                    return None, google_error(
                        401, "Request is missing required authentication credential. "
                        "Expected OAuth 2 access token, login cookie or other valid "
                        "authentication credential. See https://developers.google.com/"
                        "identity/sign-in/web/devconsole-project.", "required",
                        extra={"location": "Authorization", "locationType": "header"},
                        headers=[("WWW-Authenticate", 'Bearer realm="https://accounts.google.com/"')])
                return None, google_error(
                    401, "Request had invalid authentication credentials. Expected "
                    "OAuth 2 access token, login cookie or other valid authentication "
                    "credential. See https://developers.google.com/identity/sign-in/"
                    "web/devconsole-project.", "authError",
                    extra={"location": "Authorization", "locationType": "header"},
                    headers=[("WWW-Authenticate", 'Bearer realm="https://accounts.google.com/", error="invalid_token"')])
            msg = "Access token has expired or is not yet valid." if g is not None \
                else ("Access token is empty." if not tok else "IDX14100: JWT is not well formed.")
            return None, graph_error(401, "InvalidAuthenticationToken", msg,
                                     headers=[("WWW-Authenticate", 'Bearer realm="", error="invalid_token"')])
        req.ctx["mailbox"] = g["mailbox"]
        return g, None

    def issue(self, provider, client_id, mailbox, scopes, offline, grant=None):
        life = self.config["token_lifetime"]
        at = ("ya29.a0" if provider == "google" else "eyJ0eXAiOiJKV1QiLCJub25jZSI6.") + rand_token(48)
        if grant is None:
            gid = "g%d" % (len(self.grants) + 1)
            grant = {"id": gid, "provider": provider, "client_id": client_id,
                     "mailbox": mailbox, "scopes": list(scopes), "refresh": None,
                     "old_refresh": [], "revoked": False, "refreshes": 0,
                     "created": now(), "offline": offline}
            self.grants[gid] = grant
        self.access[at] = {"grant": grant["id"], "provider": provider,
                           "mailbox": mailbox, "scopes": list(scopes),
                           "expires": now() + life, "client_id": client_id}
        return at, grant, life

    def new_refresh(self, grant):
        rt = ("1//0" if grant["provider"] == "google" else "0.AXoA") + rand_token(40)
        if grant["refresh"]:
            grace = self.config["refresh_grace"]
            grant["old_refresh"].append(grant["refresh"])
            if grace > 0:
                self.refresh[grant["refresh"]]["until"] = now() + grace
            else:
                self.refresh.pop(grant["refresh"], None)
        grant["refresh"] = rt
        self.refresh[rt] = {"grant": grant["id"], "until": None}
        return rt

    def lookup_refresh(self, rt):
        r = self.refresh.get(rt)
        if r is None:
            return None
        if r["until"] is not None and r["until"] < now():
            self.refresh.pop(rt, None)
            return None
        g = self.grants.get(r["grant"])
        if g is None or g["revoked"]:
            return None
        return g

    # ------------------------------------------------------------ Google OAuth
    LOOPBACK = ("127.0.0.1", "localhost", "::1")

    @classmethod
    def loopback_ok(cls, uri, registered):
        """uri matches a registered redirect URI exactly, but that a
        loopback one may name any port (RFC 8252 7.3; Microsoft: "the port
        component is ignored"); an empty path is "/" (RFC 3986 6.2.3)."""
        if uri in registered:
            return True
        try:
            u = urllib.parse.urlsplit(uri)
            uport = u.port
        except ValueError:
            return False
        if u.fragment or not u.hostname:
            return False
        for r in registered:
            try:
                ru = urllib.parse.urlsplit(r)
                rport = ru.port
            except ValueError:
                continue
            if ru.scheme.lower() != u.scheme.lower() or \
                    (ru.hostname or "").lower() != u.hostname.lower() or \
                    (ru.path or "/") != (u.path or "/") or ru.query != u.query:
                continue
            if u.scheme.lower() == "http" and u.hostname.lower() in cls.LOOPBACK:
                return True
            dflt = 443 if u.scheme.lower() == "https" else 80
            if (rport or dflt) == (uport or dflt):
                return True
        return False

    def pick_mailbox(self, provider, hint, tenant=None):
        boxes = [b for b in self.mailboxes if b.provider == provider and not b.shared]
        if tenant == "consumers":
            boxes = [b for b in boxes if b.personal] or boxes
        elif tenant == "organizations":
            boxes = [b for b in boxes if not b.personal] or boxes
        if hint:
            for b in boxes:
                if hint.lower() in (b.address.lower(), (b.upn or "").lower(),
                                    (b.mail or "").lower()):
                    return b
        return boxes[0] if boxes else None

    def take_denial(self, provider):
        for d in self.authorize_denials:
            if d.get("provider") in (None, provider) and d["remaining"] != 0:
                d["remaining"] -= 1
                return d
        return None

    def google_authorize(self, req):
        q = {k: v[0] for k, v in req.query.items()}
        app = self.apps.get(q.get("client_id", ""))
        if not app or app["provider"] != "google":
            return html_resp(401, "Error 401: invalid_client. The OAuth client was not found.")
        ru = q.get("redirect_uri", "")
        if q.get("redirect_uri") in (None, "urn:ietf:wg:oauth:2.0:oob"):
            return html_resp(400, "Error 400: invalid_request. The out-of-band (OOB) flow has been blocked.")
        if not self.loopback_ok(ru, app["redirect_uris"]):
            return html_resp(400, "Access blocked: This app\u2019s request is invalid. "
                             "Error 400: redirect_uri_mismatch. You can\u2019t sign in because "
                             "this app sent an invalid request.")
        state = q.get("state")
        def back(params):
            if state is not None:
                params["state"] = state
            return redirect(add_query(ru, params))
        if q.get("response_type") != "code":
            return back({"error": "unsupported_response_type"})
        scope = q.get("scope", "").split()
        if not scope:
            return html_resp(400, "Error 400: invalid_request. Missing required parameter: scope")
        cm = q.get("code_challenge_method")
        if q.get("code_challenge") and cm not in (None, "S256", "plain"):
            return html_resp(400, "Error 400: invalid_request. Invalid code_challenge_method")
        d = self.take_denial("google")
        if d:
            return back({"error": d.get("error", "access_denied")})
        box = self.pick_mailbox("gmail", q.get("login_hint"))
        if box is None:
            return back({"error": "access_denied"})
        granted = [s for s in scope if s not in box.untick]
        code = "4/0A" + rand_token(40)
        offline = q.get("access_type") == "offline"
        prior = any(g["client_id"] == app["client_id"] and g["mailbox"] == box.address
                    and not g["revoked"] and g["offline"]
                    for g in self.grants.values())
        self.codes[code] = {"provider": "google", "client_id": app["client_id"],
                            "redirect_uri": ru, "challenge": q.get("code_challenge"),
                            "method": cm or ("plain" if q.get("code_challenge") else None),
                            "mailbox": box.address, "scopes": granted,
                            "expires": now() + self.config["code_lifetime"],
                            "offline": offline and (not prior or q.get("prompt") == "consent")}
        req.ctx["mailbox"] = box.address
        return back({"code": code, "scope": " ".join(granted), "authuser": "0",
                     "prompt": "consent"})

    def client_auth(self, req, form):
        cid, sec = form.get("client_id"), form.get("client_secret")
        h = req.headers.get("authorization", "")
        if h[:6].lower() == "basic ":
            try:
                u, _, pw = base64.b64decode(h[6:]).decode().partition(":")
                cid = cid or urllib.parse.unquote(u)
                sec = sec or urllib.parse.unquote(pw)
            except Exception:
                pass
        return cid, sec

    @staticmethod
    def pkce_ok(code, verifier):
        ch = code.get("challenge")
        if not ch:
            return True
        if not verifier or not re.fullmatch(r"[A-Za-z0-9._~-]{43,128}", verifier):
            return False
        if code.get("method") == "plain":
            return verifier == ch
        return b64u(hashlib.sha256(verifier.encode()).digest()) == ch

    def google_token(self, req):
        form = req.form()
        gt = form.get("grant_type")
        req.ctx["grant_type"] = gt
        f = self.take_fault(req, kinds=("invalid_grant",))
        if f is not None:
            req.ctx["fault"] = "invalid_grant"
            return oauth_error(400, "invalid_grant", f.get("message", "Token has been expired or revoked."))
        cid, sec = self.client_auth(req, form)
        app = self.apps.get(cid or "")
        if not app or app["provider"] != "google":
            return oauth_error(401, "invalid_client", "The OAuth client was not found.")
        req.ctx["client_id"] = cid
        if not sec:
            return oauth_error(400, "invalid_request", "client_secret is missing.")
        if sec != app.get("client_secret"):
            return oauth_error(401, "invalid_client", "Unauthorized")
        with self.lock:
            if gt == "authorization_code":
                code = self.codes.get(form.get("code", ""))
                if not code or code["provider"] != "google" or code["client_id"] != cid:
                    return oauth_error(400, "invalid_grant", "Malformed auth code.")
                if code.get("used"):
                    return oauth_error(400, "invalid_grant", "Bad Request")
                if code["expires"] < now():
                    return oauth_error(400, "invalid_grant", "Bad Request")
                if form.get("redirect_uri") != code["redirect_uri"]:
                    return oauth_error(400, "redirect_uri_mismatch", "Bad Request")
                if not self.pkce_ok(code, form.get("code_verifier")):
                    return oauth_error(400, "invalid_grant",
                                       "Missing code verifier." if not form.get("code_verifier")
                                       else "Invalid code verifier.")
                code["used"] = True
                req.ctx["mailbox"] = code["mailbox"]
                req.ctx["pkce"] = code.get("method")
                at, grant, life = self.issue("google", cid, code["mailbox"],
                                             code["scopes"], code["offline"])
                out = {"access_token": at, "expires_in": life,
                       "scope": " ".join(code["scopes"]), "token_type": "Bearer"}
                if code["offline"]:
                    out["refresh_token"] = self.new_refresh(grant)
                if "openid" in code["scopes"]:
                    out["id_token"] = self.id_token(grant, "https://accounts.google.com", cid)
                return json_resp(200, out, pretty=True,
                                 headers=[("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate"),
                                          ("Pragma", "no-cache")])
            if gt == "refresh_token":
                g = self.lookup_refresh(form.get("refresh_token", ""))
                if g is None or g["client_id"] != cid:
                    return oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
                g["refreshes"] += 1
                req.ctx["mailbox"] = g["mailbox"]
                at, g, life = self.issue("google", cid, g["mailbox"], g["scopes"], True, grant=g)
                out = {"access_token": at, "expires_in": life,
                       "scope": " ".join(g["scopes"]), "token_type": "Bearer"}
                if self.config["google_rotate_refresh"]:
                    out["refresh_token"] = self.new_refresh(g)
                if "openid" in g["scopes"]:
                    out["id_token"] = self.id_token(g, "https://accounts.google.com", cid)
                return json_resp(200, out, pretty=True)
        return oauth_error(400, "unsupported_grant_type", "Invalid grant_type: %s" % (gt or ""))

    def google_revoke(self, req):
        if req.method != "POST":
            return oauth_error(400, "invalid_request", "Bad Request")
        form = req.form()
        tok = form.get("token") or qs_first(req.query, "token")
        with self.lock:
            g = None
            if tok in self.access and self.access[tok]["provider"] == "google":
                g = self.grants.get(self.access[tok]["grant"])
            elif tok in self.refresh:
                g = self.grants.get(self.refresh[tok]["grant"])
                if g and g["provider"] != "google":
                    g = None
            if g is None or g["revoked"]:
                return oauth_error(400, "invalid_token", "Token expired or revoked")
            g["revoked"] = True
            req.ctx["mailbox"] = g["mailbox"]
        return json_resp(200, {})

    def google_device(self, req):
        form = req.form()
        scopes = form.get("scope", "").split()
        if any("gmail" in s or s == GMAIL_FULL for s in scopes):
            return oauth_error(400, "invalid_scope", "Some requested scopes were invalid. "
                               "{valid=[], invalid=[%s]}" % ", ".join(scopes))
        return oauth_error(400, "invalid_request", "Device flow is not emulated for Google.")

    def id_token(self, grant, iss, aud):
        box = self.find_box(grant["mailbox"])
        claims = {"iss": iss, "aud": aud, "iat": int(now()), "exp": int(now()) + 3600,
                  "sub": box.user_id if box else "0", "email": grant["mailbox"],
                  "name": box.name if box else ""}
        if grant["provider"] == "microsoft" and box:
            claims.update(oid=box.user_id, tid=box.tenant, preferred_username=box.upn,
                          ver="2.0")
        hdr = b64u(json.dumps({"alg": "none", "typ": "JWT"}).encode())
        return hdr + "." + b64u(json.dumps(claims).encode()) + "."

    # ------------------------------------------------------------ Microsoft identity
    @staticmethod
    def ms_scopes(s):
        out = []
        for x in s.split():
            low = x.lower()
            for pre in ("https://graph.microsoft.com/", "graph.microsoft.com/"):
                if low.startswith(pre):
                    low = low[len(pre):]
            out.append(low)
        return out

    MS_CANON = {"mail.read": "Mail.Read", "mail.readbasic": "Mail.ReadBasic",
                "mail.read.shared": "Mail.Read.Shared",
                "mail.readwrite": "Mail.ReadWrite", "user.read": "User.Read",
                "openid": "openid", "profile": "profile", "email": "email",
                "offline_access": "offline_access", ".default": "Mail.Read User.Read"}

    def ms_scope_str(self, scopes):
        names = [self.MS_CANON.get(s, s) for s in scopes if s != "offline_access"]
        return " ".join(dict.fromkeys(" ".join(names).split()))

    def ms_app(self, cid):
        app = self.apps.get(cid or "")
        if not app or app["provider"] != "microsoft":
            return None
        return app

    def ms_authorize(self, req, tenant):
        q = {k: v[0] for k, v in req.query.items()}
        app = self.ms_app(q.get("client_id"))
        if app is None:
            return html_resp(400, "AADSTS700016: Application with identifier '%s' was not "
                             "found in the directory." % q.get("client_id", ""))
        ru = q.get("redirect_uri", "")
        if not self.loopback_ok(ru, app["redirect_uris"]):
            return html_resp(400, "AADSTS50011: The redirect URI '%s' specified in the request "
                             "does not match the redirect URIs configured for the "
                             "application '%s'. Make sure the redirect URI sent in the "
                             "request matches one added to your application in the Azure "
                             "portal. Navigate to https://aka.ms/redirectUriMismatchError to "
                             "learn more about how to fix this." % (ru, app["client_id"]))
        state = q.get("state")
        # reply-url: a redirect URI without a path segment is returned with
        # a trailing slash (response_mode query or fragment)
        try:
            target = ru if urllib.parse.urlsplit(ru).path else \
                urllib.parse.urlunsplit(urllib.parse.urlsplit(ru)._replace(path="/"))
        except ValueError:
            target = ru
        def back(params):
            if state is not None:
                params["state"] = state
            return redirect(add_query(target, params))
        if q.get("response_type") != "code":
            return back({"error": "unsupported_response_type",
                         "error_description": "AADSTS700054: response_type 'id_token' is not enabled for the application."})
        scopes = self.ms_scopes(q.get("scope", ""))
        if not scopes:
            return back({"error": "invalid_request",
                         "error_description": "AADSTS900144: The request body must contain the following parameter: 'scope'."})
        cm = q.get("code_challenge_method")
        if q.get("code_challenge") and cm not in (None, "S256", "plain"):
            return back({"error": "invalid_request",
                         "error_description": "AADSTS501491: Invalid size of Code_Challenge parameter."})
        d = self.take_denial("microsoft")
        if d:
            return back({"error": d.get("error", "access_denied"),
                         "error_description": d.get("error_description",
                                                    "AADSTS65004: User declined to consent to access the app.")})
        box = self.pick_mailbox("outlook", q.get("login_hint"), tenant)
        if box is None:
            return back({"error": "access_denied", "error_description": "no mailbox"})
        granted = [s for s in scopes if self.MS_CANON.get(s, s) not in box.untick and s not in box.untick]
        code = "0.AX" + rand_token(60)
        self.codes[code] = {"provider": "microsoft", "client_id": app["client_id"],
                            "redirect_uri": ru, "challenge": q.get("code_challenge"),
                            "method": cm or ("plain" if q.get("code_challenge") else None),
                            "mailbox": box.address, "scopes": granted,
                            "expires": now() + self.config["code_lifetime"],
                            "offline": "offline_access" in granted, "tenant": tenant}
        req.ctx["mailbox"] = box.address
        return back({"code": code, "session_state": str(uuid.uuid4())})

    def ms_client_check(self, req, form, app):
        cid, sec = self.client_auth(req, form)
        has_cred = bool(sec) or bool(form.get("client_assertion"))
        if app["public"] and has_cred:
            return aad_error(400, "invalid_client", 700025,
                             "Client is public so neither 'client_assertion' nor "
                             "'client_secret' should be presented.")
        if not app["public"]:
            if not has_cred:
                return aad_error(401, "invalid_client", 7000218,
                                 "The request body must contain the following parameter: "
                                 "'client_assertion' or 'client_secret'.")
            if sec != app.get("client_secret"):
                return aad_error(401, "invalid_client", 7000215,
                                 "Invalid client secret provided. Ensure the secret being "
                                 "sent in the request is the client secret value, not the "
                                 "client secret ID, for a secret added to app '%s'." % app["client_id"])
        return None

    def ms_tokens(self, grant, cid, scopes):
        at, grant, life = self.issue("microsoft", cid, grant["mailbox"], scopes,
                                     grant["offline"], grant=grant)
        out = {"token_type": "Bearer", "scope": self.ms_scope_str(scopes),
               "expires_in": life, "ext_expires_in": life, "access_token": at}
        if "offline_access" in scopes:
            out["refresh_token"] = self.new_refresh(grant)
        if "openid" in scopes:
            out["id_token"] = self.id_token(grant, "https://login.microsoftonline.com/%s/v2.0"
                                            % (self.find_box(grant["mailbox"]).tenant), cid)
        return json_resp(200, out, headers=[("Cache-Control", "no-store, no-cache"),
                                            ("Pragma", "no-cache")])

    def new_grant(self, cid, mailbox, scopes):
        gid = "g%d" % (len(self.grants) + 1)
        g = {"id": gid, "provider": "microsoft", "client_id": cid, "mailbox": mailbox,
             "scopes": list(scopes), "refresh": None, "old_refresh": [], "revoked": False,
             "refreshes": 0, "created": now(), "offline": "offline_access" in scopes}
        self.grants[gid] = g
        return g

    def ms_token(self, req, tenant):
        form = req.form()
        gt = form.get("grant_type")
        req.ctx["grant_type"] = gt
        f = self.take_fault(req, kinds=("invalid_grant",))
        if f is not None:
            req.ctx["fault"] = "invalid_grant"
            return aad_error(400, "invalid_grant", f.get("aadsts", 700082),
                             f.get("message", "The refresh token has expired due to inactivity."))
        cid = form.get("client_id") or self.client_auth(req, form)[0]
        app = self.ms_app(cid)
        if app is None:
            return aad_error(400, "unauthorized_client", 700016,
                             "Application with identifier '%s' was not found in the "
                             "directory 'Emulated'." % (cid or ""))
        req.ctx["client_id"] = cid
        bad = self.ms_client_check(req, form, app)
        if bad:
            return bad
        with self.lock:
            if gt == "authorization_code":
                code = self.codes.get(form.get("code", ""))
                if not code or code["provider"] != "microsoft" or code["client_id"] != cid:
                    return aad_error(400, "invalid_grant", 9002313,
                                     "Invalid request. Request is malformed or invalid.")
                if code.get("used"):
                    return aad_error(400, "invalid_grant", 54005,
                                     "OAuth2 Authorization code was already redeemed, please "
                                     "retry with a new valid code or use an existing refresh token.")
                if code["expires"] < now():
                    return aad_error(400, "invalid_grant", 70008,
                                     "The provided authorization code or refresh token has "
                                     "expired due to inactivity.")
                if form.get("redirect_uri") != code["redirect_uri"]:
                    return aad_error(400, "invalid_grant", 500112,
                                     "The reply address '%s' does not match the reply address "
                                     "'%s' provided when requesting Authorization code."
                                     % (form.get("redirect_uri", ""), code["redirect_uri"]))
                if not self.pkce_ok(code, form.get("code_verifier")):
                    return aad_error(400, "invalid_grant", 501481,
                                     "The Code_Verifier does not match the code_challenge "
                                     "supplied in the authorization request.")
                code["used"] = True
                req.ctx["mailbox"] = code["mailbox"]
                req.ctx["pkce"] = code.get("method")
                g = self.new_grant(cid, code["mailbox"], code["scopes"])
                return self.ms_tokens(g, cid, code["scopes"])
            if gt == "refresh_token":
                g = self.lookup_refresh(form.get("refresh_token", ""))
                if g is None or g["client_id"] != cid:
                    known = any(form.get("refresh_token") in gg["old_refresh"]
                                for gg in self.grants.values())
                    if known:
                        return aad_error(400, "invalid_grant", 70000,
                                         "The provided value for the 'refresh_token' is not valid: "
                                         "this refresh token was already exchanged and rotated "
                                         "(emulator refresh_grace=%s s)." % self.config["refresh_grace"])
                    return aad_error(400, "invalid_grant", 50173,
                                     "The provided grant has expired due to it being revoked, "
                                     "a fresh auth token is needed.")
                g["refreshes"] += 1
                req.ctx["mailbox"] = g["mailbox"]
                # Graph access tokens carry every consented Graph scope, whatever
                # subset the refresh request names.
                return self.ms_tokens(g, cid, g["scopes"])
            if gt == "urn:ietf:params:oauth:grant-type:device_code":
                return self.ms_device_poll(req, form, cid)
        return aad_error(400, "unsupported_grant_type", 70003,
                         "The app requested an unsupported grant type '%s'." % (gt or ""))

    def ms_devicecode(self, req, tenant):
        form = req.form()
        app = self.ms_app(form.get("client_id"))
        if app is None:
            return aad_error(400, "unauthorized_client", 700016,
                             "Application with identifier '%s' was not found in the "
                             "directory 'Emulated'." % form.get("client_id", ""))
        if not app.get("allow_device_code", True) or not app["public"]:
            return aad_error(400, "invalid_client", 7000218,
                             "The request body must contain the following parameter: "
                             "'client_assertion' or 'client_secret'.")
        scopes = self.ms_scopes(form.get("scope", ""))
        if not scopes:
            return aad_error(400, "invalid_request", 900144,
                             "The request body must contain the following parameter: 'scope'.")
        dc = self.config["device"]
        user_code = "".join(self.rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(9))
        device_code = "DAQABIQEAAAB" + rand_token(90)
        uri = req.base + "/devicelogin"
        # expires_in and interval go out verbatim, whatever they are (-1, 0,
        # a string...); the code itself lives expires_in seconds when that
        # is a number, else 900
        try:
            life = float(dc["expires_in"])
        except (TypeError, ValueError):
            life = 900.0
        with self.lock:
            self.devices[device_code] = {
                "client_id": app["client_id"], "scopes": scopes, "user_code": user_code,
                "tenant": tenant, "polls": 0, "expires": now() + life,
                "approved": None, "mailbox": dc.get("mailbox"), "done": False,
                "pending": dc["pending"], "slow_down": dc["slow_down"],
                "outcome": dc["outcome"]}
        return json_resp(200, {
            "user_code": user_code, "device_code": device_code,
            "verification_uri": uri, "expires_in": dc["expires_in"],
            "interval": dc["interval"],
            "message": "To sign in, use a web browser to open the page %s and enter "
                       "the code %s to authenticate." % (uri, user_code)})

    def ms_device_poll(self, req, form, cid):
        d = self.devices.get(form.get("device_code", ""))
        if d is None or d["client_id"] != cid:
            return aad_error(400, "bad_verification_code", 70019,
                             "Verification code expired." if d else
                             "The provided value for the input parameter 'device_code' is not valid.")
        if d["done"]:
            return aad_error(400, "invalid_grant", 54005,
                             "OAuth2 Authorization code was already redeemed.")
        d["polls"] += 1
        req.ctx["poll"] = d["polls"]
        if d["expires"] < now():
            return aad_error(400, "expired_token", 70020,
                             "The provided value for the input parameter 'device_code' is "
                             "not valid. This device code has expired.")
        outcome = d["approved"]
        if outcome is None:
            if d["polls"] <= d["pending"]:
                return aad_error(400, "authorization_pending", 70016,
                                 "The provided request has not yet been authorized by the user. "
                                 "The user must input their code.")
            if d["polls"] <= d["pending"] + d["slow_down"]:
                return aad_error(400, "slow_down", 70016,
                                 "Polling too fast: increase the interval by 5 seconds.")
            outcome = d["outcome"]
        if outcome in ("declined", "authorization_declined", "deny"):
            return aad_error(400, "authorization_declined", 70000,
                             "The user declined the authorization request.")
        if outcome in ("expired", "expired_token"):
            return aad_error(400, "expired_token", 70020,
                             "The provided value for the input parameter 'device_code' is "
                             "not valid. This device code has expired.")
        if outcome in ("pending",):
            return aad_error(400, "authorization_pending", 70016,
                             "The provided request has not yet been authorized by the user.")
        box = self.find_box(d["mailbox"]) if d["mailbox"] else \
            self.pick_mailbox("outlook", None, d["tenant"])
        if box is None:
            return aad_error(400, "authorization_declined", 70000, "No mailbox to sign in.")
        d["done"] = True
        granted = [s for s in d["scopes"] if self.MS_CANON.get(s, s) not in box.untick]
        req.ctx["mailbox"] = box.address
        g = self.new_grant(cid, box.address, granted)
        return self.ms_tokens(g, cid, granted)

    def device_page(self, req):
        code = qs_first(req.query, "code") or qs_first(req.query, "user_code")
        if not code:
            return html_resp(200, "Enter code: GET /devicelogin?code=USERCODE[&mailbox=ADDR][&decline=1]")
        with self.lock:
            for d in self.devices.values():
                if d["user_code"] == code.upper():
                    d["approved"] = "declined" if qs_first(req.query, "decline") else "approve"
                    if qs_first(req.query, "mailbox"):
                        d["mailbox"] = qs_first(req.query, "mailbox")
                    return html_resp(200, "You have signed in to the application on your device.")
        return html_resp(400, "That code was not recognized.")

    # ------------------------------------------------------------ quotas
    def window(self, base):
        return base / max(self.config["time_scale"], 1e-9)

    def gmail_charge(self, req, box, op):
        units = GMAIL_COST.get(op, 5)
        req.ctx["units"] = units
        req.ctx["op"] = op
        if not self.config["quotas"]:
            return None
        win = self.window(60.0)
        t = now()
        with self.lock:
            addr = box.address
            dq = self.gmail_usage[addr]
            used = self.gmail_used[addr]
            cut = t - win
            while dq and dq[0][0] < cut:
                used -= dq.popleft()[1]
            self.gmail_used[addr] = used
            if used + units > self.config["gmail_units_per_minute"]:
                req.ctx["quota"] = "exceeded"
                req.ctx["units"] = 0
                st = self.config["gmail_quota_status"]
                if st == 429:
                    return google_error(429, "Rate Limit Exceeded", "rateLimitExceeded",
                                        domain="usageLimits")
                return google_error(403, "User Rate Limit Exceeded. Rate of requests for user "
                                    "exceed configured project quota.", "userRateLimitExceeded",
                                    domain="usageLimits")
            dq.append((t, units))
            self.gmail_used[addr] = used + units
        return None

    def graph_charge(self, req, box):
        req.ctx["units"] = 1
        if not self.config["quotas"]:
            return None
        win = self.window(600.0)
        t = now()
        with self.lock:
            dq = self.graph_usage[box.address]
            while dq and dq[0] < t - win:
                dq.popleft()
            if len(dq) >= self.config["graph_requests_per_10min"]:
                ra = max(1, math.ceil(dq[0] + win - t))
                req.ctx["quota"] = "exceeded"
                return graph_error(429, "ApplicationThrottled",
                                   "Application is over its RequestRate limit.",
                                   headers=[("Retry-After", str(ra))])
            dq.append(t)
        return None

    # ------------------------------------------------------------ Gmail API
    def gmail(self, req):
        g, err = self.bearer(req, "google")
        if err:
            return err
        box = self.find_box(g["mailbox"])
        mo = RE_GMAIL_USER.match(req.path)
        uid = urllib.parse.unquote(mo.group(1))
        rest = mo.group(2) or ""
        if uid != "me" and uid.lower() != box.address.lower():
            return google_error(403, "Delegation denied for %s" % box.address, "forbidden")
        scopes = set(g["scopes"])
        meta = GMAIL_METADATA in scopes
        readable = meta or bool(scopes & GMAIL_READ_SCOPES)
        if not readable:
            return google_error(403, "Request had insufficient authentication scopes.",
                                "insufficientPermissions",
                                headers=[("WWW-Authenticate", 'Bearer realm="https://accounts.google.com/", error="insufficient_scope", scope="%s %s"' % (GMAIL_METADATA, GMAIL_READONLY))])
        if req.method != "GET":
            return google_error(405, "Method not allowed (emulator is read-only).", "badRequest")
        conc = self.config["gmail_concurrency"]
        if conc and not req.inner:
            with self.lock:
                if self.inflight["g:" + box.address] >= conc:
                    req.ctx["quota"] = "concurrency"
                    return gmail_concurrency_error()
                self.inflight["g:" + box.address] += 1
        try:
            self.delay(req)
            return self.gmail_route(req, box, rest, meta)
        finally:
            if conc and not req.inner:
                with self.lock:
                    self.inflight["g:" + box.address] -= 1

    def gmail_route(self, req, box, rest, meta):
        """A users/me path of one mailbox: the method it names is charged
        (gmail_charge) and, unless refused, served."""
        fixed = {
            "/profile": ("getProfile", self.gmail_profile),
            "/messages": ("messages.list", self.gmail_list),
            "/threads": ("threads.list", self.gmail_threads_list),
            "/history": ("history.list", lambda req, box, meta: self.gmail_history(req, box)),
            "/settings/sendAs": ("settings.sendAs.list", self.gmail_send_as),
            "/labels": ("labels.list", self.gmail_labels),
        }
        for rx, op, get in ((RE_GMAIL_MSG, "messages.get", self.gmail_get),
                            (RE_GMAIL_THREAD, "threads.get", self.gmail_thread_get)):
            mo = rx.match(rest)
            if mo:
                return self.gmail_charge(req, box, op) or get(req, box, mo.group(1), meta)
        if rest not in fixed:
            return google_error(404, "Not Found", "notFound")
        op, serve = fixed[rest]
        return self.gmail_charge(req, box, op) or serve(req, box, meta)

    def gmail_profile(self, req, box, meta):
        with box.lock:
            threads = len(box.thread_index())
            return json_resp(200, {"emailAddress": box.address,
                                   "messagesTotal": len(box.msgs),
                                   "threadsTotal": threads,
                                   "historyId": str(box.history_id)}, pretty=True)

    def gmail_send_as(self, req, box, meta):
        sa = box.send_as or [{"sendAsEmail": box.address, "displayName": box.name,
                              "replyToAddress": "", "signature": "", "isPrimary": True,
                              "isDefault": True}]
        return json_resp(200, {"sendAs": sa}, pretty=True)

    def gmail_labels(self, req, box, meta):
        labels = sorted({l for m in box.msgs.values() for l in m.labels} |
                        {"INBOX", "SENT", "DRAFT", "SPAM", "TRASH", "UNREAD", "CHAT",
                         "IMPORTANT", "STARRED"})
        return json_resp(200, {"labels": [{"id": l, "name": l, "type": "system"}
                                          for l in labels]}, pretty=True)

    def gmail_list(self, req, box, meta):
        err, mx, pred, labels, inc = self.gmail_list_args(req, meta)
        if err:
            return err
        err, start, sid, snap = self.gmail_page_snapshot(req, self.list_snaps)
        if err:
            return err
        with box.lock:
            if snap is None:
                snap = [(mid, m.thread) for mid, m in
                        self.gmail_matching(box, inc, labels, pred)]
                sid = self.gmail_keep_snapshot(self.list_snaps, snap)
            # messages deleted since the first page are skipped
            out = [x for x in snap[start:start + mx] if x[0] in box.msgs]
        total = len(snap)
        nxt = b64u(("%s:%d" % (sid, start + mx)).encode()) if start + mx < total else None
        req.ctx["count"] = len(out)
        try:
            # json.dumps(..., indent=2) is the pure-Python encoder: this is
            # its exact output, made with the C string encoder
            e = _jenc
            items = []
            if out:
                items.append('"messages": [\n' + ",\n".join([
                    '    {\n      "id": %s,\n      "threadId": %s\n    }' % (e(i), e(t))
                    for i, t in out]) + "\n  ]")
            if nxt is not None:
                items.append('"nextPageToken": ' + e(nxt))
            items.append('"resultSizeEstimate": %d' % total)
            return Resp(200, ("{\n  " + ",\n  ".join(items) + "\n}").encode(),
                        [("Content-Type", "application/json; charset=UTF-8")])
        except TypeError:
            pass
        body = {}
        if out:
            body["messages"] = [{"id": i, "threadId": t} for i, t in out]
        if nxt is not None:
            body["nextPageToken"] = nxt
        body["resultSizeEstimate"] = total
        return json_resp(200, body, pretty=True)

    @staticmethod
    def gmail_page_snapshot(req, snaps):
        """The pageToken of a messages.list or threads.list ("sid:offset"
        of a snapshot in snaps): (error, start, sid, snapshot); without a
        token (None, 0, None, None)."""
        tok = qs_first(req.query, "pageToken")
        if not tok:
            return None, 0, None, None
        try:
            sid, _, off = base64.urlsafe_b64decode(tok + "==").decode().partition(":")
            start = int(off)
        except Exception:
            return google_error(400, "Invalid pageToken", "invalid"), 0, None, None
        snap = snaps.get(sid)
        if snap is None:
            return google_error(400, "Invalid pageToken", "invalid"), 0, None, None
        return None, start, sid, snap

    @staticmethod
    def gmail_keep_snapshot(snaps, snap):
        """Keep a list's snapshot for its next pages (the 64 newest
        kept): its sid."""
        sid = rand_token(9)
        snaps[sid] = snap
        while len(snaps) > 64:
            snaps.pop(next(iter(snaps)))
        return sid

    @staticmethod
    def gmail_matching(box, inc, labels, pred):
        """(id, message) of box, newest first, that a list with these
        arguments returns: SPAM and TRASH hidden unless inc or asked for
        by labels. Call with box.lock held."""
        hide = not inc and not ("SPAM" in labels or "TRASH" in labels)
        for _, mid in box.order:
            m = box.msgs[mid]
            ls = m.labels
            if hide and ("SPAM" in ls or "TRASH" in ls):
                continue
            if labels and not all(l in ls for l in labels):
                continue
            if pred and not pred(m):
                continue
            yield mid, m

    def gmail_list_args(self, req, meta):
        """maxResults, q, labelIds and includeSpamTrash of messages.list
        and threads.list (the same parameters): (error, max, pred, labels,
        inc)."""
        q = req.query
        try:
            mx = int(qs_first(q, "maxResults", "100"))
        except ValueError:
            return google_error(400, "Invalid value for maxResults", "invalid"), 0, None, [], False
        if mx < 1:
            mx = 100
        mx = min(mx, 500)
        query = qs_first(q, "q", "") or ""
        if query and meta:
            return (google_error(403, "Metadata scope does not support 'q' parameter",
                                 "forbidden"), 0, None, [], False)
        labels = [l for l in q.get("labelIds", []) if l]
        inc = (qs_first(q, "includeSpamTrash", "false") or "false").lower() == "true"
        try:
            pred = self.gmail_query(query)
        except ValueError as e:
            return google_error(400, "Invalid query: %s" % e, "invalidArgument"), 0, None, [], False
        return None, mx, pred, labels, inc

    def gmail_threads_list(self, req, box, meta):
        """users.threads.list: the threads holding a message that matches
        (q, labelIds, SPAM and TRASH hidden unless includeSpamTrash or
        asked for by labelIds), newest first by their newest matching
        message; each {id, snippet, historyId}, no messages [G-threads-list]."""
        err, mx, pred, labels, inc = self.gmail_list_args(req, meta)
        if err:
            return err
        err, start, sid, snap = self.gmail_page_snapshot(req, self.thread_snaps)
        if err:
            return err
        with box.lock:
            if snap is None:
                # each thread once, where its newest matching message stands
                snap = list(dict.fromkeys(
                    m.thread for _, m in self.gmail_matching(box, inc, labels, pred)))
                sid = self.gmail_keep_snapshot(self.thread_snaps, snap)
            idx = box.thread_index()
            out = []
            # threads deleted since the first page are skipped
            for tid in snap[start:start + mx]:
                ids = idx.get(tid)
                if ids:
                    last = box.msgs[ids[-1]]
                    out.append({"id": tid, "snippet": spec_snippet(spec_of(last)),
                                "historyId": str(max(box.msgs[i].hid for i in ids))})
        total = len(snap)
        body = {}
        if out:
            body["threads"] = out
        if start + mx < total:
            body["nextPageToken"] = b64u(("%s:%d" % (sid, start + mx)).encode())
        body["resultSizeEstimate"] = total
        req.ctx["count"] = len(out)
        return json_resp(200, body, pretty=True)

    def gmail_thread_get(self, req, box, tid, meta):
        """users.threads.get: {id, snippet, historyId, messages}, the
        messages oldest first, each as messages.get gives it in that format
        (labelIds its own: SPAM, TRASH and DRAFT messages included)
        [G-threads-get, G-thread]."""
        fmt = (qs_first(req.query, "format", "full") or "full").lower()
        req.ctx["format"] = fmt
        if fmt not in ("minimal", "metadata", "full"):
            return google_error(400, "Invalid value at 'format'", "invalidArgument")
        if fmt == "full":
            req.ctx["body_requested"] = True
            if meta:
                return google_error(403, "Metadata scope doesn't allow format FULL", "forbidden")
        hdrs = tuple(req.query.get("metadataHeaders", [])) if fmt == "metadata" else ()
        with box.lock:
            ids = box.thread_index().get(tid)
            if not ids:
                if not re.fullmatch(r"[0-9a-fA-F]{1,20}", tid):
                    return google_error(400, "Invalid id value", "invalidArgument")
                return google_error(404, "Requested entity was not found.", "notFound")
            msgs = [box.msgs[i] for i in ids]
            parts = [self.gmail_msg_json(box, m, fmt, hdrs) for m in msgs]
            e = functools.partial(json.dumps, ensure_ascii=False)
            head = '{"id":%s,"snippet":%s,"historyId":%s,"messages":[' % (
                e(tid), e(spec_snippet(spec_of(msgs[-1]))),
                e(str(max(m.hid for m in msgs))))
        req.ctx["count"] = len(parts)
        if fmt == "full":
            req.ctx["body_returned"] = True
        body = b"".join((head.encode(), b",".join(parts), b"]}"))
        return Resp(200, body, [("Content-Type", "application/json; charset=UTF-8")])

    PST = datetime.timezone(datetime.timedelta(hours=-8))

    def gmail_date(self, v):
        if re.fullmatch(r"\d+", v):
            return int(v) * 1000
        mo = re.fullmatch(r"(\d{4})[/-](\d{1,2})[/-](\d{1,2})", v)
        if not mo:
            raise ValueError("bad date %s" % v)
        d = datetime.datetime(int(mo.group(1)), int(mo.group(2)), int(mo.group(3)),
                              tzinfo=self.PST)
        return int(d.timestamp() * 1000)

    def gmail_query(self, query):
        if not query.strip():
            return None
        preds = []
        for term in re.findall(r'-?\w+:"[^"]*"|-?\S+', query):
            neg = term.startswith("-")
            t = term[1:] if neg else term
            k, _, v = t.partition(":")
            k = k.lower()
            v = v.strip('"')
            if not _:
                word = t.lower()
                p = (lambda w: lambda m: w in m.spec.body.lower() or w in m.spec.subject.lower())(word)
            elif k == "has" and v == "attachment":
                p = lambda m: att_flag(m.spec)
            elif k in ("after", "newer"):
                ts = self.gmail_date(v)
                p = (lambda ts: lambda m: m.internal >= ts)(ts)
            elif k in ("before", "older"):
                ts = self.gmail_date(v)
                p = (lambda ts: lambda m: m.internal < ts)(ts)
            elif k in ("in", "label"):
                lab = {"inbox": "INBOX", "sent": "SENT", "drafts": "DRAFT", "draft": "DRAFT",
                       "spam": "SPAM", "trash": "TRASH", "chats": "CHAT", "chat": "CHAT"
                       }.get(v.lower(), v.upper())
                if v.lower() == "anywhere":
                    p = lambda m: True
                else:
                    p = (lambda lab: lambda m: lab in m.labels)(lab)
            elif k == "is":
                lab = {"unread": "UNREAD", "starred": "STARRED", "important": "IMPORTANT"}.get(v.lower())
                if lab is None:
                    raise ValueError("is:%s" % v)
                p = (lambda lab: lambda m: lab in m.labels)(lab)
            elif k in ("from", "to", "cc", "subject"):
                hv = v.lower()
                p = (lambda k, hv: lambda m: hv in m.spec.header(k).lower())(k, hv)
            elif k == "rfc822msgid":
                p = (lambda v: lambda m: (m.spec.message_id or "").strip("<>") == v.strip("<>"))(v)
            else:
                raise ValueError("unsupported operator %s" % k)
            preds.append((neg, p))
        return lambda m: all(p(m) != neg for neg, p in preds)

    _HDR_KEYS = {}

    @classmethod
    def hdr_key(cls, hdrs):
        """The requested metadataHeaders as the answer depends on them: the
        set of names, lowercased (a sorted tuple)."""
        k = cls._HDR_KEYS.get(hdrs)
        if k is None:
            k = tuple(sorted({h.lower() for h in hdrs}))
            if len(cls._HDR_KEYS) >= 1024:
                cls._HDR_KEYS.clear()
            cls._HDR_KEYS[hdrs] = k
        return k

    def gmail_msg_json(self, box, m, fmt, hdrs):
        hk = self.hdr_key(hdrs) if hdrs else ()
        labels = tuple(m.labels)
        key = (fmt, hk, m.hid, labels)
        c = m.cache.get(key)
        if c is not None:
            return c
        s = spec_of(m)
        body = None
        if fmt == "metadata":
            body = self.gmail_meta_fast(m, s, hk, labels)
        if body is None:
            body = self.gmail_msg_dumps(m, s, fmt, hdrs)
        self.cache_put(m, key, body, len(body))
        return body

    @staticmethod
    def gmail_meta_fast(m, s, hk, labels):
        """The format=metadata answer, byte for byte what gmail_msg_dumps
        makes, put together from the strings' JSON forms; None when a field
        is not a plain string (then json.dumps decides)."""
        try:
            allh = s.headers()
            if hk:
                sel = [kv for kv in allh if kv[0].lower() in hk]
            else:
                sel = allh
            e = _jenc
            return ('{"id":%s,"threadId":%s,"labelIds":[%s],"snippet":%s,'
                    '"payload":{"mimeType":%s,"headers":[%s]},"sizeEstimate":%d,'
                    '"historyId":%s,"internalDate":%s}' % (
                        e(m.id), e(m.thread), ",".join([e(x) for x in labels]),
                        e(spec_snippet(s)), e(s.mime),
                        ",".join(['{"name":%s,"value":%s}' % (e(k), e(v)) for k, v in sel]),
                        s.size(), e(str(m.hid)), e(str(m.internal)))).encode()
        except TypeError:
            return None

    def cache_put(self, m, key, val, nbytes):
        """Keep a serialised form on the message.  Memory is bounded: a
        FIFO of (message, bytes) over every mailbox; past CACHE_BYTES the
        oldest messages' caches are dropped (a message is in the FIFO once
        per entry it got, so live entries never outnumber the records)."""
        if len(m.cache) > 8:
            m.cache.clear()
        m.cache[key] = val
        with self.cache_lock:
            self.cache_fifo.append((m, nbytes))
            self.cache_bytes += nbytes
            while self.cache_bytes > self.CACHE_BYTES:
                old, n = self.cache_fifo.popleft()
                self.cache_bytes -= n
                old.cache.clear()

    def gmail_msg_dumps(self, m, s, fmt, hdrs):
        d = {"id": m.id, "threadId": m.thread, "labelIds": list(m.labels),
             "snippet": spec_snippet(s)}
        if fmt == "metadata":
            allh = s.headers()
            if hdrs:
                want = {h.lower() for h in hdrs}
                sel = [{"name": k, "value": v} for k, v in allh if k.lower() in want]
            else:
                sel = [{"name": k, "value": v} for k, v in allh]
            d["payload"] = {"mimeType": s.mime, "headers": sel}
        elif fmt == "full":
            parts = [{"partId": "0", "mimeType": "text/plain", "filename": "",
                      "headers": [{"name": "Content-Type", "value": 'text/plain; charset="UTF-8"'}],
                      "body": {"size": len(s.body.encode()),
                               "data": b64u(s.body.encode())}}]
            for i, nm in enumerate(s.att_names if s.att else []):
                parts.append({"partId": str(i + 1), "mimeType": "application/pdf",
                              "filename": nm,
                              "headers": [{"name": "Content-Disposition",
                                           "value": 'attachment; filename="%s"' % nm}],
                              "body": {"attachmentId": "ANGjdJ" + b64u(hashlib.sha256(
                                  (m.id + nm).encode()).digest()), "size": 6000}})
            d["payload"] = {"partId": "", "mimeType": s.mime, "filename": "",
                            "headers": [{"name": k, "value": v} for k, v in s.headers()],
                            "body": {"size": 0}, "parts": parts}
        d["sizeEstimate"] = s.size()
        if fmt == "raw":
            d["raw"] = b64u(s.rfc822())
        d["historyId"] = str(m.hid)
        d["internalDate"] = str(m.internal)
        # compact (C encoder); whitespace is no part of the API
        return json.dumps(d, separators=(",", ":"), ensure_ascii=False).encode()

    def gmail_get(self, req, box, mid, meta):
        fmt = (qs_first(req.query, "format", "full") or "full").lower()
        req.ctx["format"] = fmt
        if fmt not in ("minimal", "metadata", "full", "raw"):
            return google_error(400, "Invalid value at 'format'", "invalidArgument")
        if fmt in ("full", "raw"):
            req.ctx["body_requested"] = True
            if meta:
                return google_error(403, "Metadata scope doesn't allow format %s" % fmt.upper(),
                                    "forbidden")
        hdrs = tuple(req.query.get("metadataHeaders", [])) if fmt == "metadata" else ()
        with box.lock:
            m = box.msgs.get(mid)
            if m is None:
                if not re.fullmatch(r"[0-9a-fA-F]{1,20}", mid):
                    return google_error(400, "Invalid id value", "invalidArgument")
                return google_error(404, "Requested entity was not found.", "notFound")
            body = self.gmail_msg_json(box, m, fmt, hdrs)
        if fmt in ("full", "raw"):
            req.ctx["body_returned"] = True
        return Resp(200, body, [("Content-Type", "application/json; charset=UTF-8")])

    def gmail_history(self, req, box):
        q = req.query
        sh = qs_first(q, "startHistoryId")
        if not sh or not sh.isdigit():
            return google_error(400, "Invalid startHistoryId" if sh else
                                "Missing required field: startHistoryId", "invalidArgument")
        sh = int(sh)
        f = self.take_fault(req, kinds=("history404",))
        if f is not None or sh < box.min_history:
            req.ctx["history"] = "expired"
            if f is not None:
                req.ctx["fault"] = "history404"
            return google_error(404, "Requested entity was not found.", "notFound")
        # historyTypes (repeatable) takes the HistoryType enum, singular:
        # messageAdded, messageDeleted, labelAdded, labelRemoved
        types = set()
        for i, t in enumerate(q.get("historyTypes", [])):
            kind = HISTORY_TYPES.get(t)
            if kind is None:
                return google_error(
                    400, "Invalid value at 'history_types[%d]' (type.googleapis.com/"
                    "google.apps.gmail.v1.ListHistoryRequest.HistoryType), \"%s\"" % (i, t),
                    "invalidArgument")
            types.add(kind)
        label = qs_first(q, "labelId")
        try:
            mx = min(max(int(qs_first(q, "maxResults", "100")), 1), 500)
        except ValueError:
            return google_error(400, "Invalid maxResults", "invalid")
        start = 0
        tok = qs_first(q, "pageToken")
        if tok:
            try:
                start = int(base64.urlsafe_b64decode(tok + "==").decode().split(":")[0])
            except Exception:
                return google_error(400, "Invalid pageToken", "invalid")
        out = []
        with box.lock:
            i = bisect.bisect_right(box.history, (sh, "\uffff"))
            recs = box.history[i:]
            sel = []
            for hid, kind, mid, labels in recs:
                if types and kind not in types:
                    continue
                if label:
                    cur = box.msgs.get(mid)
                    ls = set(labels) | (set(cur.labels) if cur else set())
                    if label not in ls:
                        continue
                sel.append((hid, kind, mid, labels))
            page = sel[start:start + mx]
            for hid, kind, mid, labels in page:
                cur = box.msgs.get(mid)
                thread = cur.thread if cur else mid
                mref = {"id": mid, "threadId": thread}
                full = dict(mref, labelIds=list(cur.labels if cur else labels))
                rec = {"id": str(hid), "messages": [mref]}
                if kind == "messageAdded":
                    rec["messagesAdded"] = [{"message": full}]
                elif kind == "messageDeleted":
                    rec["messagesDeleted"] = [{"message": full}]
                elif kind == "labelsAdded":
                    rec["labelsAdded"] = [{"message": full, "labelIds": list(labels)}]
                else:
                    rec["labelsRemoved"] = [{"message": full, "labelIds": list(labels)}]
                out.append(rec)
            body = {}
            if out:
                body["history"] = out
            if start + len(page) < len(sel):
                body["nextPageToken"] = b64u(("%d:%s" % (start + len(page), rand_token(6))).encode())
            body["historyId"] = str(box.history_id)
        req.ctx["count"] = len(out)
        return json_resp(200, body, pretty=True)

    # ------------------------------------------------------------ Gmail batch
    def gmail_batch(self, req):
        ct = req.headers.get("content-type", "")
        mo = RE_BOUNDARY.search(ct)
        if "multipart/mixed" not in ct.lower() or not mo:
            return google_error(400, "Failed to parse batch request, error: Content-Type must be "
                                "multipart/mixed with a boundary.", "badRequest")
        boundary = mo.group(1).encode()
        raw = req.body
        chunks = raw.split(b"--" + boundary)
        parts = []
        for ch in chunks[1:]:
            if ch.startswith(b"--"):
                break
            ch = ch.lstrip(b"\r\n") if ch.startswith((b"\r\n", b"\n")) else ch
            parts.append(ch)
        if not parts:
            return google_error(400, "Failed to parse batch request, error: 0 items. "
                                "Received batch body: (0) bytes", "badRequest")
        if len(parts) > 100:
            return google_error(400, "Too many requests in batch.", "badRequest")
        outer_auth = req.headers.get("authorization")
        # The batch is one request in flight for the user's concurrency limit
        # (its parts are not counted: see README).
        conc = self.config["gmail_concurrency"]
        key = "g:" + req.ctx["mailbox"] if conc and "mailbox" in req.ctx else None
        if key is not None:
            with self.lock:
                if self.inflight[key] >= conc:
                    req.ctx["quota"] = "concurrency"
                    return gmail_concurrency_error()
                self.inflight[key] += 1
        try:
            return self.gmail_batch_parts(req, parts, outer_auth)
        finally:
            if key is not None:
                with self.lock:
                    self.inflight[key] -= 1

    def gmail_batch_parts(self, req, parts, outer_auth):
        self.delay(req)
        rb = "batch_" + rand_token(12)
        out = []
        bid = self.next_batch_id()
        req.ctx["batch_id"] = bid
        req.ctx["parts"] = len(parts)
        escalate = None
        for p in parts:
            fm = RE_PART_FAST.match(p)
            if fm is not None:
                # the usual part, read as the general parse below reads it
                cid, method, url = fm.group(1, 2, 3)
                cid, method, url = cid.decode(), method.decode(), url.decode()
                ih, ibody = {}, b""
            else:
                hdr, _, rest = self.split_head(p)
                ph = self.parse_headers(hdr)
                cid = ph.get("content-id")
                ihead, _, ibody = self.split_head(rest)
                lines = ihead.decode("utf-8", "replace").splitlines()
                reqline = lines[0].strip() if lines else ""
                ih = self.parse_headers("\n".join(lines[1:]).encode())
                rm = RE_PART_REQLINE.match(reqline)
                if rm:
                    method, url = rm.group(1).upper(), rm.group(2)
                    ibody = ibody.rstrip(b"\r\n")
                else:
                    method = None
            if method is None:
                resp = google_error(400, "Failed to parse batch request part", "badRequest")
            else:
                if url.startswith("http"):
                    url = "/" + url.split("/", 3)[3]
                path, _, rawq = url.partition("?")
                if "authorization" not in ih and outer_auth:
                    ih["authorization"] = outer_auth
                ireq = Req(method, urllib.parse.unquote(path) if "%" in path else path,
                           rawq, ih, ibody, req.base, inner=True, parent=bid)
                resp = self.handle(ireq)
                if resp.action:
                    escalate = resp.action
            out.append((cid, resp))
        bf = req.ctx.pop("_batch_fault", None)
        if bf is not None:
            out = self.batch_fault(bf["mode"], out)
            req.ctx["batch_fault"] = bf["mode"]
        out = [self.batch_part(resp, cid) for cid, resp in out]
        body = b"".join(b"--" + rb.encode() + b"\r\n" + x for x in out) + \
            b"--" + rb.encode() + b"--\r\n"
        r = Resp(200, body, [("Content-Type", "multipart/mixed; boundary=" + rb)])
        if escalate:
            r.action = escalate
        return r

    @staticmethod
    def batch_fault(mode, out):
        """A Gmail batch reply gone wrong: [(request Content-ID, Resp)]."""
        out = list(out)
        if mode == "dup_cid" and len(out) >= 2:
            out[1] = (out[0][0], out[1][1])
        elif mode == "missing" and out:
            out.pop()
        elif mode == "unknown_cid" and out:
            out[-1] = ("emu-unknown-" + rand_token(6), out[-1][1])
        elif mode == "extra" and out:
            out.append(("emu-extra-" + rand_token(6), out[0][1]))
        elif mode == "reorder":
            out.reverse()
        return out

    @staticmethod
    def graph_batch_fault(mode, items):
        """A Graph $batch reply gone wrong: [(id, item JSON bytes)]."""
        def with_id(b, new):
            return b.replace(b'"id":' + json.dumps(b_id(b)).encode(),
                             b'"id":' + json.dumps(new).encode(), 1)

        def b_id(b):
            return json.loads(b[:b.index(b',"status"')] + b"}")["id"]
        items = list(items)
        if mode == "dup_cid" and len(items) >= 2:
            items[1] = (items[0][0], with_id(items[1][1], items[0][0]))
        elif mode == "missing" and items:
            items.pop()
        elif mode == "unknown_cid" and items:
            new = "emu-unknown-" + rand_token(6)
            items[-1] = (new, with_id(items[-1][1], new))
        elif mode == "extra" and items:
            new = "emu-extra-" + rand_token(6)
            items.append((new, with_id(items[0][1], new)))
        elif mode == "reorder":
            items.reverse()
        return items

    @staticmethod
    def split_head(b):
        for sep in (b"\r\n\r\n", b"\n\n"):
            i = b.find(sep)
            if i >= 0:
                j = b.find(b"\n\n")
                if sep == b"\r\n\r\n" and 0 <= j < i:
                    continue
                return b[:i], sep, b[i + len(sep):]
        return b, b"", b""

    @staticmethod
    def parse_headers(b):
        h = {}
        for line in b.decode("utf-8", "replace").splitlines():
            k, sep, v = line.partition(":")
            if sep:
                h[k.strip().lower()] = v.strip()
        return h

    _PART_HEADS = {}

    @classmethod
    def batch_part(cls, resp, cid):
        if cid:
            c = cid.strip()
            c = c[1:-1] if c.startswith("<") and c.endswith(">") else c
            head = ("Content-Type: application/http\r\nContent-ID: <response-%s>\r\n\r\n"
                    % c).encode()
        else:
            head = b"Content-Type: application/http\r\n\r\n"
        # the inner status line and headers but Content-Length: the same
        # for most parts, made once
        key = (resp.status, tuple(resp.headers))
        ih = cls._PART_HEADS.get(key)
        if ih is None:
            ih = ["HTTP/1.1 %d %s" % (resp.status, REASONS.get(resp.status, "Unknown"))]
            for k, v in resp.headers:
                ih.append("%s: %s" % (k, v))
            ih.append("Vary: Origin")
            ih.append("Vary: X-Origin")
            ih.append("Vary: Referer")
            ih = ("\r\n".join(ih) + "\r\n").encode()
            if len(cls._PART_HEADS) >= 256:
                cls._PART_HEADS.clear()
            cls._PART_HEADS[key] = ih
        return b"".join((head, ih, b"Content-Length: %d\r\n\r\n" % len(resp.body),
                         resp.body, b"\r\n"))

    # ------------------------------------------------------------ Graph
    @staticmethod
    def gq(req, name):
        v = qs_first(req.query, "$" + name)
        if v is None:
            v = qs_first(req.query, name)
        return v

    @staticmethod
    def prefer(req):
        p = req.headers.get("prefer", "")
        out = {}
        for item in p.split(","):
            k, _, v = item.strip().partition("=")
            if k:
                out[k.strip().lower()] = v.strip().strip('"')
        return out

    def graph_target(self, req, g):
        """The mailbox a Graph request is for: (box, None) or (None, error).
        /me is the signed-in user's; /users/{id|upn} another's only with
        Mail.Read.Shared and the owner's permission (a shared mailbox's
        members): else 403 ErrorAccessDenied, as Graph answers."""
        own = self.find_box(g["mailbox"])
        mo = RE_GRAPH_USER.match(req.path)
        req.ctx["_upath"] = "/v1.0/me"
        if not mo or not mo.group(2):
            return own, None
        who = urllib.parse.unquote(mo.group(2)).strip("'()").lower()
        req.ctx["_upath"] = "/v1.0/users/" + mo.group(2)
        if who in (own.user_id.lower(), own.upn.lower(), (own.mail or "").lower(),
                   own.address.lower()):
            return own, None
        box = self.find_box(who) or next((b for b in self.mailboxes
                                          if b.user_id.lower() == who), None)
        if box is None or box.provider != "outlook":
            return None, graph_error(404, "ErrorInvalidUser",
                                     "The requested user '%s' is invalid." % who)
        scopes = set(g["scopes"])
        if not scopes & {"mail.read.shared", "mail.readwrite.shared", ".default"} or \
                own.address.lower() not in box.members:
            req.ctx["shared"] = "denied"
            return None, graph_error(403, "ErrorAccessDenied",
                                     "Access is denied. Check credentials and try again.")
        req.ctx["shared"] = box.address
        return box, None

    def graph(self, req):
        g, err = self.bearer(req, "microsoft")
        if err:
            return err
        box, err = self.graph_target(req, g)
        if err:
            return err
        conc = self.config["graph_concurrency"] if self.config["quotas"] else 0
        key = "m:" + box.address
        if conc and not req.inner:
            with self.lock:
                if self.inflight[key] >= conc:
                    req.ctx["quota"] = "concurrency"
                    return graph_error(429, "ApplicationThrottled",
                                       "Application is over its MailboxConcurrency limit.",
                                       headers=[("Retry-After", str(self.config["graph_retry_after"]))])
                self.inflight[key] += 1
        try:
            self.delay(req)
            err = self.graph_charge(req, box)
            if err:
                return err
            return self.graph_route(req, g, box)
        finally:
            if conc and not req.inner:
                with self.lock:
                    self.inflight[key] -= 1

    def graph_route(self, req, g, box):
        path = req.path
        mo = RE_GRAPH_USER.match(path)
        if not mo:
            return graph_error(400, "BadRequest", "Resource not found for the segment '%s'."
                               % path.split("/")[-1])
        rest = mo.group(3) or ""
        segs = []
        for s in rest.split("/")[1:]:
            m2 = RE_GRAPH_SEG.match(s)
            if m2:
                segs += [m2.group(1).lower(), urllib.parse.unquote(m2.group(2))]
            elif s.lower() in ("delta", "delta()", "microsoft.graph.delta()", "microsoft.graph.delta"):
                segs.append("delta")
            else:
                segs.append(s)
        low = [s.lower() for s in segs]
        scopes = set(g["scopes"])
        mail_ok = scopes & {"mail.read", "mail.readbasic", "mail.readwrite", ".default"}
        basic = "mail.readbasic" in scopes and not scopes & {"mail.read", "mail.readwrite", ".default"}
        if req.method != "GET":
            return graph_error(405, "ErrorInvalidRequest", "The OData request is not supported.")
        if not segs:
            if not scopes & {"user.read", "user.readbasic.all", ".default", "openid", "profile"}:
                return graph_error(403, "Authorization_RequestDenied",
                                   "Insufficient privileges to complete the operation.")
            d = {"@odata.context": req.base + "/v1.0/$metadata#users/$entity",
                 "businessPhones": [], "displayName": box.name,
                 "givenName": box.name.split()[0] if box.name else None,
                 "jobTitle": None, "mail": box.mail, "mobilePhone": None,
                 "officeLocation": None, "preferredLanguage": "en-US",
                 "surname": box.name.split()[-1] if box.name and " " in box.name else None,
                 "userPrincipalName": box.upn, "id": box.user_id}
            sel = self.gq(req, "select")
            if sel:
                keep = {s.strip().lower() for s in sel.split(",")}
                d = {k: v for k, v in d.items() if k.startswith("@") or k.lower() in keep or k == "id"}
            return json_resp(200, d)
        if not mail_ok:
            return graph_error(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        if low[0] == "mailfolders":
            if len(segs) == 1:
                return self.graph_folders(req, box, box.root_id)
            if len(segs) == 2 and low[1] == "delta":
                return self.graph_folder_delta(req, box)
            if low[1] in ("msgfolderroot", "searchfolders") or segs[1] in (box.root_id, box.search_root):
                root = box.root_id if low[1] == "msgfolderroot" or segs[1] == box.root_id else box.search_root
                if len(segs) == 2:
                    return json_resp(200, self.root_json(req, box, root))
                if len(segs) == 3 and low[2] == "childfolders":
                    return self.graph_folders(req, box, root)
                return graph_error(400, "ErrorInvalidRequest", "The OData request is not supported.")
            fid = box.resolve_folder(segs[1])
            if fid is None:
                return graph_error(404, "ErrorItemNotFound", "The specified object was not found in the store.")
            if len(segs) == 2:
                return self.graph_folder(req, box, fid)
            if low[2] == "childfolders" and len(segs) == 3:
                return self.graph_folders(req, box, fid)
            if low[2] == "messages" and len(segs) == 3:
                return self.graph_list(req, box, fid, basic)
            if low[2] == "messages" and len(segs) == 4 and low[3] == "delta":
                return self.graph_delta(req, box, fid, basic)
            if low[2] == "messages" and len(segs) == 4:
                return self.graph_get(req, box, segs[3], basic)
        if low[0] == "messages":
            if len(segs) == 1:
                return self.graph_list(req, box, None, basic)
            if len(segs) == 2 and low[1] == "delta":
                return graph_error(400, "ErrorInvalidRequest",
                                   "Change tracking is not supported against 'microsoft.graph.message'.")
            if len(segs) == 2:
                return self.graph_get(req, box, segs[1], basic)
        return graph_error(400, "BadRequest", "Resource not found for the segment '%s'." % segs[-1])

    def folder_json(self, box, fid):
        f = box.folders[fid]
        total = sum(1 for m in box.omsgs.values() if m.folder == fid)
        unread = sum(1 for m in box.omsgs.values() if m.folder == fid and not m.is_read)
        d = {"id": fid, "displayName": f["displayName"], "parentFolderId": f["parentFolderId"],
             "childFolderCount": len(box.children(fid)), "unreadItemCount": unread,
             "totalItemCount": total, "sizeInBytes": total * 4096, "isHidden": f["isHidden"]}
        if f.get("search"):
            # mailSearchFolder derives from mailFolder [Graph-folder]
            d = dict({"@odata.type": "#microsoft.graph.mailSearchFolder"}, **d,
                     isSupported=True, includeNestedFolders=True, filterQuery="")
        return d

    def root_json(self, req, box, root):
        d = {"@odata.context": req.base + "/v1.0/$metadata#users('%s')/mailFolders/$entity" % box.user_id,
             "id": root, "displayName": "Top of Information Store" if root == box.root_id else "Finder",
             "parentFolderId": folder_id_parent(box, root),
             "childFolderCount": len(box.children(root)), "unreadItemCount": 0,
             "totalItemCount": 0, "sizeInBytes": 0, "isHidden": False}
        sel = self.gq(req, "select")
        if sel:
            keep = {x.strip().lower() for x in sel.split(",")} | {"id"}
            d = {k: v for k, v in d.items() if k.startswith("@") or k.lower() in keep}
        return d

    def graph_folders(self, req, box, parent):
        """A folder's children (the mailbox's top folders for /mailFolders),
        never grandchildren [Graph-folders-list, Graph-childfolders]."""
        with box.lock:
            vals = [self.folder_json(box, fid) for fid in box.children(parent)
                    if not box.folders[fid]["isHidden"] or
                    (self.gq(req, "includeHiddenFolders") or "").lower() == "true"]
        top = self.gq(req, "top")
        n = int(top) if top and top.isdigit() else 10
        skip = int(self.gq(req, "skip") or 0)
        page = vals[skip:skip + n]
        d = {"@odata.context": req.base + "/v1.0/$metadata#users('%s')/mailFolders" % box.user_id,
             "value": page}
        if skip + n < len(vals):
            d["@odata.nextLink"] = req.base + req.path + "?%24top=" + str(n) + "&%24skip=" + str(skip + n)
        return json_resp(200, d)

    def graph_folder(self, req, box, fid):
        with box.lock:
            d = self.folder_json(box, fid)
        sel = self.gq(req, "select")
        if sel:
            keep = {x.strip().lower() for x in sel.split(",")} | {"id"}
            d = {k: v for k, v in d.items() if k.startswith("@") or k.lower() in keep}
        d = dict({"@odata.context": req.base + "/v1.0/$metadata#users('%s')/mailFolders/$entity" % box.user_id}, **d)
        return json_resp(200, d)

    def graph_folder_delta(self, req, box):
        """mailFolders/delta [Graph-folder-delta]: a first round lists every
        folder of the mailbox's folder tree (msgfolderroot's descendants,
        nested ones included, flat, each with its parentFolderId; search
        folders live outside it), later rounds the folders added, changed
        (renamed, moved) since, and removed ones as @removed."""
        pref = self.prefer(req)
        try:
            n = int(pref.get("odata.maxpagesize") or 10)
        except ValueError:
            n = 10
        n = min(max(n, 1), 1000)
        skiptok = self.gq(req, "skiptoken")
        deltatok = self.gq(req, "deltatoken")
        with box.lock:
            if skiptok or deltatok:
                st = self.delta_tokens.get(skiptok or deltatok)
                if st is None or st.get("expired") or st["mailbox"] != box.address or \
                        st.get("kind") != "folders":
                    req.ctx["delta"] = "expired"
                    return graph_error(410, self.config["delta_410_code"],
                                       "The sync state generation is not found.")
                if deltatok:
                    seen = []
                    for seq, fid in box.folder_changes:
                        if seq > st["seq"] and fid not in seen:
                            seen.append(fid)
                    state = {"kind": "folders", "mailbox": box.address, "snap": seen,
                             "pos": 0, "seq": box.folder_seq, "sel": st["sel"],
                             "round": "incremental"}
                else:
                    state = st
            else:
                sel = self.gq(req, "select")
                sel = [x.strip() for x in sel.split(",")] if sel else None
                snap = [fid for fid in box.folders if box.in_ipm(fid)]
                state = {"kind": "folders", "mailbox": box.address, "snap": snap,
                         "pos": 0, "seq": box.folder_seq, "sel": sel, "round": "initial"}
            req.ctx["round"] = state["round"]
            pos = state["pos"]
            items = []
            for fid in state["snap"][pos:pos + n]:
                if fid not in box.folders or not box.in_ipm(fid):
                    items.append({"id": fid, "@removed": {"reason": "deleted"}})
                    continue
                d = self.folder_json(box, fid)
                if state["sel"]:
                    keep = {x.lower() for x in state["sel"]} | {"id"}
                    d = {k: v for k, v in d.items() if k.startswith("@") or k.lower() in keep}
                items.append(d)
            url = req.base + req.ctx.get("_upath", "/v1.0/me") + "/mailFolders/delta"
            out = {"@odata.context": req.base + "/v1.0/$metadata#Collection(mailFolder)",
                   "value": items}
            if pos + n < len(state["snap"]):
                nt = "s" + rand_token(24)
                self.delta_tokens[nt] = dict(state, pos=pos + n)
                out["@odata.nextLink"] = url + "?$skiptoken=" + nt
            else:
                dt = "d" + rand_token(24)
                self.delta_tokens[dt] = {"kind": "folders", "mailbox": box.address,
                                         "seq": state["seq"], "sel": state["sel"]}
                out["@odata.deltaLink"] = url + "?$deltatoken=" + dt
        req.ctx["count"] = len(items)
        return json_resp(200, out)

    @staticmethod
    def parse_select(sel):
        if not sel:
            return None, None
        fields = []
        for s in sel.split(","):
            s = s.strip()
            if not s:
                continue
            c = GRAPH_FIELD_CANON.get(s.lower())
            if c is None:
                return None, s
            if c != "id" and c not in fields:
                fields.append(c)
        return tuple(fields), None

    def graph_msg(self, box, m, fields, immutable, basic, delta):
        key = (fields, immutable, basic, delta, m.version, m.folder)
        c = m.cache.get(key)
        if c is not None:
            return c
        s = spec_of(m)
        mid = m.imm if immutable else m.rest
        etag = graph_etag(m)
        is_draft = box.folders[m.folder]["wk"] == "drafts"
        d = {}
        if delta:
            d["@odata.type"] = "#microsoft.graph.message"
        d["@odata.etag"] = etag
        d["id"] = mid
        gf = GRAPH_FIELD_VALUE
        for f in (fields if fields is not None else GRAPH_DEFAULT_FIELDS):
            if f == "internetMessageHeaders":
                if not basic:
                    d[f] = [{"name": k, "value": v} for k, v in s.headers()]
            elif f == "uniqueBody":
                if not basic:
                    d[f] = {"contentType": "text", "content": s.body}
            elif not (basic and f in ("body", "bodyPreview")):
                d[f] = gf[f](m, s, etag, is_draft)
        body = json.dumps(d, separators=(",", ":"), ensure_ascii=False).encode()
        has_body = "body" in d or "uniqueBody" in d
        self.cache_put(m, key, (body, has_body), len(body))
        return body, has_body

    def graph_sel(self, req):
        fields, bad = self.parse_select(self.gq(req, "select"))
        if bad:
            return None, graph_error(400, "RequestBroker--ParseUri",
                                     "Could not find a property named '%s' on type 'microsoft.graph.message'." % bad)
        req.ctx["select"] = ",".join(fields) if fields is not None else None
        return fields, None

    def parse_filter(self, flt, delta=False):
        """Returns (list of (field, op, value), first field) or raises ValueError."""
        conds = []
        for part in re.split(r"\s+and\s+", flt.strip(), flags=re.I):
            mo = re.match(r"^\(?\s*(\w+)\s+(ge|gt|le|lt|eq|ne)\s+(.+?)\s*\)?$", part.strip(), re.I)
            if not mo:
                raise ValueError(part)
            fld, op, val = mo.group(1), mo.group(2).lower(), mo.group(3).strip().strip("'")
            canon = {"receiveddatetime": "receivedDateTime", "sentdatetime": "sentDateTime",
                     "isdraft": "isDraft", "hasattachments": "hasAttachments",
                     "isread": "isRead"}.get(fld.lower())
            if canon is None:
                raise ValueError(fld)
            if delta and (canon != "receivedDateTime" or op not in ("ge", "gt")):
                raise ValueError("delta supports only receivedDateTime ge|gt")
            if canon.endswith("DateTime"):
                v = parse_iso(val)
            else:
                v = val.lower() == "true"
            conds.append((canon, op, v))
        return conds

    @staticmethod
    def match_filter(box, m, conds):
        for fld, op, v in conds:
            if fld == "receivedDateTime":
                x = m.received
            elif fld == "sentDateTime":
                x = m.spec.date_ms
            elif fld == "isDraft":
                x = box.folders[m.folder]["wk"] == "drafts"
            elif fld == "hasAttachments":
                x = bool(att_flag(m.spec))
            else:
                x = m.is_read
            if not {"ge": x >= v, "gt": x > v, "le": x <= v, "lt": x < v,
                    "eq": x == v, "ne": x != v}[op]:
                return False
        return True

    def graph_list(self, req, box, fid, basic):
        fields, err = self.graph_sel(req)
        if err:
            return err
        pref = self.prefer(req)
        immutable = pref.get("idtype", "").lower() == "immutableid"
        top = self.gq(req, "top")
        if top is not None:
            if not top.isdigit() or not 1 <= int(top) <= 1000:
                return graph_error(400, "ErrorInvalidParameter" if top.isdigit() else "BadRequest",
                                   "The value of the parameter 'Top' should be between 1 and 1000.")
            n = int(top)
        else:
            n = int(pref.get("odata.maxpagesize", "10") or 10)
            n = min(max(n, 1), 1000)
        skip = self.gq(req, "skip") or "0"
        if not skip.isdigit():
            return graph_error(400, "BadRequest", "Invalid $skip")
        skip = int(skip)
        flt = self.gq(req, "filter")
        order = (self.gq(req, "orderby") or "").strip()
        conds = []
        if flt:
            try:
                conds = self.parse_filter(flt)
            except ValueError as e:
                return graph_error(400, "ErrorInvalidUrlQueryFilter", "Invalid filter clause: %s" % e)
        desc = True
        if order:
            of, _, od = order.partition(" ")
            if of.lower() != "receiveddatetime":
                if of.lower() not in ("sentdatetime",):
                    return graph_error(400, "BadRequest", "Could not find a property named '%s'." % of)
            if conds and conds[0][0].lower() != of.lower():
                return graph_error(400, "InefficientFilter",
                                   "The restriction or sort order is too complex for this operation.")
            desc = od.strip().lower() != "asc"
        with box.lock:
            seq = box.oorder if desc else list(reversed(box.oorder))
            sel = []
            total = 0
            for _, imm in seq:
                m = box.omsgs[imm]
                if fid is not None and m.folder != fid:
                    continue
                if conds and not self.match_filter(box, m, conds):
                    continue
                if skip <= total < skip + n:
                    sel.append(m)
                total += 1
                if total > skip + n:
                    break
            items = [self.graph_msg(box, m, fields, immutable, basic, False) for m in sel]
        req.ctx["count"] = len(items)
        if any(hb for _, hb in items):
            req.ctx["body_returned"] = True
        ctxurl = req.base + "/v1.0/$metadata#users('%s')/messages" % box.user_id
        head = b'{"@odata.context":' + json.dumps(ctxurl).encode() + b',"value":['
        tail = b"]"
        if total > skip + n:
            params = [(k, v[0]) for k, v in req.query.items() if k.lstrip("$").lower() not in ("skip", "top")]
            params += [("$top", str(n)), ("$skip", str(skip + n))]
            link = req.base + req.path + "?" + urllib.parse.urlencode(params, quote_via=urllib.parse.quote)
            tail += b',"@odata.nextLink":' + json.dumps(link).encode()
        body = head + b",".join(b for b, _ in items) + tail + b"}"
        h = [("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")]
        if "odata.maxpagesize" in pref and top is None:
            h.append(("Preference-Applied", "odata.maxpagesize=%d" % n))
        return Resp(200, body, h)

    def graph_get(self, req, box, mid, basic):
        fields, err = self.graph_sel(req)
        if err:
            return err
        immutable = self.prefer(req).get("idtype", "").lower() == "immutableid"
        with box.lock:
            m = box.outlook_find(mid)
            if m is None:
                return graph_error(404, "ErrorItemNotFound", "The specified object was not found in the store.")
            b, hb = self.graph_msg(box, m, fields, immutable, basic, False)
        if hb:
            req.ctx["body_returned"] = True
        ctxurl = req.base + "/v1.0/$metadata#users('%s')/messages/$entity" % box.user_id
        return Resp(200, b'{"@odata.context":' + json.dumps(ctxurl).encode() + b"," + b[1:],
                    [("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")])

    def graph_delta(self, req, box, fid, basic):
        pref = self.prefer(req)
        immutable = pref.get("idtype", "").lower() == "immutableid"
        req.ctx["immutable"] = immutable
        try:
            n = int(pref.get("odata.maxpagesize") or self.gq(req, "top") or 10)
        except ValueError:
            n = 10
        n = min(max(n, 1), 1000)
        skiptok = self.gq(req, "skiptoken")
        deltatok = self.gq(req, "deltatoken")
        with box.lock:
            if skiptok or deltatok:
                tok = skiptok or deltatok
                st = self.delta_tokens.get(tok)
                f = self.take_fault(req, kinds=("delta410",))
                expired = st is None or st.get("expired") or st["mailbox"] != box.address or \
                    st.get("folder") != fid or (deltatok and st["seq"] < box.delta_min_seq)
                if f is not None or expired:
                    req.ctx["delta"] = "expired"
                    if f is not None:
                        req.ctx["fault"] = "delta410"
                    code = (f or {}).get("code") or self.config["delta_410_code"]
                    # the message text of SyncStateNotFound as observed
                    # (microsoft-graph-docs#2350, #2877)
                    g = box.change_seq + 3
                    msg = ("The sync state generation is not found; generation=%d;"
                           "[highest=%d][%d][%d][%d]." % (max(1, g - 9), g, g, g - 2, g - 1)
                           if code.lower() != "resyncrequired" else
                           "Resync required. Replace any local cached state with a full resync.")
                    return graph_error(410, code, msg)
                fields, conds = st["fields"], st["conds"]
                if deltatok:
                    # a new round: changes since st["seq"]
                    i = bisect.bisect_right(box.changes, (st["seq"], "\uffff", "\uffff"))
                    seen = {}
                    for seq, cf, imm in box.changes[i:]:
                        if cf == fid:
                            seen[imm] = seq
                    snap = [imm for imm, _ in sorted(seen.items(), key=lambda kv: kv[1])]
                    state = {"mailbox": box.address, "folder": fid, "fields": fields,
                             "conds": conds, "snap": snap, "pos": 0, "seq": box.change_seq,
                             "round": "incremental", "base": st["seq"]}
                else:
                    state = st
                req.ctx["round"] = state["round"]
            else:
                fields, err = self.graph_sel(req)
                if err:
                    return err
                flt = self.gq(req, "filter")
                conds = []
                if flt:
                    try:
                        conds = self.parse_filter(flt, delta=True)
                    except ValueError as e:
                        return graph_error(400, "ErrorInvalidUrlQueryFilter", "Invalid filter clause: %s" % e)
                order = re.sub(r"\s+", " ", (self.gq(req, "orderby") or "").strip()).lower()
                if order not in ("", "receiveddatetime desc"):
                    # message-delta: "The only supported $orderby
                    # expression is $orderby=receivedDateTime+desc"
                    return graph_error(400, "ErrorInvalidUrlQuery",
                                       "The only supported $orderby expression is receivedDateTime desc.")
                snap = [imm for _, imm in box.oorder if box.omsgs[imm].folder == fid and
                        (not conds or self.match_filter(box, box.omsgs[imm], conds))]
                req.ctx["orderby"] = order or None
                if not order:
                    # "If you do not include an $orderby expression, the
                    # return order is not guaranteed" [Graph-delta]: any
                    # order, here a shuffle (deterministic per folder)
                    random.Random("%s/%s/%d" % (self.args.seed, fid, box.change_seq)).shuffle(snap)
                state = {"mailbox": box.address, "folder": fid, "fields": fields, "conds": conds,
                         "snap": snap, "pos": 0, "seq": box.change_seq, "round": "initial"}
                req.ctx["round"] = "initial"
            pos = state["pos"]
            page = state["snap"][pos:pos + n]
            partial = self.config["graph_partial_updates"] and state["round"] == "incremental"
            items = []
            body_ret = False
            for imm in page:
                m = box.omsgs.get(imm)
                if m is None or m.folder != fid:
                    rid = imm if immutable or m is None else m.rest
                    if m is None and not immutable:
                        rid = "AAMkAD" + imm[36:]
                    items.append(json.dumps({"@odata.type": "#microsoft.graph.message", "id": rid,
                                             "@removed": {"reason": "deleted"}},
                                            separators=(",", ":")).encode())
                    continue
                if state["conds"] and state["round"] == "initial" and \
                        not self.match_filter(box, m, state["conds"]):
                    continue
                if partial and m.entered <= state.get("base", -1):
                    # in the folder since before this round's base: the
                    # earlier round delivered it, so this is an update, and
                    # Graph sends such items with few properties
                    items.append(json.dumps({
                        "@odata.type": "#microsoft.graph.message",
                        "@odata.etag": graph_etag(m), "id": m.imm if immutable else m.rest,
                        "isRead": m.is_read, "parentFolderId": m.folder},
                        separators=(",", ":")).encode())
                    continue
                b, hb = self.graph_msg(box, m, state["fields"], immutable, basic, True)
                body_ret = body_ret or hb
                items.append(b)
            folder_url = req.base + req.ctx.get("_upath", "/v1.0/me") + \
                "/mailFolders('%s')/messages/delta" % fid
            if pos + n < len(state["snap"]):
                nt = "s" + rand_token(24)
                self.delta_tokens[nt] = dict(state, pos=pos + n)
                link = ('"@odata.nextLink":' + json.dumps(folder_url + "?$skiptoken=" + nt)).encode()
            else:
                dt = "d" + rand_token(24)
                self.delta_tokens[dt] = {"mailbox": box.address, "folder": fid,
                                         "fields": state["fields"], "conds": state["conds"],
                                         "seq": state["seq"], "round": "incremental",
                                         "snap": [], "pos": 0}
                link = ('"@odata.deltaLink":' + json.dumps(folder_url + "?$deltatoken=" + dt)).encode()
            if len(self.delta_tokens) > 100000:
                for k in list(self.delta_tokens)[:20000]:
                    del self.delta_tokens[k]
        if body_ret:
            req.ctx["body_returned"] = True
        req.ctx["count"] = len(items)
        ctxurl = req.base + "/v1.0/$metadata#Collection(message)"
        body = b'{"@odata.context":' + json.dumps(ctxurl).encode() + b"," + link + \
            b',"value":[' + b",".join(items) + b"]}"
        h = [("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")]
        applied = ["odata.maxpagesize=%d" % n] if "odata.maxpagesize" in pref else []
        if immutable:
            applied.append('IdType="ImmutableId"')
        if applied:
            h.append(("Preference-Applied", ", ".join(applied)))
        return Resp(200, body, h)

    def graph_batch(self, req):
        if req.method != "POST":
            return graph_error(405, "BadRequest", "Method not allowed.")
        try:
            d = json.loads(req.body or b"{}")
            reqs = d["requests"]
            assert isinstance(reqs, list)
        except Exception:
            return graph_error(400, "BadRequest", "Invalid batch payload format.")
        if len(reqs) > 20:
            return graph_error(400, "BadRequest", "Number of requests in the batch exceeds the maximum of 20.")
        ids = [str(r.get("id")) for r in reqs]
        if len(set(x.lower() for x in ids)) != len(ids):
            return graph_error(400, "BadRequest", "Batch request ids must be unique.")
        g, err = self.bearer(req, "microsoft")
        if err:
            return err
        req.ctx["parts"] = len(reqs)
        bid = self.next_batch_id()
        req.ctx["batch_id"] = bid
        box = self.find_box(g["mailbox"])
        conc = self.config["graph_concurrency"] if self.config["quotas"] else 0
        key = "m:" + box.address
        # Graph "dispatches up to four individual requests from a batch to
        # the Outlook service simultaneously" (Microsoft Q&A 1660054): a
        # batch holds min(n, 4) of the mailbox's concurrency while it runs,
        # and of each wave of four, those past what other requests in
        # flight leave get the mailbox's concurrency 429 [Graph-throttle].
        wave = min(len(reqs), 4)
        room = wave
        if conc:
            with self.lock:
                room = max(0, min(wave, conc - self.inflight[key]))
                self.inflight[key] += room
        responses = []
        escalate = None
        try:
            self.delay(req)
            for k, r in enumerate(reqs):
                if conc and k % 4 >= room:
                    req.ctx["quota"] = "concurrency"
                    item = {"id": str(r.get("id")), "status": 429,
                            "headers": {"Retry-After": str(self.config["graph_retry_after"]),
                                        "Content-Type": "application/json"},
                            "body": {"error": {"code": "ApplicationThrottled",
                                               "message": "Application is over its MailboxConcurrency limit."}}}
                    responses.append((item["id"], json.dumps(item, separators=(",", ":")).encode()))
                    continue
                url = r.get("url", "")
                if url.startswith("http"):
                    url = "/" + url.split("/", 3)[3]
                    url = url[len("/v1.0"):] if url.startswith("/v1.0") else url
                if not url.startswith("/"):
                    url = "/" + url
                path, _, rawq = url.partition("?")
                h = {k.lower(): v for k, v in (r.get("headers") or {}).items()}
                h.setdefault("authorization", req.headers.get("authorization", ""))
                # Prefer applies to the request it comes with only
                # [Graph-immutable: "This header only applies to the
                # request it is included with"]: an outer one reaches no
                # inner request.
                body = json.dumps(r["body"]).encode() if "body" in r else b""
                ireq = Req((r.get("method") or "GET").upper(), "/v1.0" + urllib.parse.unquote(path),
                           rawq, h, body, req.base, inner=True, parent=bid)
                resp = self.handle(ireq)
                if resp.action:
                    escalate = resp.action
                hd = {k: v for k, v in resp.headers}
                item = {"id": str(r.get("id")), "status": resp.status, "headers": hd}
                if resp.extra and resp.extra.get("raw") and \
                        "json" in hd.get("Content-Type", "").lower():
                    # a raw fault's JSON goes in as its bytes, whatever they are
                    item["body"] = None
                    responses.append((item["id"], json.dumps(item, separators=(",", ":"))
                                      .encode()[:-5] + resp.body + b"}"))
                    continue
                try:
                    rb = json.loads(resp.body) if resp.body else None
                except ValueError:
                    # JSON batching: a body that is no JSON comes base64-encoded
                    rb = base64.b64encode(resp.body).decode()
                item["body"] = rb
                responses.append((item["id"], json.dumps(item, separators=(",", ":"),
                                                         ensure_ascii=False).encode()))
        finally:
            if conc:
                with self.lock:
                    self.inflight[key] -= room
        # "Responses to the batched requests might appear in a different
        # order" (json-batching): not in request order unless configured so
        if self.config["graph_batch_order"] != "request":
            responses.reverse()
        bf = req.ctx.pop("_batch_fault", None)
        if bf is not None:
            responses = self.graph_batch_fault(bf["mode"], responses)
            req.ctx["batch_fault"] = bf["mode"]
        out = Resp(200, b'{"responses":[' + b",".join(b for _, b in responses) + b"]}",
                   [("Content-Type", "application/json; charset=UTF-8")])
        out.action = escalate
        return out

    # ------------------------------------------------------------ control API
    def control(self, req):
        p = req.path.rstrip("/")
        m = req.method
        body = {}
        if req.body:
            body = json.loads(req.body)
        if p in ("/_emu", "/_emu/health"):
            return json_resp(200, {"ok": True, "port": self.args.port_actual,
                                   "mailboxes": len(self.mailboxes),
                                   "spy": self.spy_origin})
        if p == "/_emu/spy":
            with self.spy_lock:
                if m == "DELETE":
                    n = len(self.spy_requests)
                    self.spy_requests = []
                    return json_resp(200, {"origin": self.spy_origin, "cleared": n})
                return json_resp(200, {"origin": self.spy_origin,
                                       "requests": list(self.spy_requests)})
        if p == "/_emu/state":
            return json_resp(200, {
                "config": self.config,
                "apps": [{k: v for k, v in a.items() if k != "client_secret"}
                         for a in self.apps.values()],
                "mailboxes": [b.summary() for b in self.mailboxes],
                "faults": self.fault_view(), "grants": self.grant_view(),
                "log_entries": len(self.log)})
        if p == "/_emu/reset" and m == "POST":
            self.reset()
            return json_resp(200, {"ok": True})
        if p == "/_emu/config":
            if m == "POST":
                with self.lock:
                    for k, v in body.items():
                        if k not in self.config:
                            raise ValueError("unknown config key %s" % k)
                        if isinstance(self.config[k], dict):
                            self.config[k].update(v)
                        else:
                            self.config[k] = v
            return json_resp(200, self.config)
        if p == "/_emu/quotas":
            if m == "POST":
                with self.lock:
                    for k, v in body.items():
                        key = {"enabled": "quotas"}.get(k, k)
                        if key not in self.config:
                            raise ValueError("unknown quota key %s" % k)
                        self.config[key] = v
                    if body.get("reset_usage", True):
                        self.gmail_usage.clear()
                        self.gmail_used.clear()
                        self.graph_usage.clear()
            return json_resp(200, {k: self.config[k] for k in (
                "quotas", "gmail_units_per_minute", "gmail_quota_status", "gmail_concurrency",
                "graph_concurrency", "graph_requests_per_10min", "time_scale")})
        if p == "/_emu/log":
            if m == "DELETE":
                with self.log_lock:
                    n = len(self.log)
                    self.log = []
                return json_resp(200, {"cleared": n})
            since = int(qs_first(req.query, "since", "0"))
            prefix = qs_first(req.query, "prefix")
            with self.log_lock:
                out = [e for e in self.log if e["seq"] > since and
                       (not prefix or e["path"].startswith(prefix))]
            return json_resp(200, {"entries": out, "last": self.log_seq})
        if p == "/_emu/log/clear" and m == "POST":
            with self.log_lock:
                n = len(self.log)
                self.log = []
            return json_resp(200, {"cleared": n})
        if p == "/_emu/faults":
            if m == "DELETE":
                with self.lock:
                    self.faults = []
                return json_resp(200, {"faults": []})
            if m == "POST":
                items = body if isinstance(body, list) else body.get("faults", [body])
                with self.lock:
                    for f in items:
                        f = dict(f)
                        self.check_fault(f)
                        self.fault_seq += 1
                        f["id"] = self.fault_seq
                        f["remaining"] = int(f.get("count", -1 if f.get("probability") is not None else 1))
                        f["hits"] = 0
                        f["_rng"] = random.Random(f.get("seed", 0))
                        f.setdefault("prefix", "/")
                        self.faults.append(f)
            return json_resp(200, {"faults": self.fault_view()})
        if p == "/_emu/authorize/deny" and m == "POST":
            with self.lock:
                self.authorize_denials.append({"provider": body.get("provider"),
                                               "remaining": int(body.get("count", 1)),
                                               "error": body.get("error", "access_denied"),
                                               "error_description": body.get("error_description")})
            return json_resp(200, {"ok": True})
        if p == "/_emu/mailboxes":
            if m == "POST":
                with self.lock:
                    box = self.add_mailbox(body)
                    box.min_history = box.history_id
                return json_resp(200, box.summary())
            return json_resp(200, {"mailboxes": [b.summary() for b in self.mailboxes]})
        if p == "/_emu/grants":
            return json_resp(200, {"grants": self.grant_view()})
        if p == "/_emu/grants/revoke" and m == "POST":
            n = 0
            with self.lock:
                for g in self.grants.values():
                    if not body.get("mailbox") or g["mailbox"].lower() == body["mailbox"].lower():
                        g["revoked"] = True
                        n += 1
            return json_resp(200, {"revoked": n})
        if p == "/_emu/tokens/expire" and m == "POST":
            n = 0
            with self.lock:
                for t in self.access.values():
                    if not body.get("mailbox") or t["mailbox"].lower() == body["mailbox"].lower():
                        t["expires"] = 0
                        n += 1
            return json_resp(200, {"expired": n})
        if p == "/_emu/device/approve" and m == "POST":
            with self.lock:
                for d in self.devices.values():
                    if not body.get("user_code") or d["user_code"] == body["user_code"]:
                        d["approved"] = body.get("outcome", "approve")
                        if body.get("mailbox"):
                            d["mailbox"] = body["mailbox"]
            return json_resp(200, {"ok": True})
        mo = re.match(r"^/_emu/mailboxes/([^/]+)(/.*)?$", p)
        if mo:
            box = self.find_box(urllib.parse.unquote(mo.group(1)))
            if box is None:
                return json_resp(404, {"error": "no such mailbox"})
            return self.control_box(req, box, mo.group(2) or "", body)
        return json_resp(404, {"error": "unknown control endpoint", "path": p})

    @staticmethod
    def check_fault(f):
        k = f.get("kind")
        if k not in FAULT_KINDS:
            raise ValueError("unknown fault kind %r" % k)
        if k == "json":
            if not isinstance(f.get("set", {}), dict) or \
                    not isinstance(f.get("delete", []), list):
                raise ValueError("json fault: set is an object, delete a list of paths")
        elif k == "raw":
            if "body" not in f and "body_b64" not in f:
                raise ValueError("raw fault needs body or body_b64")
            if "body_b64" in f:
                base64.b64decode(f["body_b64"], validate=True)
        elif k == "huge":
            if f.get("shape", "objects") not in ("objects", "deep", "string"):
                raise ValueError("huge shape must be objects, deep or string")
        elif k == "foreign_link":
            if f.get("link", "both") not in ("next", "delta", "both"):
                raise ValueError("foreign_link link must be next, delta or both")
        elif k == "batch":
            if f.get("mode") not in BATCH_MODES:
                raise ValueError("batch mode must be one of %s" % ", ".join(BATCH_MODES))

    def fault_view(self):
        return [{k: v for k, v in f.items() if not k.startswith("_")} for f in self.faults]

    def grant_view(self):
        out = []
        for g in self.grants.values():
            out.append({"id": g["id"], "provider": g["provider"], "client_id": g["client_id"],
                        "mailbox": g["mailbox"], "scopes": g["scopes"], "revoked": g["revoked"],
                        "refreshes": g["refreshes"], "offline": g["offline"],
                        "refresh_fp": fingerprint(g["refresh"]) if g["refresh"] else None,
                        "rotations": len(g["old_refresh"])})
        return out

    def control_box(self, req, box, sub, body):
        m = req.method
        if sub == "":
            if box.provider == "gmail":
                with box.lock:
                    lst = [{"id": x.id, "threadId": x.thread, "labelIds": x.labels,
                            "historyId": str(x.hid), "internalDate": str(x.internal),
                            "messageId": x.spec.message_id} for _, i in box.order[:int(qs_first(req.query, "limit", "1000"))]
                           for x in [box.msgs[i]]]
            else:
                with box.lock:
                    lst = [{"id": x.imm, "restId": x.rest,
                            "folder": box.folders[x.folder]["wk"] or box.folder_path(x.folder),
                            "path": box.folder_path(x.folder), "under": box.folder_under(x.folder),
                            "messageId": x.spec.message_id, "received": iso_ms(x.received)}
                           for _, i in box.oorder[:int(qs_first(req.query, "limit", "1000"))]
                           for x in [box.omsgs[i]]]
            return json_resp(200, dict(box.summary(), list=lst))
        if sub == "/messages" and m == "POST":
            msgs = body.get("messages", [body] if "from" in body or "subject" in body else [])
            added = []
            with self.lock:
                for spec in msgs:
                    spec = dict(spec)
                    where = spec.get("labels") if box.provider == "gmail" else spec.get("folder", "inbox")
                    if where is None:
                        where = ["INBOX", "UNREAD"]
                    spec["in"] = {box.address: where}
                    spec.setdefault("to", box.address)
                    added.append(self.add_message(spec, record=True)[box.address])
                k = int(body.get("generate", 0))
                if k:
                    gen = Generator(int(body.get("seed", self.rng.randrange(1 << 30))),
                                    int(now() * 1000), span_days=1)
                    for i in range(k):
                        gen.meta.append(("in", box.address, None, int(now() * 1000) - (k - i) * 1000, None))
                        spec = gen.spec(i)
                        with box.lock:
                            if box.provider == "gmail":
                                x = box.gmail_add(spec, ["INBOX", "UNREAD"])
                                added.append({"id": x.id, "threadId": x.thread, "historyId": str(x.hid)})
                            else:
                                x = box.outlook_add(spec, "inbox", is_read=False)
                                added.append({"id": x.imm, "restId": x.rest})
            return json_resp(200, {"added": added, "historyId": str(box.history_id),
                                   "changeSeq": box.change_seq})
        if sub == "/delete" and m == "POST":
            with box.lock:
                x = box.gmail_delete(body["id"]) if box.provider == "gmail" else box.outlook_delete(body["id"])
            return json_resp(200 if x else 404, {"deleted": bool(x), "historyId": str(box.history_id)})
        if sub == "/move" and m == "POST":
            with box.lock:
                if box.provider == "gmail":
                    x = box.gmail_relabel(body["id"], body.get("add", []), body.get("remove", []))
                else:
                    x = box.outlook_move(body["id"], body["to"])
            return json_resp(200 if x else 404, {"moved": bool(x), "historyId": str(box.history_id),
                                                 "changeSeq": box.change_seq,
                                                 "restId": getattr(x, "rest", None)})
        if sub == "/update" and m == "POST":
            with box.lock:
                if box.provider == "gmail":
                    x = box.gmail_relabel(body["id"], body.get("add", []), body.get("remove", []))
                else:
                    x = box.outlook_update(body["id"], is_read=body.get("isRead"))
            return json_resp(200 if x else 404, {"updated": bool(x)})
        if sub == "/expire" and m == "POST":
            what = body.get("what", "history" if box.provider == "gmail" else "delta")
            with self.lock:
                if what == "history":
                    box.min_history = box.history_id + 1
                elif what == "delta":
                    box.delta_min_seq = box.change_seq + 1
                    for st in self.delta_tokens.values():
                        if st["mailbox"] == box.address:
                            st["expired"] = True
                elif what == "tokens":
                    for t in self.access.values():
                        if t["mailbox"] == box.address:
                            t["expires"] = 0
                else:
                    raise ValueError("what must be history, delta or tokens")
            return json_resp(200, box.summary())
        if sub == "/consent" and m == "POST":
            box.untick = set(body.get("untick", []))
            return json_resp(200, {"untick": sorted(box.untick)})
        if sub.startswith("/folders") and box.provider == "outlook":
            return self.control_folders(box, sub, m, body)
        if sub == "/sendas" and m == "POST" and box.provider == "gmail":
            sa = body.get("send_as")
            if not isinstance(sa, list):
                return json_resp(400, {"error": "send_as must be a list of sendAs resources"})
            box.send_as = sa
            return json_resp(200, {"sendAs": sa})
        return json_resp(404, {"error": "unknown mailbox endpoint"})


    @staticmethod
    def control_folders(box, sub, m, body):
        """Outlook folders: list, add, rename, move, delete (to Deleted
        Items, as Outlook does, or for good with "permanent")."""
        def find():
            fid = box.resolve_folder(body.get("id") or body.get("path") or "", paths=True)
            if fid is None:
                raise ValueError("no folder %s" % (body.get("id") or body.get("path")))
            return fid
        with box.lock:
            if sub == "/folders" and m == "GET":
                return json_resp(200, {"folders": [
                    {"id": fid, "path": box.folder_path(fid), "wk": f["wk"],
                     "under": box.folder_under(fid), "ipm": box.in_ipm(fid)}
                    for fid, f in box.folders.items()], "seq": box.folder_seq})
            if sub == "/folders" and m == "POST":
                if "count" in body:
                    ids = [box.folder_add("%s %02d" % (body.get("prefix", "Folder"), i + 1),
                                          body.get("parent"))
                           for i in range(int(body["count"]))]
                    return json_resp(200, {"ids": ids})
                if "path" in body:
                    fid = box.folder_ensure(body["path"])
                else:
                    fid = box.folder_add(body["name"], body.get("parent"),
                                         search=bool(body.get("search")))
                return json_resp(200, {"id": fid, "path": box.folder_path(fid)})
            if sub == "/folders/rename" and m == "POST":
                fid = find()
                box.folders[fid]["displayName"] = body["name"]
                box.folder_changed(fid)
                return json_resp(200, {"id": fid, "path": box.folder_path(fid)})
            if sub in ("/folders/move", "/folders/delete") and m == "POST":
                fid = find()
                if sub == "/folders/delete" and body.get("permanent"):
                    box.folder_remove(fid)
                    return json_resp(200, {"id": fid, "deleted": True})
                to = box.wk["deleteditems"] if sub == "/folders/delete" else \
                    box.resolve_folder(body["to"], paths=True)
                if to is None or to in box.chain(fid) or fid in box.chain(to):
                    raise ValueError("cannot move there")
                box.folders[fid]["parentFolderId"] = to
                box.folder_changed(fid)
                return json_resp(200, {"id": fid, "path": box.folder_path(fid)})
        return json_resp(404, {"error": "unknown folders endpoint"})


# ---------------------------------------------------------------- server

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "msemu/1.0"
    sys_version = ""
    emu = None

    def setup(self):
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def log_message(self, fmt, *args):
        if self.emu.args.verbose:
            sys.stderr.write("msemu: %s\n" % (fmt % args))

    def _do(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks = []
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            body = b"".join(chunks)
        else:
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else b""
        path, _, rawq = self.path.partition("?")
        if path.startswith("http://") or path.startswith("https://"):
            path = "/" + path.split("/", 3)[3] if path.count("/") >= 3 else "/"
        headers = {k.lower(): v for k, v in self.headers.items()}
        host = headers.get("host") or "127.0.0.1:%d" % self.server.server_address[1]
        req = Req(self.command, urllib.parse.unquote(path), rawq, headers, body,
                  "http://" + host)
        resp = self.emu.handle(req)
        if resp.action == "drop":
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        out = ["HTTP/1.1 %d %s" % (resp.status, REASONS.get(resp.status, "Unknown")),
               "Date: " + email.utils.formatdate(usegmt=True),
               "Server: msemu"]
        for k, v in resp.headers:
            out.append("%s: %s" % (k, v))
        act = resp.action
        if act in ("endless", "chunked_truncated"):
            out.append("Transfer-Encoding: chunked")
        elif act == "stream":
            out.append("Content-Length: %d" % resp.extra["length"])
        else:
            out.append("Content-Length: %d" % len(resp.body))
        if self.close_connection or act is not None:
            out.append("Connection: close")
        data = ("\r\n".join(out) + "\r\n\r\n").encode("latin-1", "replace")
        if self.command == "HEAD":
            self.wfile.write(data)
            return
        if act is not None and act != "truncate":
            self.close_connection = True
            try:
                self.hostile(data, resp)
            except OSError:
                pass        # the client went away: that is what it may do
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if act == "truncate":
            self.wfile.write(data + resp.body[:len(resp.body) // 2])
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self.wfile.write(data + resp.body)

    def hostile(self, data, resp):
        """Write the answers of the hostile faults (see README, Faults)."""
        w = self.wfile
        act = resp.action
        if act == "stream":         # huge: made and written chunk by chunk
            w.write(data)
            for c in resp.extra["chunks"]():
                w.write(c)
            return
        if act == "trickle":        # headers at once, the body slowly
            w.write(data)
            rate = resp.extra["rate"]
            piece = max(1, rate // 20)
            end = time.monotonic() + resp.extra["max_seconds"]
            body = resp.body
            for i in range(0, len(body), piece):
                w.write(body[i:i + piece])
                if time.monotonic() > end:
                    return
                time.sleep(piece / rate)
            return
        if act == "endless":        # an array that never ends
            w.write(data)
            head = resp.extra["head"]
            w.write(b"%x\r\n%s\r\n" % (len(head), head))
            unit = b"{}," * 21000
            chunk = b"%x\r\n%s\r\n" % (len(unit), unit)
            sent, cap = len(head), resp.extra["max_bytes"]
            end = time.monotonic() + resp.extra["max_seconds"]
            while sent < cap and time.monotonic() < end:
                w.write(chunk)
                sent += len(unit)
            return
        if act == "chunked_truncated":  # a chunk announced, half of it sent
            body = resp.body or b"{}"
            w.write(data + b"%x\r\n" % len(body) + body[:max(1, len(body) // 2)])
            return

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = do_HEAD = _do


class SpyHandler(BaseHTTPRequestHandler):
    """The spy origin: records whatever reaches it and answers every GET
    with a valid-looking Graph delta page whose deltaLink points back here,
    so that a client that follows foreign links keeps coming."""
    protocol_version = "HTTP/1.1"
    server_version = "msemu-spy/1.0"
    sys_version = ""
    emu = None

    def log_message(self, fmt, *args):
        if self.emu.args.verbose:
            sys.stderr.write("msemu spy: %s\n" % (fmt % args))

    def _do(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        path, _, rawq = self.path.partition("?")
        e = {"method": self.command, "path": urllib.parse.unquote(path),
             "query": rawq, "authorization": "Authorization" in self.headers,
             "time": round(now(), 3)}
        emu = self.emu
        with emu.spy_lock:
            emu.spy_requests.append(e)
            if len(emu.spy_requests) > 10000:
                del emu.spy_requests[:1000]
        if self.command == "GET":
            status = 200
            body = json.dumps({"@odata.context": emu.spy_origin + "/v1.0/$metadata#Collection(message)",
                               "value": [],
                               "@odata.deltaLink": emu.spy_origin +
                               "/v1.0/spy/delta?$deltatoken=x"}).encode()
        else:
            status = 405
            body = b'{"error":{"code":"BadRequest","message":"spy answers GET only"}}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json;odata.metadata=minimal;"
                         "odata.streaming=true;IEEE754Compatible=false;charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = do_HEAD = _do


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def main(argv=None):
    ap = argparse.ArgumentParser(description="Gmail/Graph/OAuth emulator for mailsync tests")
    ap.add_argument("--data", help="JSON data file (apps, mailboxes, messages)")
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 = any free)")
    ap.add_argument("--port-file", help="write the port here once listening")
    ap.add_argument("--generate",
                    help="gmail:N,outlook:M[,messages:K][,threads:MEAN[,singles:F]]"
                         "[,folders:F]")
    ap.add_argument("--gen-end", default="2026-11-20T00:00:00Z",
                    help="date of the newest generated message (ISO, or 'now')")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--log", help="append the request log here as JSON Lines")
    ap.add_argument("--token-lifetime", type=int, default=None,
                    help="access token lifetime in seconds (default 3600)")
    ap.add_argument("--time-scale", type=float, default=None,
                    help="divide quota windows by this factor")
    ap.add_argument("--idle-timeout", "--once-idle-timeout", type=float, default=0,
                    dest="idle_timeout", help="exit after this many seconds without requests")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    args.port_actual = None
    t0 = time.time()
    emu = Emu(args)
    Handler.emu = emu
    # Requests make little garbage in cycles: rarer collector rounds (the
    # mailboxes themselves are frozen out of them; see Emu.reset).
    gc.set_threshold(20000, 20, 20)
    # Each connection has a thread.  Handing the GIL over every 5 ms (the
    # default) splits requests that take a few ms of CPU (a cold batch of
    # 50, a delta page of 200) and costs a fifth of the CPU with five
    # clients; threads still hand it over at every socket read and write.
    sys.setswitchinterval(0.01)
    srv = Server(("127.0.0.1", args.port), Handler)
    port = srv.server_address[1]
    args.port_actual = port
    SpyHandler.emu = emu
    spy = Server(("127.0.0.1", 0), SpyHandler)
    emu.spy_origin = "http://127.0.0.1:%d" % spy.server_address[1]
    threading.Thread(target=spy.serve_forever, kwargs={"poll_interval": 0.5},
                     daemon=True).start()
    if args.verbose:
        sys.stderr.write("msemu: loaded %d mailboxes in %.2fs\n" % (len(emu.mailboxes), time.time() - t0))
    stop = threading.Event()

    def shutdown(*_):
        if not stop.is_set():
            stop.set()
            threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    if args.idle_timeout:
        def watchdog():
            while not stop.wait(0.5):
                if now() - emu.last_request > args.idle_timeout:
                    sys.stderr.write("msemu: idle for %.0fs, exiting\n" % args.idle_timeout)
                    shutdown()
        threading.Thread(target=watchdog, daemon=True).start()
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)
    print("msemu listening on http://127.0.0.1:%d" % port, flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    finally:
        srv.server_close()
        spy.shutdown()
        spy.server_close()
        if emu.log_file:
            emu.log_file.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

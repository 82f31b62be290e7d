#!/usr/bin/env python3
"""term-check.py MODE FILE [WORD...]: check an output's bytes for what must
never reach a person, and that the visible text around it is kept.

MODE is one of
  people  the table, --view, --accounts, clients list, config listings:
          valid UTF-8, no control character but line feeds (people+sgr:
          colour SGR sequences allowed)
  tsv     valid UTF-8, no control character but the tab separators and
          line ends, the same number of fields on every line
  json    valid UTF-8, no raw control character but line ends (JSON's
          escapes only), each line a JSON object
  html    valid UTF-8, no control character but line feeds, well formed
Each WORD must appear in the text (after JSON decoding in json mode).
Exit 0 when all holds, else 1 with the reasons on stderr.
"""
import json
import re
import sys
from html.parser import HTMLParser

BAD = set(range(0x00, 0x20)) | set(range(0x7F, 0xA0)) | {0x061C} \
    | set(range(0x200B, 0x2010)) | set(range(0x202A, 0x202F)) \
    | set(range(0x2060, 0x206A)) | {0xFEFF}
SGR = re.compile(r"\x1b\[[0-9;]*m")
VOID = {"meta", "br", "hr", "img", "input", "link", "wbr"}


class Tags(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        if tag in VOID:
            return
        if tag == "script":
            self.errors.append("a <script> element")
        self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]}")
            return
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def main(argv):
    mode, path, words = argv[0], argv[1], argv[2:]
    sgr = mode.endswith("+sgr")
    mode = mode.removesuffix("+sgr")
    raw = open(path, "rb").read()
    why = []
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        print(f"{path}: not valid UTF-8: {e}", file=sys.stderr)
        return 1
    allowed = {"\n"} | ({"\t"} if mode == "tsv" else set())
    scan = SGR.sub("", text) if sgr else text
    for i, ch in enumerate(scan):
        if ord(ch) in BAD and ch not in allowed:
            line = scan.count("\n", 0, i) + 1
            why.append(f"line {line}: U+{ord(ch):04X}")
    shown = text
    if mode == "tsv":
        counts = {len(l.split("\t")) for l in text.split("\n")[:-1]}
        if len(counts) > 1:
            why.append(f"lines with different field counts {sorted(counts)}")
    elif mode == "json":
        values = []
        for n, line in enumerate(text.split("\n")[:-1], 1):
            try:
                values.append(json.loads(line))
            except ValueError as e:
                why.append(f"line {n}: not JSON: {e}")
        strings = []

        def walk(v):
            if isinstance(v, str):
                strings.append(v)
            elif isinstance(v, dict):
                for x in v.values():
                    walk(x)
            elif isinstance(v, list):
                for x in v:
                    walk(x)
        walk(values)
        shown = "\n".join(strings)
    elif mode == "html":
        p = Tags()
        p.feed(text)
        p.close()
        why += p.errors
        if p.stack:
            why.append(f"unclosed {p.stack}")
        shown = "".join(p.text)
    for w in words:
        if w not in shown:
            why.append(f"missing {w!r}")
    for w in why[:20]:
        print(f"{path}: {w}", file=sys.stderr)
    return 1 if why else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""pty-run.py [--cols N] [--rows N] [--intr-on REGEX] [--timeout S] OUT -- CMD...

Run CMD on a pseudo-terminal of N columns (its stdin, stdout and stderr),
keep every byte it writes in OUT, and exit with CMD's status (128+signal
when a signal ended it). With --intr-on, type Ctrl-C (the terminal sends
SIGINT to CMD) once the output matches REGEX. Then check OUT with
pty-run.py --screen OUT COLS: it replays the bytes as a terminal would
(\\r, \\n, ESC[K, SGR colours) and prints a JSON report on stdout:
  {"lines": [...final screen lines...], "widest": display columns of the
   widest text ever drawn on a line, "wrapped": whether any write went
   past the last column, "drawn": [every line as drawn before a \\r or
   \\n, in order], "sgr": whether colour sequences occurred}
"""
import json
import os
import re
import select
import signal
import struct
import sys
import termios
import fcntl
import time
import unicodedata


def width(ch):
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def screen(path, cols):
    data = open(path, "rb").read().decode("utf-8", "replace")
    lines, cur, col = [], [], 0
    widest, wrapped, sgr, drawn = 0, False, False, []
    i = 0
    csi = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])")
    while i < len(data):
        ch = data[i]
        if ch == "\x1b":
            m = csi.match(data, i)
            if m:
                if m.group(2) == "K":
                    del cur[col:]
                elif m.group(2) == "m":
                    sgr = True
                i = m.end()
                continue
            i += 1
            continue
        if ch == "\r":
            drawn.append("".join(cur))
            col = 0
        elif ch == "\n":
            drawn.append("".join(cur))
            lines.append("".join(cur))
            cur, col = [], 0
        else:
            if col < len(cur):
                cur[col] = ch
            else:
                cur.append(ch)
            col += 1
            shown = sum(width(c) for c in cur)
            widest = max(widest, shown)
            wrapped = wrapped or shown > cols
        i += 1
    lines.append("".join(cur))
    return {"lines": lines, "widest": widest, "wrapped": wrapped,
            "drawn": drawn, "sgr": sgr}


def main(argv):
    if argv[0] == "--screen":
        print(json.dumps(screen(argv[1], int(argv[2])), ensure_ascii=False))
        return 0
    cols, rows, intr, timeout = 80, 24, None, 60.0
    while argv[0].startswith("--"):
        opt, val = argv[0], argv[1]
        argv = argv[2:]
        if opt == "--cols":
            cols = int(val)
        elif opt == "--rows":
            rows = int(val)
        elif opt == "--intr-on":
            intr = re.compile(val.encode())
        elif opt == "--timeout":
            timeout = float(val)
    out, cmd = argv[0], argv[2:]
    # The size is set before the child starts, so it never sees another.
    fd, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ,
                struct.pack("HHHH", rows, cols, 0, 0))
    pid = os.fork()
    if pid == 0:
        os.close(fd)
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
        for n in (0, 1, 2):
            os.dup2(slave, n)
        if slave > 2:
            os.close(slave)
        os.execvp(cmd[0], cmd)
    os.close(slave)
    buf, end = b"", time.monotonic() + timeout
    sent = False
    while time.monotonic() < end:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
        if intr and not sent and intr.search(buf):
            os.write(fd, b"\x03")
            sent = True
    else:
        os.kill(pid, signal.SIGKILL)
        print(f"pty-run: {cmd[0]} did not finish in {timeout} s",
              file=sys.stderr)
    open(out, "wb").write(buf)
    _, status = os.waitpid(pid, 0)
    if intr and not sent:
        print("pty-run: the output never matched: Ctrl-C not sent",
              file=sys.stderr)
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

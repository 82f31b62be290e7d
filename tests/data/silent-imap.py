#!/usr/bin/env python3
"""An IMAP server that greets and then never answers: for connect's
--timeout. Prints its port (127.0.0.1) on stdout, takes one connection,
reads what comes without ever replying, and exits after SECONDS (default
30) whatever happens."""
import socket
import sys
import time

secs = float(sys.argv[1]) if len(sys.argv) > 1 else 30
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(1)
print(srv.getsockname()[1], flush=True)
end = time.monotonic() + secs
srv.settimeout(secs)
try:
    conn, _ = srv.accept()
    conn.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n")
    while time.monotonic() < end:
        conn.settimeout(max(0.1, end - time.monotonic()))
        try:
            if not conn.recv(4096):
                break
        except socket.timeout:
            break
except socket.timeout:
    pass

#!/usr/bin/env python3
"""A TLS server on 127.0.0.1 with the certificate it is given (one the
client does not trust): for the tests of an untrusted HTTPS peer. Prints
its port, completes no request (the client gives up at the handshake),
and exits after SECONDS (default 30) whatever happens.

  tls-peer.py CERT KEY [SECONDS]"""
import socket
import ssl
import sys
import time

cert, key = sys.argv[1], sys.argv[2]
secs = float(sys.argv[3]) if len(sys.argv) > 3 else 30
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(8)
print(srv.getsockname()[1], flush=True)
end = time.monotonic() + secs
while time.monotonic() < end:
    srv.settimeout(max(0.1, end - time.monotonic()))
    try:
        conn, _ = srv.accept()
    except socket.timeout:
        break
    conn.settimeout(2)
    try:
        with ctx.wrap_socket(conn, server_side=True) as tls:
            tls.recv(4096)
    except (ssl.SSLError, OSError):
        pass

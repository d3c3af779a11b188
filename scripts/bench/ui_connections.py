#!/usr/bin/env python3
"""How long an operator's request waits while other connections hold the depot UI.

  scripts/bench/ui_connections.py PORT COUNT idle|partial

Opens COUNT connections to a running `dashloop ui` on 127.0.0.1:PORT from
127.0.0.5 (idle: nothing sent; partial: half a request's headers), then times
three `GET /api/v1/session` from 127.0.0.1, a second apart.
"""
import http.client
import socket
import sys
import time

port, count, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
if mode not in ("idle", "partial"):
    sys.exit("mode: idle or partial")
held = []
for _ in range(count):
    s = socket.socket()
    s.bind(("127.0.0.5", 0))
    s.connect(("127.0.0.1", port))
    if mode == "partial":
        s.sendall(b"GET / HTTP/1.1\r\n")
    held.append(s)
time.sleep(0.5)
for _ in range(3):
    began = time.time()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("GET", "/api/v1/session")
    r = c.getresponse()
    r.read()
    print(f"{count} {mode} connections open: GET /api/v1/session {r.status} in {time.time() - began:.3f} s", flush=True)
    time.sleep(1)

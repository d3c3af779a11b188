#!/usr/bin/python3
"""A fault-injecting HTTP proxy in front of the test S3 server, on loopback.

Requests pass through unchanged (the Host header too, so SigV4 signatures
still verify at the server), except as the control file says, re-read on
every request:
  {"fail": [503, 429, 500], "down_s": 0}
- fail: status codes answered, one per multipart part upload (PUT with
  partNumber), in order, instead of forwarding it;
- down_s: for this many seconds after the file was written, every request's
  connection is closed unanswered (the server "went away").
Each request is logged to stderr as METHOD PATH -> CODE.
  fault_proxy.py LISTEN_PORT UPSTREAM_PORT CONTROL_FILE
"""
import http.client
import http.server
import json
import os
import sys
import threading
import time

listen_port, upstream_port, control = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
lock = threading.Lock()


def take_fault(is_part):
    with lock:
        try:
            with open(control) as f:
                c = json.load(f)
        except (OSError, ValueError):
            return None, False
        down = time.time() - os.path.getmtime(control) < c.get("down_s", 0)
        code = None
        if is_part and c.get("fail"):
            code = c["fail"].pop(0)
            with open(control + ".tmp", "w") as f:
                json.dump(c, f)
            os.utime(control + ".tmp", (os.path.getatime(control), os.path.getmtime(control)))
            os.replace(control + ".tmp", control)
        return code, down


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def handle_one(self):
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length) if length else b""
        code, down = take_fault(self.command == "PUT" and "partNumber=" in self.path)
        if down:
            sys.stderr.write(f"{self.command} {self.path} -> (connection dropped)\n")
            self.close_connection = True
            self.connection.close()
            return
        if code:
            sys.stderr.write(f"{self.command} {self.path} -> {code} (injected)\n")
            doc = f"<?xml version='1.0'?><Error><Code>Injected{code}</Code><Message>fault_proxy</Message></Error>".encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(doc)))
            self.end_headers()
            self.wfile.write(doc)
            return
        up = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=60)
        up.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        for name, value in self.headers.items():
            if name.lower() not in ("expect", "connection"):
                up.putheader(name, value)
        up.endheaders(body if body else None)
        reply = up.getresponse()
        data = reply.read()
        sys.stderr.write(f"{self.command} {self.path} -> {reply.status}\n")
        self.send_response(reply.status)
        for name, value in reply.getheaders():
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        # HEAD replies carry the object's length with no body.
        self.send_header("Content-Length", reply.getheader("Content-Length", str(len(data))) if self.command == "HEAD" else str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        up.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_one


http.server.ThreadingHTTPServer(("127.0.0.1", listen_port), Proxy).serve_forever()

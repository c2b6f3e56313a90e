#!/usr/bin/env python3
"""A test HTTP server (stdlib only) on 127.0.0.1 for journeyd's plugin tests.

Every request is appended to --log as one JSON line: method, path, headers
(names in lower case), body, and, with --verify-secret, whether its Standard
Webhooks signature is valid ("signature_valid"). The line is written before
the answer is sent.

Answers: the i-th request gets the i-th of --statuses (e.g. 503,503,200),
then --default. --body is sent with each answer (e.g. '{"id":"task-42"}').
--delays (seconds, per request, e.g. 3,0) stalls answers; with
--stall-while FILE every answer also waits while FILE exists (up to 10
minutes), so that a test decides when the endpoint recovers. --retry-after V
adds a Retry-After header to 429 and 503 answers, with V as it is (seconds,
an HTTP date, or anything else a server might send). Once listening, the port
is written to --ready-file (by rename when it is a regular file).
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import signal
import stat
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def write_ready(path, port):
    """Write the port to the ready file (a pipe, or a file by rename)."""
    try:
        regular = not stat.S_ISFIFO(os.stat(path).st_mode)
    except FileNotFoundError:
        regular = True
    if not regular:
        with open(path, "w") as f:
            f.write("%d\n" % port)
        return
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, path)


def signature_valid(secret, headers, body):
    """Check webhook-signature as a Standard Webhooks receiver would."""
    if secret.startswith("whsec_"):
        key = base64.b64decode(secret[6:])
    else:
        key = secret.encode()
    msg_id = headers.get("webhook-id", "")
    stamp = headers.get("webhook-timestamp", "")
    signed = ("%s.%s." % (msg_id, stamp)).encode() + body
    expected = base64.b64encode(
        hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for sig in headers.get("webhook-signature", "").split():
        version, _, value = sig.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return True
    return False


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.count = 0
        self.statuses = [int(s) for s in args.statuses.split(",") if s]
        self.delays = [float(s) for s in args.delays.split(",") if s]
        self.log = open(args.log, "a")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def handle_any(self):
        st = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        with st.lock:
            index = st.count
            st.count += 1
            record = {
                "method": self.command,
                "path": self.path,
                "headers": headers,
                "body": body.decode("utf-8", "replace"),
            }
            if st.args.verify_secret is not None:
                record["signature_valid"] = signature_valid(
                    st.args.verify_secret, headers, body)
            st.log.write(json.dumps(record) + "\n")
            st.log.flush()
        status = (st.statuses[index] if index < len(st.statuses)
                  else st.args.default)
        delay = st.delays[index] if index < len(st.delays) else 0
        if delay:
            time.sleep(delay)
        if st.args.stall_while:
            end = time.monotonic() + 600
            while os.path.exists(st.args.stall_while) and time.monotonic() < end:
                time.sleep(0.05)
        answer = b"" if status == 204 else st.args.body.encode()
        try:
            self.send_response(status)
            if status in (429, 503) and st.args.retry_after is not None:
                self.send_header("Retry-After", st.args.retry_after)
            if answer:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--log", required=True)
    ap.add_argument("--ready-file", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--statuses", default="")
    ap.add_argument("--default", type=int, default=200)
    ap.add_argument("--body", default="")
    ap.add_argument("--delays", default="")
    ap.add_argument("--retry-after", default=None)
    ap.add_argument("--verify-secret", default=None)
    ap.add_argument("--stall-while", default=None)
    args = ap.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.state = State(args)

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    write_ready(args.ready_file, server.server_address[1])
    server.serve_forever()
    server.server_close()
    sys.exit(0)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A tiny local stand-in for HubSpot and a webhook receiver, for the demo.

Listens on 127.0.0.1 (a free port, written to --port-file), answers
POST /crm/v3/objects/tasks like HubSpot (201 with a task id) and any other
POST with 200, and appends one JSON line per request to --log: the path,
the idempotency and webhook headers, whether a signature and a bearer token
came, and the body. Standard library only.
"""

import argparse
import http.server
import json
import os
import threading

lock = threading.Lock()
tasks = 0


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "journeyd-demo-standin/1"

    def do_POST(self):
        global tasks
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw.decode("utf-8"))
        except ValueError:
            body = raw.decode("utf-8", "replace")
        reply = {"ok": True}
        code = 200
        if self.path.startswith("/crm/v3/objects/tasks"):
            with lock:
                tasks += 1
                reply = {"id": "demo-task-%d" % tasks,
                         "properties": body.get("properties", {})
                         if isinstance(body, dict) else {}}
            code = 201
        entry = {
            "path": self.path,
            "idempotency_key": self.headers.get("Idempotency-Key"),
            "webhook_id": self.headers.get("webhook-id"),
            "signed": self.headers.get("webhook-signature") is not None,
            "bearer": (self.headers.get("Authorization") or "")
            .startswith("Bearer "),
            "body": body,
            "reply": reply,
        }
        with lock:
            with open(self.server.log_path, "a", encoding="utf-8") as f:
                f.write(json.dumps(entry) + "\n")
        data = json.dumps(reply).encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    args = ap.parse_args()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.log_path = args.log
    open(args.log, "a").close()
    with open(args.port_file + ".tmp", "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.replace(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()

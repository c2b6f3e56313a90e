"""Helpers for the HTTP API's end-to-end tests: the daemon as a service on
a port of its own choosing (listen "127.0.0.1:0": the port is read from
its log), key files, requests with http.client and with curl."""
import base64
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time

from jdtest import JOURNEYD, check

WRITE_KEY = "wk_Zq8tY3vB0pLm"
ADMIN_KEY = "adm_R4nd0mT0k3n_9xQ"

RIDER = """
plugins = { note = { module = "log"; }; };
journeys = (
  { name = "rider"; entry = "count('signup') >= 1";
    stages = [ "new", "first_ride" ];
    rules = (
      { name = "first"; stage = "new"; when = "count('ride') >= 1"; goto = "first_ride"; },
      { name = "hello"; stage = "first_ride"; when = "true"; action = { plugin = "note"; }; }
    ); }
);
"""


def fail(what):
    print("FAIL: %s" % what, file=sys.stderr)
    sys.exit(1)


def wait_for(what, pred, timeout=60, proc=None):
    """Poll pred until it holds (never a fixed sleep as synchronisation)."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if proc is not None and proc.poll() is not None:
            fail("journeyd exited (%d) while waiting for %s"
                 % (proc.returncode, what))
        if time.monotonic() > end:
            fail("timed out waiting for %s" % what)
        time.sleep(0.02)


def write_keys(env, name, *keys):
    path = env.path(name)
    with open(path, "w") as f:
        f.write("# keys, one a line\n\n" + "".join(k + "\n" for k in keys))
    return path


def http_conf(env, extra="", admin=True, listen='"127.0.0.1:0"', body=RIDER):
    wk = write_keys(env, "write-keys", WRITE_KEY, "wk_second")
    block = 'listen = %s; write_key_file = "%s";' % (listen, wk)
    if admin:
        block += ' admin_key_file = "%s";' % write_keys(env, "admin-key",
                                                         ADMIN_KEY)
    env.write_conf('interval = "1h";\nhttp = { %s %s };\n%s'
                   % (block, extra, body))


class Daemon:
    """journeyd as a service, with its log in the scratch folder."""

    def __init__(self, env, log="journeyd.log", *args):
        self.env = env
        self.log = env.path(log)
        self.out = open(self.log, "a")
        self.proc = subprocess.Popen([JOURNEYD, "-c", env.conf, "-v"]
                                     + list(args), stdout=self.out,
                                     stderr=subprocess.STDOUT)
        env.procs.append(self.proc)
        m = wait_for("journeyd to listen", lambda: re.search(
            r"http: listening on ([0-9.]+|\[[0-9a-f:]+\]):([0-9]+)",
            self.text()), proc=self.proc)
        self.host = m.group(1).strip("[]")
        self.port = int(m.group(2))
        self.wait_log("tick: ")

    def text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def wait_log(self, s, n=1):
        wait_for("%r in the log" % s, lambda: self.text().count(s) >= n,
                 proc=self.proc)

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def request(self, method, path, body=None, headers=None, key=None,
                admin=None, timeout=30):
        """(status, headers, text) of one request."""
        h = dict(headers or {})
        if key is not None:
            h["Authorization"] = "Basic " + base64.b64encode(
                (key + ":").encode()).decode()
        if admin is not None:
            h["Authorization"] = "Bearer " + admin
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        c = http.client.HTTPConnection("127.0.0.1", self.port,
                                       timeout=timeout)
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            return r.status, dict(r.getheaders()), r.read().decode(
                errors="replace")
        finally:
            c.close()

    def post(self, path, body, key=WRITE_KEY, **kw):
        return self.request("POST", path, body, key=key, **kw)

    def curl(self, *args, data=None):
        """curl -i: (status, headers with lower-case names, body)."""
        argv = ["curl", "-s", "-i", "--max-time", "60"] + list(args)
        r = subprocess.run(argv, input=data, capture_output=True,
                           timeout=90)
        if r.returncode != 0:
            fail("curl %s: exit %d: %s" % (" ".join(args), r.returncode,
                                            r.stderr.decode(errors="replace")))
        head, _, body = r.stdout.partition(b"\r\n\r\n")
        # A "100 Continue" comes first when curl asked for it.
        while head.startswith(b"HTTP/1.1 100"):
            head, _, body = body.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        status = int(lines[0].split()[1])
        hdrs = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        return status, hdrs, body.decode(errors="replace")

    def stop(self, sig=signal.SIGTERM):
        """Stop it; stopped by SIGTERM, it must exit 0, its log free of
        sanitizer reports (a leak shows at exit)."""
        self.proc.send_signal(sig)
        self.proc.wait(timeout=60)
        self.out.close()
        if sig == signal.SIGTERM:
            text = self.text()
            if self.proc.returncode != 0 or "Sanitizer" in text or \
                    "runtime error" in text:
                fail("journeyd exited %d:\n%s" % (self.proc.returncode,
                                                   text[-3000:]))
        return self.proc.returncode


def events(env, user=None):
    q = ("SELECT s.id, e.name FROM events e JOIN subjects s ON "
         "s.sid = e.subject")
    rows = env.sql(q + (" WHERE s.id = ?" if user else "")
                   + " ORDER BY e.eid", *([user] if user else []))
    return [tuple(r) for r in rows]


def need(cmd):
    """Skip (77) when a command the test needs is missing."""
    from shutil import which
    if which(cmd) is None:
        print("SKIP: %s is not installed (scripts/deps.sh installs it)"
              % cmd)
        sys.exit(77)

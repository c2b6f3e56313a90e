"""Helpers for end-to-end tests written in Python: a scratch folder with a
config and database, the built journeyd and journeyctl, and assertions."""
import json
import math
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

TOP_SRC = os.environ.get("top_srcdir") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
TOP_BUILD = os.environ.get("top_builddir") or TOP_SRC
PLUGINS = os.path.join(TOP_BUILD, ".libs")
JOURNEYD = os.path.join(TOP_BUILD, "journeyd")
JOURNEYCTL = os.path.join(TOP_BUILD, "journeyctl")
SERVERS = os.path.join(TOP_SRC, "tests", "servers")

passed = 0


def ok(what):
    global passed
    passed += 1
    print("ok - " + what)


def check(cond, what, detail=""):
    if not cond:
        print("FAIL: %s %s" % (what, detail), file=sys.stderr)
        sys.exit(1)
    ok(what)


def eq(actual, expected, what):
    check(actual == expected, what,
          "\n  expected: %r\n  actual:   %r" % (expected, actual))


class Env:
    """A scratch journeyd installation: config, database, runs."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="journeyd-test.")
        self.conf = os.path.join(self.dir, "journeyd.conf")
        self.db = os.path.join(self.dir, "journeyd.db")
        self.procs = []

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        if not os.environ.get("KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def path(self, name):
        return os.path.join(self.dir, name)

    def write_conf(self, body):
        with open(self.conf, "w") as f:
            f.write('database = "%s";\nplugin_dir = "%s";\n%s'
                    % (self.db, PLUGINS, body))

    def run(self, argv, check_rc=0, input=None):
        r = subprocess.run(argv, capture_output=True, text=True, input=input,
                           timeout=120)
        if check_rc is not None and r.returncode != check_rc:
            print("command %s exited %d, expected %d\nstdout:\n%s\nstderr:\n%s"
                  % (argv, r.returncode, check_rc, r.stdout, r.stderr),
                  file=sys.stderr)
            sys.exit(1)
        return r

    def jd(self, *args, check_rc=0):
        return self.run([JOURNEYD, "-c", self.conf] + list(args), check_rc)

    def ctl(self, *args, check_rc=0, input=None):
        return self.run([JOURNEYCTL, "-c", self.conf] + list(args), check_rc,
                        input)

    def once(self, now, *args):
        return self.jd("--once", "--now", now, *args)

    def import_lines(self, lines, check_rc=0):
        text = "".join(json.dumps(l) + "\n" if not isinstance(l, str)
                       else l + "\n" for l in lines)
        return self.ctl("import", "-", input=text, check_rc=check_rc)

    def show(self, ident):
        return json.loads(self.ctl("show", ident, "--json").stdout)

    def sql(self, q, *params):
        c = sqlite3.connect(self.db, timeout=30)
        try:
            return c.execute(q, params).fetchall()
        finally:
            c.close()

    def stage(self, ident, journey):
        j = self.show(ident)["journeys"].get(journey)
        return None if j is None else (j["stage"], j["status"])


def track(user, event, ts, mid=None, props=None):
    d = {"type": "track", "userId": user, "event": event, "timestamp": ts}
    if mid:
        d["messageId"] = mid
    if props is not None:
        d["properties"] = props
    return d


def identify(user, traits, ts="2026-01-01T00:00:00Z"):
    return {"type": "identify", "userId": user, "traits": traits,
            "timestamp": ts}


def group(user, account, traits=None, ts="2026-01-01T00:00:00Z"):
    d = {"type": "group", "userId": user, "groupId": account,
         "timestamp": ts}
    if traits is not None:
        d["traits"] = traits
    return d


def start_server(env, name, args):
    """Start tests/servers/NAME_server.py with args; returns its port."""
    ready = env.path("%s-%d.port" % (name, len(env.procs)))
    p = subprocess.Popen([sys.executable, os.path.join(SERVERS, name + "_server.py"),
                          "--ready-file", ready] + args,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env.procs.append(p)
    deadline = time.monotonic() + 20
    while not os.path.exists(ready):
        if p.poll() is not None or time.monotonic() > deadline:
            check(False, name + " server started")
        time.sleep(0.02)
    with open(ready) as f:
        return int(f.read())


def requests(log):
    """The requests an HTTP test server logged."""
    if not os.path.exists(log):
        return []
    with open(log) as f:
        return [json.loads(l) for l in f if l.strip()]


def fnv(key):
    """FNV-1a, 64 bits, of key's UTF-8 bytes: the hash of holdouts and
    variants (src/rules/bucket.c)."""
    h = 0xcbf29ce484222325
    for b in key.encode():
        h ^= b
        h = (h * 0x100000001b3) & 0xffffffffffffffff
    return h


def holdout_bucket(key):
    """The holdout's bucket of "journey/rule/id": FNV-1a 64, modulo 100
    (README: holdout); below the rule's percent, the subject is held out."""
    return fnv(key) % 100


Z95 = 1.96


def wald(x, n):
    """A conversion and its 95% Wald interval, cut to [0, 1]."""
    p = x / n
    half = Z95 * math.sqrt(p * (1 - p) / n)
    return p, max(0.0, p - half), min(1.0, p + half)


def lift(x1, n1, x0, n0):
    """Difference, its Wald interval, and the pooled z-test's p-value."""
    p1, p0 = x1 / n1, x0 / n0
    d = p1 - p0
    se = math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    pool = (x1 + x0) / (n1 + n0)
    z = d / math.sqrt(pool * (1 - pool) * (1 / n1 + 1 / n0))
    return d, d - Z95 * se, d + Z95 * se, math.erfc(abs(z) / math.sqrt(2))


def near(text, value, decimals, what):
    """text, as printed with that many decimals, is value rounded."""
    got = float(text.replace("%", ""))
    check(abs(got - value) <= 0.5 * 10 ** -decimals + 1e-9, what,
          "printed %s, computed %r" % (text, value))


def done():
    print("%d passed, 0 failed" % passed)

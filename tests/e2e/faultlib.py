"""Helpers for the fault tests (tests/e2e/fault-*.py): the daemon run as a
service with its log in a file, the test servers of tests/servers, and
waiting for a condition by polling it, with a bound (never by sleeping for
a guessed time)."""
import os
import signal
import sqlite3
import subprocess
import sys
import time

from jdtest import JOURNEYD, SERVERS

PY = "/usr/bin/python3"


def fail(what):
    print("FAIL: " + what, file=sys.stderr)
    sys.exit(1)


def wait_for(what, pred, timeout=90):
    """Poll pred until it is true; fail after timeout seconds."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > end:
            fail("timed out waiting for " + what)
        time.sleep(0.02)


class Daemon:
    """journeyd as a service (no --once), its output in a log file."""

    def __init__(self, env, *args, log="journeyd.log"):
        self.env = env
        self.log = env.path(log)
        with open(self.log, "a") as out:
            self.proc = subprocess.Popen(
                [JOURNEYD, "-c", env.conf] + list(args),
                stdout=out, stderr=subprocess.STDOUT)
        env.procs.append(self.proc)

    def text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def count(self, s):
        return self.text().count(s)

    def wait_log(self, s, n=1, timeout=90):
        """Wait until s is in the log n times; fail if the daemon exits."""
        def seen():
            if self.proc.poll() is not None:
                fail("journeyd exited (%s) while waiting for %r:\n%s"
                     % (self.proc.returncode, s, self.text()[-3000:]))
            return self.count(s) >= n
        wait_for("%r in the log" % s, seen, timeout)

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        """SIGTERM; the exit status (0 for a clean stop)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            fail("journeyd did not stop on SIGTERM")


def start_server(env, script, name, *args):
    """Start tests/servers/SCRIPT with --ready-file; (process, port)."""
    ready = env.path(name + ".ready")
    if os.path.exists(ready):
        os.unlink(ready)
    proc = subprocess.Popen([PY, os.path.join(SERVERS, script),
                             "--ready-file", ready] + list(args),
                            stdout=subprocess.DEVNULL)
    env.procs.append(proc)

    def up():
        if proc.poll() is not None:
            fail("%s exited (%d) before it was ready" % (script,
                                                           proc.returncode))
        return os.path.exists(ready)
    wait_for(script + " to listen", up, timeout=30)
    with open(ready) as f:
        return proc, int(f.read())


def outbox(env, rule=None):
    """Outbox rows (id, rule, status, attempts, reason), oldest first."""
    q = "SELECT id, rule, status, attempts, reason FROM outbox"
    if rule is not None:
        return env.sql(q + " WHERE rule = ? ORDER BY aid", rule)
    return env.sql(q + " ORDER BY aid")


def integrity(db):
    c = sqlite3.connect(db, timeout=30)
    try:
        return c.execute("PRAGMA integrity_check").fetchall()
    finally:
        c.close()

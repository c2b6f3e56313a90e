"""systemd's watchdog is fed by a thread that checks the main loop's
progress (SPEC 18): with a 2-second watchdog, WATCHDOG=1 keeps coming, no
two more than half the timeout apart, while the main loop imports a
400k-line file from the spool, and while a tick waits for a database locked
by another process (a bounded wait, not stuck); and it stops, with the
reason in STATUS=, when the main loop is stuck in a plugin's init() that
does not return, then resumes when it returns. The notify socket stamps each
message with the time the kernel received it."""
import os
import signal
import sqlite3
import subprocess
import sys
import time
from jdtest import Env, JOURNEYD, SERVERS, eq, check, done
from sinklib import wait_until

WATCHDOG_USEC = 2000000
HALF = WATCHDOG_USEC / 2e6
LINES = 400000
START = "2026-03-01T09:00:00Z"


def messages(path):
    """The notify log as (time, field) pairs."""
    out = []
    with open(path) as f:
        for line in f:
            t, _, field = line.rstrip("\n").partition(" ")
            out.append((float(t), field))
    return out


def feeds(path, since=0.0, until=None):
    return [t for t, f in messages(path) if f == "WATCHDOG=1" and t >= since
            and (until is None or t <= until)]


def largest_gap(times):
    return max((b - a for a, b in zip(times, times[1:])), default=0.0)


def conf(env, spool, extra=""):
    env.write_conf("""
interval = "1h";
spool_dir = "%s";
plugins = { note = { module = "log"; }; %s };
journeys = (
  { name = "rider"; entry = "count('signup') >= 1"; stages = [ "new", "rode" ];
    rules = ( { name = "rode"; stage = "new"; when = "count('ride') >= 1"; goto = "rode"; } ); }
);
""" % (spool, extra))


with Env() as env:
    spool, log, nlog = env.path("spool"), env.path("log"), env.path("notify.log")
    os.mkdir(spool)
    conf(env, spool)
    # 400k lines: 40k users, a signup and nine rides each.
    tmp = os.path.join(spool, ".big.jsonl")
    with open(tmp, "w") as f:
        for i in range(LINES):
            u, k = i // 10, i % 10
            f.write('{"type":"track","userId":"u%d","event":"%s",'
                    '"timestamp":"2026-02-%02dT08:%02d:00Z","messageId":"m%d"}\n'
                    % (u, "signup" if k == 0 else "ride", 1 + k, u % 60, i))
    os.rename(tmp, os.path.join(spool, "big.jsonl"))

    sock = env.path("notify.sock")
    ns = subprocess.Popen([sys.executable, os.path.join(SERVERS, "notify.py"),
                           sock, nlog, "--stamp"])
    env.procs.append(ns)
    wait_until(lambda: os.path.exists(sock) and os.path.exists(nlog),
               "the notify socket")
    penv = dict(os.environ, NOTIFY_SOCKET=sock, WATCHDOG_USEC=str(WATCHDOG_USEC))
    penv.pop("WATCHDOG_PID", None)
    with open(log, "w") as out:
        p = subprocess.Popen([JOURNEYD, "-c", env.conf, "--now", START],
                             stdout=out, stderr=subprocess.STDOUT, env=penv)
    env.procs.append(p)

    def logged(text):
        with open(log) as f:
            return f.read().count(text)

    # The import, then the tick.
    wait_until(lambda: os.path.exists(os.path.join(spool, "done", "big.jsonl")),
               "the spool file imported", bound=600, proc=p)
    during = len(feeds(nlog))
    wait_until(lambda: logged("tick: ") >= 1, "the first tick", bound=600, proc=p)
    eq(env.sql("SELECT count(*) FROM events"), [(LINES,)], "every line imported")
    # From READY=1 on, the daemon feeds.
    ready = [t for t, f in messages(nlog) if f == "READY=1"][0]
    gap = largest_gap([ready] + feeds(nlog, ready))
    print("# largest gap between WATCHDOG=1 during the import: %.3f s" % gap)
    check(gap <= HALF, "no gap over half the timeout during the import",
          "(%.3f s)" % gap)
    check(during >= 3, "the import lasted several feeds", "(%d)" % during)
    check(not any(f.startswith("STATUS=stuck") for _, f in messages(nlog)),
          "never said stuck while importing")

    # A tick waits for a database another process holds locked: it fails
    # after the busy timeout, and the daemon is not stuck meanwhile.
    lock = sqlite3.connect(env.db, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    since = time.time()
    p.send_signal(signal.SIGHUP)
    wait_until(lambda: logged("tick: failed") >= 1, "the tick to give up",
               bound=120, proc=p)
    lock.execute("ROLLBACK")
    lock.close()
    gap = largest_gap(feeds(nlog, since))
    check(gap <= HALF, "no gap over half the timeout while a tick waits for "
          "a lock", "(%.3f s)" % gap)
    check(not any(f.startswith("STATUS=stuck") for _, f in messages(nlog)),
          "a wait for a lock is not stuck")

    # Stuck: a plugin's init() that does not return, on reload.
    hold = env.path("hold")
    open(hold, "w").close()
    conf(env, spool, 'stall = { module = "stall"; init_file = "%s"; };' % hold)
    p.send_signal(signal.SIGHUP)
    wait_until(lambda: any(f.startswith("STATUS=stuck") for _, f in
                           messages(nlog)), "STATUS=stuck", bound=120, proc=p)
    stuck_at, status = [(t, f) for t, f in messages(nlog)
                        if f.startswith("STATUS=stuck")][0]
    check("while reloading the config" in status, "STATUS= says what is stuck",
          status)
    check(logged("watchdog: stuck: no progress") == 1, "and so does the log")
    # Several feeding periods (a quarter of the timeout each) without one.
    wait_until(lambda: time.time() > stuck_at + 4 * HALF, "a while stuck")
    eq(feeds(nlog, stuck_at), [], "no WATCHDOG=1 while stuck")

    # The init returns: feeding resumes, the reload completes.
    os.unlink(hold)
    wait_until(lambda: logged("reloaded: ") >= 2, "the reload", proc=p)
    wait_until(lambda: len(feeds(nlog, stuck_at)) >= 2, "feeding again", proc=p)
    check(any(f.startswith("STATUS=running again") for _, f in messages(nlog)),
          "STATUS= says it runs again")

    p.send_signal(signal.SIGTERM)
    eq(p.wait(timeout=120), 0, "SIGTERM: exit 0")
done()

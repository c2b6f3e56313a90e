"""Helpers for the delivery tests: a journey whose every member gets one
action through the testsink plugin, the sink's "ID ATTEMPT" file, the
daemon as a background service, and polling with a bound."""
import os
import resource
import signal
import subprocess
import sys
import time

from jdtest import JOURNEYD, track, check, eq

START = "2026-03-01T09:00:00Z"


def conf(env, plugins, action, workers=4, retry_min="1m", retry_max="1h",
         retry_for="24h", interval="1h", extra_rules=""):
    """One journey: members of `signup` enter and get `action` (a libconfig
    action group body, e.g. 'plugin = "sink";')."""
    env.write_conf("""
interval = "%s";
workers = %d;
retry_min = "%s";
retry_max = "%s";
retry_for = "%s";
plugins = { %s };
journeys = (
  { name = "j"; entry = "count('signup') >= 1"; stages = [ "in" ];
    rules = ( { name = "go"; when = "true"; action = { %s }; }%s ); }
);
""" % (interval, workers, retry_min, retry_max, retry_for, plugins, action,
       extra_rules))


def signups(env, users, traits=None, ts="2026-03-01T08:00:00Z"):
    """Import a signup for each user, with traits per user when given."""
    lines = []
    for u in users:
        if traits and u in traits:
            lines.append({"type": "identify", "userId": u,
                          "traits": traits[u], "timestamp": ts})
        lines.append(track(u, "signup", ts))
    env.import_lines(lines)


def arrivals(path):
    """The sink file's lines as (id, attempt) pairs."""
    if not os.path.exists(path):
        return []
    out = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) != 2:
                check(False, "sink line is whole", repr(line))
            out.append((parts[0], int(parts[1])))
    return out


def open_rows(env):
    """Rows not settled: pending, in flight, retrying."""
    return env.sql("SELECT count(*) FROM outbox WHERE status IN (0, 1, 3)")[0][0]


def statuses(env):
    """{status: count} of the outbox."""
    return dict(env.sql("SELECT status, count(*) FROM outbox GROUP BY status"))


def wait_until(cond, what, bound=60.0, proc=None):
    """Poll cond() every 50 ms for up to bound seconds."""
    end = time.monotonic() + bound
    while not cond():
        if proc is not None and proc.poll() is not None:
            print("FAIL: journeyd exited (%d) while waiting for %s"
                  % (proc.returncode, what), file=sys.stderr)
            sys.exit(1)
        if time.monotonic() > end:
            print("FAIL: timed out waiting for %s" % what, file=sys.stderr)
            sys.exit(1)
        time.sleep(0.05)


def no_core():
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def started(log):
    if not os.path.exists(log):
        return 0
    with open(log) as f:
        return f.read().count("journeyd: started: ")


def service(env, log, *args, now=START, wait=True):
    """journeyd as a service in the background, its log appended to log;
    returns once it says it started (its signal handlers are set), or at
    once without wait."""
    before = started(log)
    f = open(log, "a")
    argv = [JOURNEYD, "-c", env.conf] + (["--now", now] if now else [])
    p = subprocess.Popen(argv + list(args), stdout=f, stderr=f,
                         preexec_fn=no_core)
    f.close()
    env.procs.append(p)
    if wait:
        wait_until(lambda: started(log) > before, "journeyd to start", proc=p)
    return p


def drain_after_crashes(env, log, drained):
    """Start the service and wait until drained(); put the actions parked
    as dead by three crashes back and wait again; stop it. Returns the
    (id, reason) of those parked."""
    p = service(env, log, now=None)
    wait_until(drained, "the outbox to drain", bound=180, proc=p)
    dead = env.sql("SELECT id, reason FROM outbox WHERE status = 4")
    for aid, reason in dead:
        # Possible, by the spec, when kills hit the same action thrice.
        eq(reason, "in flight during 3 crashes in a row", "why %s is dead" % aid)
    if dead:
        env.ctl("retry", "--dead")
        wait_until(drained, "the outbox to drain again", bound=60, proc=p)
    eq(stop(p), 0, "SIGTERM: exit 0")
    return dead


def once(env, now, check_rc=0):
    """journeyd --once at now; returns the CompletedProcess."""
    r = subprocess.run([JOURNEYD, "-c", env.conf, "--once", "--now", now],
                       capture_output=True, text=True, timeout=120,
                       preexec_fn=no_core)
    if check_rc is not None and r.returncode != check_rc:
        print("journeyd --once exited %d\n%s" % (r.returncode, r.stderr),
              file=sys.stderr)
        sys.exit(1)
    return r


def stop(p, sig=signal.SIGTERM, bound=60):
    """Signal the service and wait for it; returns its exit status."""
    p.send_signal(sig)
    return p.wait(timeout=bound)

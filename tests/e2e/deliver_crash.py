"""Crash safety: the daemon as a service with thousands of actions flowing
through testsink, killed with SIGKILL at 25 random moments (while ticking,
importing alongside, dispatching) and restarted each time, then drained.
Every queued action arrived, only queued ids arrived, a duplicate is the same
id at a later attempt, nothing was queued twice, the database is sound.
Random delays only choose the kill moments; what is checked holds whatever
they are."""
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from jdtest import Env, JOURNEYCTL, eq, check, ok, done
from sinklib import conf, signups, arrivals, open_rows, statuses, service, \
    drain_after_crashes

ROUNDS = 25
BATCH = 200
WORKERS = 4
seed = int(os.environ.get("SEED", random.randrange(1 << 30)))
rng = random.Random(seed)
print("# seed %d (SEED=%d to repeat)" % (seed, seed))

with Env() as env:
    sink, log = env.path("sink"), env.path("log")
    conf(env, 'sink = { module = "testsink"; file = "%s"; hang_ms = 1; };'
         % sink, 'plugin = "sink";', workers=WORKERS, interval="1s")
    users = 0
    kills = 0
    for rnd in range(ROUNDS):
        batch = ["r%d-u%d" % (rnd, i) for i in range(BATCH)]
        alongside = rnd % 3 == 1
        if not alongside:
            signups(env, batch)
        p = service(env, log, now=None, wait=False)   # kills may hit its start
        if alongside:
            # journeyctl imports while the daemon runs (and is killed).
            imp = subprocess.Popen([JOURNEYCTL, "-c", env.conf, "import", "-"],
                                   stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, text=True)
            imp.communicate("".join(
                '{"type":"track","userId":"%s","event":"signup","timestamp":'
                '"2026-03-01T08:00:00Z"}\n' % u for u in batch))
            check(imp.returncode == 0, "import alongside the daemon")
        users += BATCH
        time.sleep(rng.uniform(0.02, 0.6))
        if p.poll() is not None:
            check(False, "journeyd running until killed", open(log).read()[-2000:])
        p.send_signal(signal.SIGKILL)
        p.wait()
        kills += 1
        print("# kill %d: %s" % (kills, statuses(env)))
    ok("%d kills at random moments" % kills)

    def drained():
        return (env.sql("SELECT count(*) FROM outbox")[0][0] == users
                and open_rows(env) == 0)

    dead = drain_after_crashes(env, log, drained)

    eq(env.sql("SELECT count(*), count(DISTINCT subject) FROM outbox"),
       [(users, users)], "one action queued per subject, none twice")
    eq(env.sql("SELECT count(*) FROM history WHERE what = 'action'"),
       [(users,)], "one history entry per action")
    eq(statuses(env), {2: users}, "every action done")
    queued = {r[0] for r in env.sql("SELECT id FROM outbox")}
    got = arrivals(sink)
    ids = Counter(a[0] for a in got)
    eq(set(ids) - queued, set(), "nothing arrived that was not queued")
    eq(queued - set(ids), set(), "every queued action arrived")
    eq([k for k, n in Counter(got).items() if n > 1], [],
       "a duplicate is the same id at a later attempt, never the same attempt")
    dups = sum(ids.values()) - len(ids)
    check(dups <= (kills + len(dead)) * WORKERS,
          "duplicates only from actions in flight at a kill (%d)" % dups)
    attempts = dict(env.sql("SELECT id, attempts FROM outbox"))
    check(all(max(a for i, a in got if i == k) <= attempts[k] for k in
              [k for k, n in ids.items() if n > 1]),
          "the outbox counted every attempt of a duplicate")
    eq(env.sql("PRAGMA quick_check"), [("ok",)], "PRAGMA quick_check")
    log_text = open(log).read()
    logged = {l.split()[2] for l in log_text.splitlines()
              if l.startswith("journeyd: action ") and ": done" in l}
    # A kill between the commit and its log line loses the line only.
    check(len(queued - logged) <= kills * WORKERS,
          "a log line per outcome, with its id (%d missing)" % len(queued - logged))

done()

"""A poison action, whose plugin call kills the process: each --once run
dies on it; after three crashes in a row it is parked dead, and every other
action is delivered. An action in flight beside it during a crash is a
suspect from then on and runs alone, so it does not share the poison's
fate."""
from collections import Counter
from jdtest import Env, eq, check, done
from sinklib import conf, signups, arrivals, once, START

with Env() as env:
    sink = env.path("sink")
    conf(env, 'sink = { module = "testsink"; file = "%s"; hang_ms = 2; };' % sink,
         'plugin = "sink"; abort = "{{poison}}";', workers=4)
    users = ["u%02d" % i for i in range(40)]
    signups(env, users, traits={"u05": {"poison": "true"}})
    crashes = 0
    for run in range(6):
        r = once(env, START, check_rc=None)
        if r.returncode == 0:
            break
        check(r.returncode < 0, "run %d killed by the poison" % (run + 1), r.stderr[-500:])
        crashes += 1
    eq(crashes, 3, "three crashes, then a clean run")
    check("in flight during 3 crashes in a row and are now dead" in r.stderr,
          "the parking is logged", r.stderr[-2000:])
    pid, status, reason = env.sql(
        "SELECT o.id, o.status, o.reason FROM outbox o JOIN subjects s "
        "ON s.sid = o.subject WHERE s.id = 'u05'")[0]
    eq((status, reason), (4, "in flight during 3 crashes in a row"), "the poison is dead")
    eq(env.sql("SELECT status, count(*) FROM outbox GROUP BY status"),
       [(2, 39), (4, 1)], "every other action delivered, only the poison dead")
    got = arrivals(sink)
    eq(Counter(a[0] for a in got)[pid], 3, "the poison was tried three times")
    out = env.ctl("outbox", "--dead").stdout
    check(pid in out and "3 crashes" in out, "outbox --dead shows it", out)
    eq(set(a[0] for a in got), {r[0] for r in env.sql("SELECT id FROM outbox")},
       "every action arrived")
done()

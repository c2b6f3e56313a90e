"""SIGTERM during dispatch: claiming stops, actions in flight finish (within
their timeout), the rest stay queued, exit 0; nothing is lost or sent twice.
A call that hangs does not hold the stop beyond its instance's timeout. An
action left in flight by a forced stop (SIGKILL) is due again at once."""
import signal
from collections import Counter
from jdtest import Env, eq, check, done
from sinklib import conf, signups, arrivals, once, open_rows, service, stop, \
    wait_until, statuses

N = 3000
with Env() as env:
    sink, log = env.path("sink"), env.path("log")
    conf(env, 'sink = { module = "testsink"; file = "%s"; hang_ms = 2; };' % sink,
         'plugin = "sink";', workers=4)
    signups(env, ["u%d" % i for i in range(N)])
    p = service(env, log)
    wait_until(lambda: env.sql("SELECT count(*) FROM outbox WHERE status = 2")[0][0] >= 200,
               "deliveries under way", proc=p)
    eq(stop(p), 0, "SIGTERM during dispatch: exit 0")
    text = open(log).read()
    check("stopping: waiting for actions in flight" in text and "stopped" in text,
          "the stop is logged", text[-500:])
    eq(env.sql("SELECT count(*) FROM outbox WHERE status = 1"), [(0,)],
       "nothing left in flight: those claimed finished")
    print("# at the stop: %s" % statuses(env))
    p = service(env, log)
    wait_until(lambda: open_rows(env) == 0, "the rest to be delivered", proc=p)
    eq(stop(p), 0, "second SIGTERM: exit 0")
    eq(statuses(env), {2: N}, "every action done")
    got = Counter(a[0] for a in arrivals(sink))
    eq(set(got), {r[0] for r in env.sql("SELECT id FROM outbox")}, "every action arrived")
    eq(max(got.values()), 1, "none twice: a clean stop repeats nothing")

# A hanging call does not hold the stop beyond its timeout.
with Env() as env:
    sink, log = env.path("sink"), env.path("log")
    conf(env, 'sink = { module = "testsink"; file = "%s"; timeout = "2s"; };' % sink,
         'plugin = "sink"; hang_ms = "{{hang}}";', workers=2)
    signups(env, ["stuck"], traits={"stuck": {"hang": 600000}})
    p = service(env, log)
    wait_until(lambda: len(arrivals(sink)) == 1, "the call to start", proc=p)
    eq(stop(p, bound=60), 0, "SIGTERM with a call hanging: exit 0, within the timeout")
    eq(env.sql("SELECT status, reason FROM outbox"), [(3, "timed out after 2s")],
       "its action waits for its retry")

# A forced stop leaves an action in flight: due again at once on restart.
with Env() as env:
    sink, log = env.path("sink"), env.path("log")
    conf(env, 'sink = { module = "testsink"; file = "%s"; };' % sink,
         'plugin = "sink"; hang_ms = "{{hang}}";', workers=2)
    signups(env, ["k"], traits={"k": {"hang": 600000}})
    p = service(env, log, now="2026-03-01T09:00:00Z")
    wait_until(lambda: len(arrivals(sink)) == 1, "the call to start", proc=p)
    stop(p, sig=signal.SIGKILL)
    eq(env.sql("SELECT status FROM outbox"), [(1,)], "left in flight")
    env.import_lines([{"type": "identify", "userId": "k", "traits": {"hang": None}}])
    r = once(env, "2026-03-01T09:00:01Z")
    check("1 action(s) in flight when journeyd stopped are due again" in r.stderr,
          "recovery is logged", r.stderr)
    eq(env.sql("SELECT status, attempts FROM outbox"), [(2, 2)],
       "delivered at once, no backoff, on its second attempt")
    eq([a[1] for a in arrivals(sink)], [1, 2], "same id, attempts 1 and 2")
done()

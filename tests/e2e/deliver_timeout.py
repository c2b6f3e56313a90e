"""A plugin call that overruns its instance's timeout is a transient
failure: the action is recorded for retry with the same id, the stuck
worker is replaced and the others keep flowing; the stuck call's late
result is ignored (never marks the action done)."""
from jdtest import Env, eq, check, done
from sinklib import conf, signups, arrivals, once, service, stop, wait_until, START

T = 1772355600

# --once: four calls hang far beyond the timeout (and beyond the test's
# bound: the run would not end if it waited for them), thirty do not.
with Env() as env:
    sink = env.path("sink")
    conf(env, 'sink = { module = "testsink"; file = "%s"; timeout = "1s"; };' % sink,
         'plugin = "sink"; hang_ms = "{{hang}}";', workers=2)
    hung = ["h%d" % i for i in range(4)]
    users = hung + ["u%02d" % i for i in range(30)]
    signups(env, users, traits={u: {"hang": 600000} for u in hung})
    r = once(env, "@%d" % T)
    rows = env.sql("SELECT s.id, o.status, o.attempts, o.due - ?1, o.reason FROM outbox o "
                   "JOIN subjects s ON s.sid = o.subject ORDER BY s.id", T)
    eq([r[1:] for r in rows if r[0] in hung], [(3, 1, 60, "timed out after 1s")] * 4,
       "overran: retrying after retry_min, with the reason")
    eq([r[1] for r in rows if r[0] not in hung], [2] * 30, "the others were delivered")
    check("4 plugin call(s) overran their timeout" in r.stderr, "the abandoned calls are logged", r.stderr[-1500:])
    check("dispatched: 30 done, 4 to retry" in r.stderr, "outcomes counted", r.stderr[-1500:])
    ids = dict(env.sql("SELECT s.id, o.id FROM outbox o JOIN subjects s ON s.sid = o.subject"))
    # Next try, same id; this time it does not hang.
    env.import_lines([{"type": "identify", "userId": u, "traits": {"hang": None}} for u in hung])
    once(env, "@%d" % (T + 60))
    eq(env.sql("SELECT count(*) FROM outbox WHERE status = 2"), [(34,)], "retried and delivered")
    got = arrivals(sink)
    eq(sorted(a for a in got if a[0] in {ids[u] for u in hung}),
       sorted([(ids[u], 1) for u in hung] + [(ids[u], 2) for u in hung]),
       "the same id on the try that hung and on the retry")

# A service: the stuck call returns "done" late; that result is ignored.
with Env() as env:
    sink, log = env.path("sink"), env.path("log")
    conf(env, 'sink = { module = "testsink"; file = "%s"; timeout = "1s"; };' % sink,
         'plugin = "sink"; hang_ms = "{{hang}}";', workers=2)
    signups(env, ["late", "u1", "u2"], traits={"late": {"hang": 4000}})
    p = service(env, log)
    wait_until(lambda: "returned done at last; ignored" in open(log).read(),
               "the late result", proc=p)
    eq(env.sql("SELECT o.status, o.attempts, o.reason FROM outbox o JOIN subjects s "
               "ON s.sid = o.subject WHERE s.id = 'late'"),
       [(3, 1, "timed out after 1s")], "the late 'done' did not mark it done")
    eq(env.sql("SELECT count(*) FROM outbox WHERE status = 2"), [(2,)], "the others done")
    eq(stop(p), 0, "SIGTERM: exit 0")
done()

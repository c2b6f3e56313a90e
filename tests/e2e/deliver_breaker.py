"""The circuit breaker: an instance whose attempts keep failing is paused
(logged once), its actions wait, its pause doubles while trials fail; the
other instance goes on; when the endpoint is back, a trial closes the
circuit (logged once) and everything is delivered, nothing dropped."""
import os
from jdtest import Env, eq, check, done
from sinklib import conf, signups, arrivals, open_rows, service, stop, wait_until

N = 40
with Env() as env:
    sink, down, log = env.path("sink"), env.path("down"), env.path("log")
    open(down, "w").close()
    conf(env, 'flaky = { module = "testsink"; file = "%s"; down_file = "%s"; }; '
         'steady = { module = "testsink"; file = "%s"; };' % (sink, down, sink),
         'plugin = "flaky";', workers=4, retry_min="1s", retry_max="4s",
         extra_rules=""",
      { name = "also"; when = "true"; action = { plugin = "steady"; }; }""")
    signups(env, ["u%02d" % i for i in range(N)])
    p = service(env, log, "-v", now=None)

    def logged(text):
        return lambda: text in open(log).read()

    def done_count(inst):
        return env.sql("SELECT count(*) FROM outbox WHERE instance = ?1 AND status = 2", inst)[0][0]

    wait_until(logged("flaky: circuit open: "), "the circuit to open", proc=p)
    wait_until(lambda: done_count("steady") == N, "the steady instance's actions", proc=p)
    eq(done_count("flaky"), 0, "the failing instance delivered nothing")
    wait_until(logged("flaky: trial failed; pausing it for 2s"), "a failed trial", proc=p)
    wait_until(logged("flaky: trial failed; pausing it for 4s"), "the pause to double", proc=p)
    eq(env.sql("SELECT count(*) FROM outbox WHERE status = 4"), [(0,)], "nothing dead while paused")
    os.unlink(down)
    wait_until(logged("flaky: circuit closed"), "the circuit to close", proc=p)
    wait_until(lambda: open_rows(env) == 0, "the waiting actions to be delivered", proc=p)
    eq(stop(p), 0, "SIGTERM: exit 0")
    text = open(log).read()
    eq(text.count("circuit open"), 1, "opening logged once")
    eq(text.count("circuit closed"), 1, "closing logged once")
    check("steady: circuit" not in text, "the other instance never paused")
    eq(env.sql("SELECT instance, status, count(*) FROM outbox GROUP BY 1, 2 ORDER BY 1"),
       [("flaky", 2, N), ("steady", 2, N)], "every action of both delivered")
    flaky_tries = env.sql("SELECT sum(attempts) FROM outbox WHERE instance = 'flaky'")[0][0]
    print("# flaky: %d attempts for %d actions" % (flaky_tries, N))
done()

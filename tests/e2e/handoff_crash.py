"""Hand-offs across crashes (issue 11, defect 3): the daemon runs hand-offs
and suggestions while it is killed with SIGKILL at random moments and
restarted. After every kill the store shows each hand-off applied exactly
when its action is recorded done (an enrollment, or a suggestion's
announcement, commits with the outcome or not at all); at the end every
subject handed off is in the next journey once, with one entered step, and
every suggestion is announced once. Random delays only choose the kill
moments; what is checked holds whatever they are."""
import os
import random
import signal
import time
from jdtest import Env, eq, check, ok, done
from sinklib import signups, open_rows, service, drain_after_crashes

ROUNDS = 20
BATCH = 150
seed = int(os.environ.get("SEED", random.randrange(1 << 30)))
rng = random.Random(seed)
print("# seed %d (SEED=%d to repeat)" % (seed, seed))

CONF = """
interval = "1s";
workers = 4;
plugins = {
  handoff = { };
  sink = { module = "testsink"; file = "%s"; };
};
journeys = (
  { name = "a"; entry = "count('signup') >= 1"; stages = [ "in" ];
    rules = (
      { name = "to-b"; when = "not (attr('suggest') == true)";
        action = { plugin = "handoff"; to = "b"; }; },
      { name = "offer-b"; when = "attr('suggest') == true";
        action = { plugin = "handoff"; to = "b"; suggest = true; via = "sink"; }; }
    ); },
  { name = "b"; stages = [ "first", "second" ]; }
);
"""


def consistent(env, what):
    """Each hand-off applied exactly when its action is done."""
    bad = env.sql("""
        SELECT s.id, o.rule, o.status FROM outbox o JOIN subjects s ON s.sid = o.subject
        WHERE o.instance = 'handoff' AND (o.status = 2) <> CASE o.rule
          WHEN 'to-b' THEN EXISTS (SELECT 1 FROM members m
                                   WHERE m.journey = 'b' AND m.subject = o.subject)
          ELSE EXISTS (SELECT 1 FROM outbox x WHERE x.subject = o.subject
                       AND x.instance = 'sink') END""")
    twice = env.sql("""
        SELECT subject FROM history WHERE journey = 'b' AND what = 'entered'
        GROUP BY subject HAVING count(*) > 1
        UNION ALL
        SELECT subject FROM outbox WHERE instance = 'sink'
        GROUP BY subject HAVING count(*) > 1""")
    check(bad == [] and twice == [], what, "applied apart from the outcome: %r, "
          "twice: %r" % (bad[:5], twice[:5]))


with Env() as env:
    sink, log = env.path("sink"), env.path("log")
    env.write_conf(CONF % sink)
    users, suggested = [], []
    for rnd in range(ROUNDS):
        batch = ["r%d-u%d" % (rnd, i) for i in range(BATCH)]
        offer = set(batch[::3])
        signups(env, batch, traits={u: {"suggest": True} for u in offer})
        users += batch
        suggested += sorted(offer)
        p = service(env, log, now=None, wait=False)   # kills may hit its start
        time.sleep(rng.uniform(0.05, 0.8))
        if p.poll() is not None:
            check(False, "journeyd running until killed", open(log).read()[-2000:])
        p.send_signal(signal.SIGKILL)
        p.wait()
        print("# kill %d: %s" % (rnd + 1, dict(env.sql(
            "SELECT status, count(*) FROM outbox GROUP BY status"))))
        consistent(env, "kill %d: every hand-off applied with its outcome, once" % (rnd + 1))
    ok("%d kills at random moments" % ROUNDS)

    def drained():
        return (env.sql("SELECT count(*) FROM outbox WHERE instance = 'handoff'")[0][0]
                == len(users) and open_rows(env) == 0)

    drain_after_crashes(env, log, drained)
    consistent(env, "drained: every hand-off applied with its outcome, once")

    handed = set(users) - set(suggested)
    eq(env.sql("SELECT count(*) FROM outbox WHERE instance = 'handoff' AND status <> 2"),
       [(0,)], "every hand-off done")
    got = dict(env.sql("""SELECT s.id, count(*) FROM history h JOIN subjects s ON s.sid = h.subject
                          WHERE h.journey = 'b' AND h.what = 'entered' GROUP BY s.id"""))
    eq(set(got), handed, "every subject handed off is in b, and no one else")
    eq(set(got.values()), {1}, "each with one entered step")
    eq(env.sql("SELECT count(*) FROM members WHERE journey = 'b' AND stage = 'first'"),
       [(len(handed),)], "each at b's first stage")
    offers = dict(env.sql("""SELECT s.id, count(*) FROM outbox o JOIN subjects s ON s.sid = o.subject
                             WHERE o.instance = 'sink' GROUP BY s.id"""))
    eq(offers, {u: 1 for u in suggested}, "every suggestion announced once")
    eq(env.sql("SELECT count(*) FROM outbox WHERE instance = 'sink' AND status <> 2"),
       [(0,)], "and every announcement delivered")
    eq(env.sql("PRAGMA quick_check"), [("ok",)], "PRAGMA quick_check")
done()

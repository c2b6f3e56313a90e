"""Delivery outcomes, clock driven by --now on successive --once runs:
retries back off exponentially with the same id on every attempt; a
retry-after hint is followed; retry_for exceeded makes an action dead;
failed and held outcomes; journeyctl outbox [--dead] and retry ID|--dead."""
import os
from jdtest import Env, eq, check, done
from sinklib import conf, signups, arrivals, once

T = 1772355600          # 2026-03-01T09:00:00Z
M = 60


def at(secs):
    return "@%d" % (T + secs)


def row(env, user, rule="go"):
    return env.sql("SELECT o.id, o.status, o.attempts, o.due - ?1, o.reason "
                   "FROM outbox o JOIN subjects s ON s.sid = o.subject "
                   "WHERE s.id = ?2 AND o.rule = ?3", T, user, rule)[0]


# (b) Retry with backoff, then success; the same id on every attempt.
with Env() as env:
    sink = env.path("sink")
    conf(env, 'sink = { module = "testsink"; file = "%s"; };' % sink,
         'plugin = "sink"; fail_first = "3";',
         extra_rules=""",
      { name = "hint"; when = "attr('hint') == true";
        action = { plugin = "sink"; fail_first = "1"; retry_after = "300"; }; }""")
    signups(env, ["u", "h"], traits={"h": {"hint": True}})
    once(env, at(0))
    aid, status, attempts, due, reason = row(env, "u")
    eq((status, attempts, due), (3, 1, 1 * M), "attempt 1 failed: retrying in retry_min")
    check("failing attempt 1" in reason, "the reason is kept", reason)
    eq(row(env, "h", "hint")[1:4], (3, 1, 300), "a retry-after hint sets the next try")
    once(env, at(30))
    eq(row(env, "u")[2], 1, "not due yet: not tried")
    once(env, at(1 * M))
    eq(row(env, "u")[1:4], (3, 2, 3 * M), "attempt 2 failed: 2m later")
    once(env, at(3 * M))
    eq(row(env, "u")[1:4], (3, 3, 7 * M), "attempt 3 failed: 4m later")
    once(env, at(7 * M))
    eq(row(env, "u")[1:3], (2, 4), "attempt 4 done")
    tries = [a for a in arrivals(sink) if a[0] == aid]
    eq(tries, [(aid, 1), (aid, 2), (aid, 3), (aid, 4)], "the same id on every attempt")
    hid = row(env, "h", "hint")[0]
    once(env, at(300))
    eq(row(env, "h", "hint")[1], 2, "hinted action done after its retry-after")
    eq(env.sql("SELECT count(*) FROM outbox"), [(3,)], "nothing queued twice")

# (c) retry_for exceeded -> dead, visible in outbox --dead; retry puts it back.
with Env() as env:
    sink, down = env.path("sink"), env.path("down")
    open(down, "w").close()
    conf(env, 'sink = { module = "testsink"; file = "%s"; down_file = "%s"; };'
         % (sink, down), 'plugin = "sink"; fail = "{{fail}}"; hold = "{{hold}}";',
         retry_for="5m")
    signups(env, ["a", "b", "f", "hl"],
            traits={"f": {"fail": "true"}, "hl": {"hold": "true"}})
    once(env, at(0))
    eq(row(env, "a")[1:4], (3, 1, 1 * M), "down: retrying")
    r = env.ctl("outbox")
    check(row(env, "a")[0] in r.stdout and "retrying" in r.stdout, "outbox lists the queued action", r.stdout)
    check("4 queued action(s)" in r.stdout, "outbox counts them", r.stdout)
    once(env, at(1 * M))
    once(env, at(3 * M))
    eq(row(env, "a")[1:4], (3, 3, 5 * M), "the last try is at retry_for, not later")
    once(env, at(5 * M))
    aid, status, attempts, _, reason = row(env, "a")
    eq((status, attempts), (4, 4), "retry_for passed: dead")
    check(reason.startswith("gave up after 4 attempts: down"), "dead with its reason", reason)
    r = env.ctl("outbox", "--dead")
    check(aid in r.stdout and "gave up after 4 attempts" in r.stdout, "outbox --dead lists it", r.stdout)
    check("4 dead action(s)" in r.stdout, "outbox --dead counts them", r.stdout)
    eq(env.ctl("outbox").stdout.strip(), "0 queued action(s)", "nothing queued any more")
    r = env.ctl("retry", "nosuchid", check_rc=1)
    check("no action" in r.stderr, "retry of an unknown id is an error", r.stderr)

    # The endpoint is back: failed and held outcomes, retry ID, retry --dead.
    os.unlink(down)
    r = env.ctl("retry", aid)
    eq(r.stdout.strip(), "1 dead action(s) queued again", "retry ID")
    eq(row(env, "a")[1:3], (0, 0), "pending again, attempts reset")
    once(env, at(6 * M))
    eq(row(env, "a")[1], 2, "retried action delivered")
    eq(row(env, "b")[1], 4, "the others stay dead")
    r = env.ctl("retry", "--dead")
    eq(r.stdout.strip(), "3 dead action(s) queued again", "retry --dead")
    once(env, at(7 * M))
    eq(row(env, "b")[1], 2, "b delivered after retry --dead")
    eq(row(env, "f")[1:3], (4, 1), "failed for good: dead at once")
    eq(row(env, "f")[4], "told to fail", "with the plugin's reason")
    eq(row(env, "hl")[1], 5, "held")
    eq(row(env, "hl")[4], "told to hold", "with the plugin's reason")
    hist = [e for e in env.show("hl")["history"] if e["what"] == "action"]
    eq(hist[-1]["status"], "held", "show says held")
    ids = {a[0] for a in arrivals(sink)}
    eq(ids, {r[0] for r in env.sql("SELECT id FROM outbox")}, "every attempt carried a queued id")
    r = once(env, at(8 * M))
    check("dispatched: 0 done" in r.stderr, "nothing left to do", r.stderr)

done()

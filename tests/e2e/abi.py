"""Plugin ABI 1.1 beside 1.0: a plugin built against the frozen 1.0 header
(tests/plugins/legacy.c) loads and works unchanged in the real daemon, its
return codes, notes, traits, templates, hand-off and announcement included;
--check starts no plugin (no init() runs), calls a 1.1 plugin's
check_settings() and check() without a state, and a 1.0 plugin's tables
only; journeyd --version names the ABI."""
import os
from jdtest import Env, track, identify, eq, check, done

NOW = "2026-03-01T09:00:00Z"
T0 = 1772355600


def conf(env, sink_extra="", rule_extra=""):
    env.write_conf("""
retry_min = "1h";
retry_max = "2h";
plugins = {
  old = { module = "legacy"; file = "%(d)s/legacy.txt"; init_file = "%(d)s/legacy.init"; };
  sink = { module = "testsink"; init_file = "%(d)s/sink.init"; %(sink)s };
  note = { module = "log"; prefix = "offer"; };
  wide = { module = "wide"; alpha = "A"; };
};
journeys = (
  { name = "a"; entry = "count('signup') >= 1"; stages = [ "in" ];
    rules = (
      { name = "done"; when = "attr('mode') == 'done'";
        action = { plugin = "old"; greeting = "Hi {{first_name}} in {{journey}}"; }; },
      { name = "retry"; when = "attr('mode') == 'retry'"; action = { plugin = "old"; mode = "retry"; }; },
      { name = "hold"; when = "attr('mode') == 'hold'"; action = { plugin = "old"; mode = "hold"; }; },
      { name = "fail"; when = "attr('mode') == 'fail'"; action = { plugin = "old"; mode = "fail"; }; },
      { name = "handoff"; when = "attr('mode') == 'handoff'"; action = { plugin = "old"; mode = "handoff"; to = "b"; }; },
      { name = "stall"; when = "attr('mode') == 'stall'"; action = { plugin = "old"; mode = "stall"; to = "b"; }; },
      { name = "suggest"; when = "attr('mode') == 'suggest'"; action = { plugin = "old"; mode = "suggest"; via = "note"; }; },
      { name = "sink"; when = "attr('mode') == 'done'"; action = { plugin = "sink"; %(rule)s }; },
      { name = "sink-enroll"; when = "attr('mode') == 'sink'"; action = { plugin = "sink"; enroll = "b"; }; },
      { name = "sink-nowhere"; when = "attr('mode') == 'sink'"; action = { plugin = "sink"; enroll = "zz"; }; },
      { name = "sink-silent"; when = "attr('mode') == 'sink'"; action = { plugin = "sink"; no_status = "true"; }; },
      { name = "wide"; when = "attr('mode') == 'sink'"; action = { plugin = "wide"; gamma = "G"; }; }
    ); },
  { name = "b"; stages = [ "first", "second" ]; }
);
""" % {"d": env.dir, "sink": sink_extra, "rule": rule_extra})


def action(env, user, rule):
    acts = [e for e in env.show(user)["history"]
            if e["what"] == "action" and e["rule"] == rule]
    eq(len(acts), 1, "one %s action for %s" % (rule, user))
    return acts[0]


with Env() as env:
    r = env.jd("--version")
    check("plugin ABI 1.1" in r.stdout, "--version names plugin ABI 1.1", r.stdout)

    # --check: nothing started, 1.0's check() (which needs its state) not
    # called, and nothing printed.
    conf(env)
    r = env.jd("--check")
    eq(r.stdout + r.stderr, "", "--check: a good config prints nothing")
    check(not os.path.exists(env.path("legacy.init")), "--check runs no 1.0 init()")
    check(not os.path.exists(env.path("sink.init")), "--check runs no 1.1 init()")
    check(not os.path.exists(env.db), "--check creates no database")

    # A 1.1 plugin's check() runs under --check, without a state...
    conf(env, rule_extra='reject = "true";')
    r = env.jd("--check", check_rc=1)
    check(":23: rule \"sink\": action for 'sink': testsink: told to reject" in r.stderr,
          "--check: a 1.1 check() runs, its message at the action's line", r.stderr)
    # ... and so does its check_settings().
    conf(env, sink_extra="hang_ms = -1;")
    r = env.jd("--check", check_rc=1)
    check(":8: plugin instance 'sink': hang_ms must not be negative" in r.stderr,
          "--check: check_settings() runs, its message at the instance's line", r.stderr)
    check(not os.path.exists(env.path("sink.init")), "still no init()")
    # Tables read by the entry size they declare.
    conf(env)
    with open(env.conf) as f:
        text = f.read()
    with open(env.conf, "w") as f:
        f.write(text.replace('alpha = "A";', 'beta = 1;'))
    r = env.jd("--check", check_rc=1)
    check(":10: plugin instance 'wide': 'alpha' is required" in r.stderr and
          r.stderr.count("\n") == 1, "wider table entries: read by their size", r.stderr)

    # The daemon runs the 1.0 plugin as it always did.
    conf(env)
    users = {"u-done": "done", "u-retry": "retry", "u-hold": "hold",
             "u-fail": "fail", "u-hand": "handoff", "u-stall": "stall",
             "u-sugg": "suggest", "u-sink": "sink"}
    lines = []
    for u, mode in users.items():
        lines.append(identify(u, {"mode": mode, "first_name": "Ann",
                                  "email": u + "@example.com"}))
        lines.append(track(u, "signup", "2026-03-01T08:00:00Z"))
    env.import_lines(lines)
    r = env.once(NOW)
    check(os.path.exists(env.path("legacy.init")) and os.path.exists(env.path("sink.init")),
          "the daemon starts both plugins")

    a = action(env, "u-done", "done")
    eq((a["status"], a["note"]), ("done", "legacy was here"), "1.0: done, with its note")
    with open(env.path("legacy.txt")) as f:
        got = {l.split()[0]: l.rstrip("\n") for l in f}
    eq(got[a["action"]], "%s 1 Hi Ann in a <u-done@example.com>" % a["action"],
       "1.0: render() and trait(), freed by the plugin, work")
    eq(action(env, "u-done", "sink")["status"], "done", "1.1: perform() beside it")

    a = action(env, "u-retry", "retry")
    eq((a["status"], a["reason"]), ("retrying", "busy, retry-after=0"), "1.0: retry")
    eq(env.sql("SELECT due - ?1 FROM outbox WHERE id = ?2", T0, a["action"]),
       [(3600,)], "a reason's 'retry-after=0' is not read: the backoff (retry_min) holds")
    a = action(env, "u-hold", "hold")
    eq((a["status"], a["reason"]), ("held", "legacy holds it"), "1.0: held")
    eq(action(env, "u-fail", "fail")["status"], "dead", "1.0: failed is dead")

    # host->enroll() and host->queue() of 1.0: applied with the outcome.
    eq(env.stage("u-hand", "b"), ("first", "active"), "1.0 hand-off: enrolled in b")
    steps = [(e["what"], e["rule"], e["time"]) for e in env.show("u-hand")["history"]
             if e["journey"] == "b"]
    eq(steps, [("entered", "handoff", NOW)], "one entered step, by the hand-off's rule")
    eq(action(env, "u-hand", "handoff")["status"], "done", "the hand-off is done")
    eq(env.stage("u-stall", "b"), None, "an enrollment asked for by a retried action is not applied")
    eq(action(env, "u-stall", "stall")["status"], "retrying", "that action is retried")
    acts = [(e["rule"], e["plugin"], e["status"]) for e in env.show("u-sugg")["history"]
            if e["what"] == "action"]
    eq(acts, [("suggest", "old", "done"), ("suggest", "note", "done")],
       "1.0 queue(): the announcement queued through 'note', and performed")
    eq(env.sql("SELECT params FROM outbox WHERE instance = 'note'"),
       [('{"message":"from legacy"}',)], "with the parameters the plugin gave")
    check("offer " in r.stderr and "from legacy" in r.stderr, "the announcement was logged", r.stderr[-2000:])

    # A 1.1 outcome's enrollment; one the config cannot have; no status.
    eq(env.stage("u-sink", "b"), ("first", "active"), "1.1: the outcome's enrollment applied")
    eq(action(env, "u-sink", "sink-enroll")["status"], "done", "with its action done")
    a = action(env, "u-sink", "sink-nowhere")
    eq((a["status"], a["reason"]), ("dead", 'the plugin asked for what cannot be: no journey "zz"'),
       "an enrollment in no journey: failed, with why")
    eq(action(env, "u-sink", "wide")["note"], "alpha=A beta=7 gamma=G",
       "wider table entries: settings, defaults and parameters as declared")
    a = action(env, "u-sink", "sink-silent")
    eq((a["status"], a["reason"]), ("retrying", "perform() set no status"),
       "an outcome without a status: retried, with why")
done()

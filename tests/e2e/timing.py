"""Timing (SPEC §15): a rule's window lets its action out only inside local
hours on local days of the subject's time zone, and it waits (never
dropped) across a weekend and a daylight-saving change; window and quiet
hours both apply. A delay queues the action that much later; when it
comes due it goes out if the subject is still at the rule's stage, and is
held, reason 'cancelled', if it left the stage or the journey, also when
the daemon was killed with SIGKILL while the actions waited. An on-enter
rule's delayed action is cancelled only when the subject left the journey
(SPEC §14.5): one that moved on to a later stage still gets it."""
import calendar
import time
from jdtest import Env, track, identify, eq, check, done
from sinklib import service, stop, wait_until

CONF = """
default_timezone = "Europe/Berlin";
interval = "1h";
plugins = { note = { module = "log"; }; };
journeys = (
  { name = "w"; entry = "count('signup') >= 1"; stages = [ "in" ];
    rules = (
      { name = "office"; when = "true"; action = { plugin = "note"; };
        window = { hours = "09:00-17:00"; days = "mon-fri"; }; },
      { name = "evening"; when = "true"; action = { plugin = "note"; };
        window = { hours = "20:00-23:00"; days = "mon-sun"; }; quiet_hours = "19:00-21:00"; }
    ); },
  { name = "d"; entry = "count('trial') >= 1"; exit = "count('quit') >= 1";
    stages = [ "trial", "paid" ];
    rules = (
      { name = "pay"; stage = "trial"; when = "count('pay') >= 1"; goto = "paid";
        action = { plugin = "note"; }; delay = "1h"; },
      { name = "remind"; stage = "trial"; when = "true"; delay = "2h";
        action = { plugin = "note"; }; },
      { name = "hello"; stage = "trial"; on = "enter"; delay = "2h";
        action = { plugin = "note"; }; }
    ); },
  { name = "e"; entry = "count('go') >= 1"; exit = "attr('out') == true"; reenter = true;
    stages = [ "in", "more" ];
    rules = ( { name = "hi"; on = "enter"; delay = "2h"; action = { plugin = "note"; }; } ); }
);
"""


def ts(iso):
    return calendar.timegm(time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ"))


def waiting(env):
    """The delay journey's actions not settled."""
    return env.sql("SELECT count(*) FROM outbox WHERE journey = 'd' AND status IN (0, 1, 3)")[0][0]


def rows(env, journey):
    return {(u, r): (st, due, reason) for u, r, st, due, reason in env.sql(
        "SELECT s.id, o.rule, o.status, o.due, o.reason FROM outbox o JOIN subjects s "
        "ON s.sid = o.subject WHERE o.journey = ?", journey)}


with Env() as env:
    env.write_conf(CONF)
    env.jd("--check")

    # --- Windows. Friday 2026-03-27 16:30Z: 17:30 in Berlin (closed),
    # 12:30 in New York (open). Berlin goes to summer time on Sunday.
    env.import_lines([identify("ny", {"timezone": "America/New_York"}),
                      track("ber", "signup", "2026-03-27T16:00:00Z"),
                      track("ny", "signup", "2026-03-27T16:00:00Z")])
    env.once("2026-03-27T16:30:00Z")
    w = rows(env, "w")
    eq(w[("ny", "office")][0], 2, "inside the subject's window: sent (New York, 12:30)")
    eq(w[("ber", "office")], (0, ts("2026-03-30T07:00:00Z"), "window in Europe/Berlin"),
       "outside: waits for Monday 09:00 in Berlin, summer time (07:00Z), over the weekend")
    # The evening window opens at 20:00 (19:00Z); quiet hours hold until
    # 21:00 (20:00Z): both apply, one after the other.
    eq(w[("ber", "evening")], (0, ts("2026-03-27T19:00:00Z"), "window in Europe/Berlin"),
       "evening: waits for the window")
    env.once("2026-03-27T19:00:00Z")
    eq(rows(env, "w")[("ber", "evening")],
       (0, ts("2026-03-27T20:00:00Z"), "quiet hours 19:00-21:00 in Europe/Berlin"),
       "evening: in the window but in quiet hours: waits for their end")
    env.once("2026-03-27T20:00:00Z")
    eq(rows(env, "w")[("ber", "evening")][0], 2, "evening: sent when both allow")
    for now in ("2026-03-28T10:00:00Z", "2026-03-29T10:00:00Z", "2026-03-30T06:59:00Z"):
        env.once(now)
        eq(rows(env, "w")[("ber", "office")][:2], (0, ts("2026-03-30T07:00:00Z")),
           "office: still waiting at %s, not dropped" % now)
    env.once("2026-03-30T07:00:00Z")
    eq(rows(env, "w")[("ber", "office")][0], 2, "office: sent on Monday at 09:00 local")

    # --- Delays, across a SIGKILL. Three subjects start a trial at 09:00:
    # one stays, one pays (leaves the rule's stage), one quits the journey.
    env.import_lines([track(u, "trial", "2026-04-01T08:00:00Z")
                      for u in ("stay", "payer", "quitter")])
    env.once("2026-04-01T09:00:00Z")
    d = rows(env, "d")
    eq(d, {(u, r): (0, ts("2026-04-01T11:00:00Z"), None)
           for u in ("stay", "payer", "quitter") for r in ("remind", "hello")},
       "delay 2h: queued, due two hours later")
    env.import_lines([track("payer", "pay", "2026-04-01T09:30:00Z"),
                      track("quitter", "quit", "2026-04-01T09:30:00Z")])
    log = env.path("jd.log")
    p = service(env, log, now="2026-04-01T10:00:00Z")
    wait_until(lambda: env.stage("payer", "d") == ("paid", "completed")
               and env.stage("quitter", "d") is not None
               and env.stage("quitter", "d")[1] == "exited",
               "the daemon's tick to move the payer and exit the quitter", proc=p)
    eq(waiting(env), 7, "at 10:00 the delayed actions still wait (the payer's pay too)")
    p.kill()
    p.wait()
    eq(waiting(env), 7, "killed with SIGKILL while they wait: still queued")
    p = service(env, log, now="2026-04-01T11:00:00Z")
    wait_until(lambda: waiting(env) == 0, "the delayed actions to come due", proc=p)
    eq(stop(p), 0, "SIGTERM: exit 0")
    d = rows(env, "d")
    eq({k: (v[0], v[2]) for k, v in d.items()},
       {("stay", "remind"): (2, None), ("payer", "remind"): (5, "cancelled"),
        ("quitter", "remind"): (5, "cancelled"), ("payer", "pay"): (2, None),
        ("stay", "hello"): (2, None), ("payer", "hello"): (2, None),
        ("quitter", "hello"): (5, "cancelled")},
       "when due: sent to who stayed, cancelled for who left the stage or the journey; "
       "a goto's delayed action goes out while the subject stays where it led; "
       "an on-enter one goes out to who moved on in the journey, even to its last stage")
    eq([(e["rule"], e["status"], e.get("reason")) for e in env.show("payer")["history"]
        if e["what"] == "action" and e["rule"] != "hello"],
       [("remind", "held", "cancelled"), ("pay", "done", None)],
       "show: the cancelled action is held, reason cancelled")

    # An on-enter action waiting on its delay when the subject leaves and
    # comes back: the first entry's is cancelled (it left the journey), the
    # re-entry's goes out.
    env.import_lines([track("back", "go", "2026-04-02T08:00:00Z")])
    env.once("2026-04-02T09:00:00Z")
    env.import_lines([identify("back", {"out": True}, "2026-04-02T09:10:00Z")])
    env.once("2026-04-02T09:30:00Z")
    eq(env.stage("back", "e"), ("in", "exited"), "back left the journey")
    env.import_lines([identify("back", {"out": False}, "2026-04-02T09:40:00Z")])
    env.once("2026-04-02T10:00:00Z")
    eq(env.stage("back", "e"), ("in", "active"), "and came back")
    for now in ("2026-04-02T11:00:00Z", "2026-04-02T12:00:00Z"):
        env.once(now)
    eq(env.sql("SELECT due, status, reason FROM outbox WHERE journey = 'e' ORDER BY due"),
       [(ts("2026-04-02T11:00:00Z"), 5, "cancelled"), (ts("2026-04-02T12:00:00Z"), 2, None)],
       "the first entry's welcome is cancelled (it left the journey), the re-entry's sent")
done()

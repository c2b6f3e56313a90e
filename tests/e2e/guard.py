"""Guardrails end to end (SPEC §11): frequency caps per instance across
journeys, ignore_limits, quiet hours in the subject's time zone across a
daylight-saving change, and holdouts by a stable hash."""
from jdtest import Env, track, identify, eq, check, done, holdout_bucket

CONF = """
default_timezone = "Europe/Berlin";
plugins = {
  note  = { module = "log"; limit = { max = 2; per = "7d"; }; };
  other = { module = "log"; };
  quiet = { module = "log"; quiet_hours = "21:00-08:00"; };
};
journeys = (
  { name = "cap"; entry = "count('signup') >= 1"; stages = [ "a" ];
    rules = (
      { name = "ping"; when = "count('ping', 1d) >= 1"; repeat = "1d";
        action = { plugin = "note"; }; },
      { name = "receipt"; when = "count('buy', 1d) >= 1"; repeat = "1d";
        ignore_limits = true; action = { plugin = "note"; }; },
      { name = "elsewhere"; when = "count('ping', 1d) >= 1"; repeat = "1d";
        action = { plugin = "other"; }; }
    ); },
  { name = "cap2"; entry = "count('signup') >= 1"; stages = [ "b" ];
    rules = (
      { name = "pong"; when = "count('pong', 1d) >= 1"; repeat = "1d";
        action = { plugin = "note"; }; }
    ); },
  { name = "qh"; entry = "count('q') >= 1"; stages = [ "q" ];
    rules = (
      { name = "tip"; when = "true"; action = { plugin = "quiet"; }; },
      { name = "anytime"; when = "true"; quiet_hours = "00:00-00:00";
        action = { plugin = "quiet"; }; },
      { name = "late"; when = "true"; quiet_hours = "22:30-23:30";
        action = { plugin = "quiet"; }; }
    ); },
  { name = "ho"; entry = "count('h') >= 1"; stages = [ "x", "y" ];
    rules = (
      { name = "offer"; stage = "x"; when = "true"; holdout = 30; repeat = "1d";
        action = { plugin = "other"; }; }
    ); }
);
"""


def actions(env, user, journey=None):
    return [(e["journey"], e["rule"], e["status"], e.get("reason"))
            for e in env.show(user)["history"]
            if e["what"] == "action" and (journey is None or e["journey"] == journey)]


def day(d, hm="09:00"):
    return "2026-02-%02dT%s:00Z" % (d, hm)


with Env() as env:
    env.write_conf(CONF)
    r = env.jd("--check")

    # --- Frequency caps: at most 2 'note' actions per subject per 7 days.
    env.import_lines([track("ann", "signup", day(1, "08:00")),
                      track("ann", "ping", day(1, "08:30")),
                      track("ann", "ping", day(2, "08:30")),
                      track("ann", "ping", day(3, "08:30")),
                      track("ann", "buy", day(3, "08:30")),
                      track("ann", "pong", day(4, "08:30")),
                      track("ann", "ping", day(8, "08:30")),
                      track("ann", "ping", day(9, "08:30"))])
    env.once(day(1))
    env.once(day(2))
    eq(actions(env, "ann", "cap"), [("cap", "ping", "done", None),
                                    ("cap", "elsewhere", "done", None),
                                    ("cap", "ping", "done", None),
                                    ("cap", "elsewhere", "done", None)],
       "cap: two actions in the window are sent")
    env.once(day(3))
    got = actions(env, "ann", "cap")[4:]
    eq(sorted(got), sorted([("cap", "ping", "held", "limit: 2 per 7d"),
                            ("cap", "receipt", "done", None),
                            ("cap", "elsewhere", "done", None)]),
       "cap: the third is held with the reason; ignore_limits is sent; "
       "another instance has its own cap")
    eq(env.sql("SELECT attempts, first_try FROM outbox WHERE rule = 'ping' AND status = 5"),
       [(0, None)], "cap: a held action was not attempted")
    env.once(day(4))
    eq(actions(env, "ann", "cap2"), [("cap2", "pong", "held", "limit: 2 per 7d")],
       "cap: across journeys (receipts do not count, held ones neither)")
    env.once(day(8))
    eq(actions(env, "ann", "cap")[-2][1:3], ("ping", "done"),
       "cap: rolling window: day 1's action has left it on day 8")
    env.once(day(9))
    # day 9, 09:00: the window is (day 2 09:00, day 9 09:00]: day 8 only.
    eq(actions(env, "ann", "cap")[-2][1:3], ("ping", "done"),
       "cap: day 2's delivery left the window exactly 7 days later")

    # --- Quiet hours, 21:00-08:00 in the subject's zone, across Berlin's
    # change to summer time on 2026-03-29 (08:00 local: 07:00Z, then 06:00Z).
    env.import_lines([
        track("b1", "q", "2026-03-27T21:30:00Z"),
        identify("ny", {"timezone": "America/New_York"}),
        track("ny", "q", "2026-03-28T21:30:00Z"),
        identify("bad", {"timezone": "Mars/Olympus_Mons"}),
        track("bad", "q", "2026-03-28T21:30:00Z"),
        track("b2", "q", "2026-03-28T21:30:00Z"),
        identify("utc", {"timezone": "UTC"}),
        track("utc", "q", "2026-03-28T21:30:00Z"),
    ])
    env.once("2026-03-27T22:00:00Z")    # 23:00 CET
    q = lambda u, rule="tip": env.sql(
        "SELECT o.status, strftime('%Y-%m-%dT%H:%M:%SZ', o.due, 'unixepoch'), "
        "o.attempts, o.reason FROM outbox o JOIN subjects s ON s.sid = o.subject "
        "WHERE s.id = ? AND o.rule = ?", u, rule)[0]
    eq(q("b1"), (0, "2026-03-28T07:00:00Z", 0, "quiet hours 21:00-08:00 in Europe/Berlin"),
       "quiet: deferred to 08:00 CET (07:00Z), pending, no attempt counted")
    eq(q("b1", "anytime")[0], 2, "quiet: a rule's empty window sends at any hour")
    eq(q("b1", "late")[:2], (0, "2026-03-27T22:30:00Z"),
       "quiet: the rule's quiet hours override the instance's")
    env.once("2026-03-28T06:59:59Z")
    eq(q("b1")[0], 0, "quiet: not sent before they end")
    env.once("2026-03-28T07:00:00Z")
    eq(q("b1")[:3], (2, "2026-03-28T07:00:00Z", 1), "quiet: sent once they ended, one attempt")
    env.once("2026-03-28T22:00:00Z")    # 23:00 CET, the night of the change
    eq(q("b2")[:2], (0, "2026-03-29T06:00:00Z"), "quiet: across the change: 08:00 CEST is 06:00Z")
    eq(q("bad")[:2], (0, "2026-03-29T06:00:00Z"), "quiet: an unknown timezone trait falls back to default_timezone")
    eq(q("ny")[0], 2, "quiet: 18:00 in New York is not quiet")
    eq(q("utc")[:2], (0, "2026-03-29T08:00:00Z"), "quiet: a UTC subject waits until 08:00Z")
    eq(q("b2", "late")[:2], (0, "2026-03-28T22:30:00Z"), "quiet: a window within the evening")
    env.once("2026-03-29T05:59:00Z")
    eq(q("b2")[0], 0, "quiet: still quiet at 07:59 CEST")
    env.once("2026-03-29T06:00:00Z")
    eq(q("b2")[:3], (2, "2026-03-29T06:00:00Z", 1), "quiet: sent at 08:00 CEST")
    h = [e for e in env.show("b2")["history"] if e["what"] == "action" and e["rule"] == "tip"]
    eq((h[0]["status"], h[0]["attempts"]), ("done", 1), "quiet: one history entry, done")

    # --- Holdouts: 30% of subjects, by a fixed hash, held with 'holdout'.
    users = ["h%03d" % i for i in range(200)]
    env.import_lines([track(u, "h", "2026-04-01T08:00:00Z") for u in users])
    r = env.jd("--dry-run", "--now", "2026-04-01T09:00:00Z")
    expect_out = {u for u in users if holdout_bucket("ho/offer/" + u) < 30}
    some = sorted(expect_out)[0]
    check("ho %s: action other at x (rule offer) held out" % some in r.stdout,
          "holdout: the dry run says who is held out", r.stdout[:500])
    env.once("2026-04-01T09:00:00Z")
    rows = env.sql("SELECT s.id, o.status, o.reason FROM outbox o JOIN subjects s "
                   "ON s.sid = o.subject WHERE o.rule = 'offer'")
    held = {u for u, st, why in rows if st == 5 and why == "holdout"}
    sent = {u for u, st, why in rows if st == 2 and why is None}
    eq(len(rows), 200, "holdout: every subject has its action row")
    eq(held, expect_out, "holdout: exactly the subjects whose FNV-1a bucket is below 30")
    eq(sent, set(users) - expect_out, "holdout: the others are treated (sent)")
    check(40 <= len(held) <= 80, "holdout: about 30%% (%d of 200)" % len(held))
    eq(actions(env, some, "ho"), [("ho", "offer", "held", "holdout")],
       "holdout: the history says held (holdout)")
    env.once("2026-04-02T09:30:00Z")   # repeat: the same subjects again
    rows = env.sql("SELECT s.id FROM outbox o JOIN subjects s ON s.sid = o.subject "
                   "WHERE o.rule = 'offer' AND o.status = 5 AND o.created > "
                   "strftime('%s', '2026-04-02')")
    eq({u for (u,) in rows}, expect_out, "holdout: stable from one firing to the next")

    # A default_timezone the tz database does not know is a config error.
    env.write_conf('default_timezone = "Nowhere/City";\n')
    r = env.jd("--check", check_rc=1)
    check("unknown time zone \"Nowhere/City\"" in r.stderr and ".conf:3:" in r.stderr,
          "--check: an unknown default_timezone is an error with its line", r.stderr)
done()

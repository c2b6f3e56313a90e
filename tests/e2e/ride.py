"""The ride app journey end to end: signed up -> first ride -> frequent ->
pass member, with windows, duplicates, repeat once and every 7 days, an
exit, several stages in one tick, dry runs, explain and show --json."""
import sys
from jdtest import Env, track, identify, eq, check, ok, done

CONF = """
interval = "1m";
plugins = { note = { module = "log"; }; };
journeys = (
  { name = "rider";
    entry = "count('signup') >= 1";
    exit = "attr('deleted') == true";
    stages = [ "new", "first_ride", "frequent", "pass_member" ];
    rules = (
      { name = "first-ride"; stage = "new"; when = "count('ride') >= 1"; goto = "first_ride"; },
      { name = "nudge"; stage = "new"; when = "stage_age >= 2d";
        action = { plugin = "note"; message = "take your first ride, {{first_name}}"; }; },
      { name = "frequent"; stage = "first_ride"; when = "count('ride', 30d) >= 8"; goto = "frequent"; },
      { name = "offer-pass"; stage = "frequent";
        when = "count('ride', 30d) >= 12 and attr('plan') != 'pass'";
        action = { plugin = "note"; }; repeat = "7d"; },
      { name = "pass"; stage = "frequent"; when = "attr('plan') == 'pass'"; goto = "pass_member"; }
    ); }
);
"""

NOW = "2026-03-01T09:00:00Z"


def rides(user, days_ago, base_day=28, month="02"):
    """Ride events on given days of February (2026-02-DD)."""
    out = []
    for d in days_ago:
        out.append(track(user, "ride", "2026-%s-%02dT08:00:00Z" % (month, base_day - d)))
    return out


with Env() as env:
    env.write_conf(CONF)
    signup = [track(u, "signup", "2026-01-10T10:00:00Z") for u in
              ["new1", "one", "many", "old", "offer", "pass", "dup", "gone"]]
    lines = signup + [
        identify("new1", {"first_name": "Ann"}),
        track("one", "ride", "2026-02-20T08:00:00Z"),
        identify("offer", {"plan": "basic"}),
        identify("pass", {"plan": "pass"}),
    ]
    lines += rides("many", range(10))                  # 10 rides in 30 days
    lines += rides("old", range(5))                    # 5 recent ...
    lines += [track("old", "ride", "2026-01-%02dT08:00:00Z" % d) for d in range(1, 6)]  # ... 5 too old
    lines += rides("offer", range(12))                 # 12 rides in 12 days
    lines += rides("pass", range(9))
    lines += [track("dup", "ride", "2026-02-%02dT08:00:00Z" % (10 + i), mid="dup-%d" % i) for i in range(7)]
    lines += [track("one", "ride", "2026-03-05T08:00:00Z")]   # in the future: not counted
    env.import_lines(lines)
    # Duplicates: the same 7 rides again, by messageId, and a whole re-import.
    env.import_lines([track("dup", "ride", "2026-02-%02dT08:00:00Z" % (10 + i), mid="dup-%d" % i) for i in range(7)])
    env.import_lines(lines)

    # A dry run prints what would happen and changes nothing.
    before = env.sql("SELECT (SELECT count(*) FROM members), (SELECT count(*) FROM history), (SELECT count(*) FROM outbox)")
    r = env.jd("--dry-run", "--now", NOW)
    after = env.sql("SELECT (SELECT count(*) FROM members), (SELECT count(*) FROM history), (SELECT count(*) FROM outbox)")
    eq(after, before, "dry run changes nothing")
    check("rider many: moved new -> first_ride (rule first-ride)" in r.stdout, "dry run prints a transition", r.stdout)
    check("rider many: moved first_ride -> frequent (rule frequent)" in r.stdout, "dry run prints the second step", r.stdout)
    check("rider new1: entered at new" in r.stdout, "dry run prints an entry", r.stdout)
    check("rider offer: action note at frequent (rule offer-pass)" in r.stdout, "dry run prints an action", r.stdout)

    env.once(NOW)
    eq(env.stage("new1", "rider"), ("new", "active"), "signed up, no ride: new")
    eq(env.stage("one", "rider"), ("first_ride", "active"), "one ride: first_ride (a future ride does not count)")
    eq(env.stage("many", "rider"), ("frequent", "active"), "10 rides in 30 days: frequent in one tick")
    eq(env.stage("old", "rider"), ("first_ride", "active"), "rides outside the window do not count")
    eq(env.stage("dup", "rider"), ("first_ride", "active"), "duplicates counted once (7 rides, needs 8)")
    eq(env.stage("pass", "rider"), ("pass_member", "completed"), "pass member: completed")

    h = env.show("many")["history"]
    steps = [(e["what"], e.get("stage"), e.get("rule"), e["time"]) for e in h if e["journey"] == "rider"]
    eq(steps, [("entered", "new", "entry", NOW),
               ("moved", "first_ride", "first-ride", NOW),
               ("moved", "frequent", "frequent", NOW)], "every step in the history with its time and rule")
    h = env.show("pass")["history"]
    eq([e["what"] for e in h], ["entered", "moved", "moved", "moved", "completed"], "completion recorded")

    # offer-pass fired for 'offer' (basic plan), not for 'pass' or 'many' (< 12 rides).
    acts = [e for e in env.show("offer")["history"] if e["what"] == "action"]
    eq(len(acts), 1, "offer-pass queued once")
    eq((acts[0]["rule"], acts[0]["status"]), ("offer-pass", "done"), "and delivered")
    eq([e for e in env.show("many")["history"] if e["what"] == "action"], [], "no offer below 12 rides")

    # The nudge waits for 2 days in 'new'.
    eq([e for e in env.show("new1")["history"] if e["what"] == "action"], [], "no nudge at once")
    env.once("2026-03-03T10:00:00Z")
    acts = [e for e in env.show("new1")["history"] if e["what"] == "action"]
    eq([(a["rule"], a["status"], a["time"]) for a in acts], [("nudge", "done", "2026-03-03T10:00:00Z")], "nudge after 2 days, at --now")
    env.once("2026-03-04T10:00:00Z")
    acts = [e for e in env.show("new1")["history"] if e["what"] == "action"]
    eq(len(acts), 1, "repeat once: the nudge is not sent again")

    # repeat = 7d: not again after a day, again after 8 days while it holds.
    env.once("2026-03-05T09:00:00Z")
    eq(len([e for e in env.show("offer")["history"] if e["what"] == "action"]), 1, "repeat 7d: not again within 7 days")
    # ... in the same tick as a rider who signs up and climbs to frequent at
    # once: the rule fires for the member and for the newcomer alike.
    env.import_lines([track("late", "signup", "2026-03-08T10:00:00Z"), identify("late", {"plan": "basic"})] +
                     rides("late", range(8), base_day=8, month="03") + rides("late", range(4)))
    env.once("2026-03-09T09:00:00Z")
    eq(len([e for e in env.show("offer")["history"] if e["what"] == "action"]), 2, "repeat 7d: again after 8 days")
    steps = [(e["what"], e.get("stage"), e.get("rule")) for e in env.show("late")["history"]]
    eq(steps, [("entered", "new", "entry"), ("moved", "first_ride", "first-ride"),
               ("moved", "frequent", "frequent"), ("action", "frequent", "offer-pass")],
       "a newcomer climbs and gets the action of its settled stage in the same tick")

    # Exit: a deleted rider leaves and does not come back.
    env.import_lines([identify("gone", {"deleted": True})])
    env.once("2026-03-10T09:00:00Z")
    eq(env.stage("gone", "rider"), ("new", "exited"), "deleted: exited")
    env.import_lines([identify("gone", {"deleted": None}), track("gone", "signup", "2026-03-10T10:00:00Z")])
    env.once("2026-03-11T09:00:00Z")
    eq(env.stage("gone", "rider"), ("new", "exited"), "exited subjects do not re-enter")

    # explain shows the values that decided.
    r = env.ctl("explain", "old", "--now", NOW)
    check("count('ride', 30d) = 5 (needs >= 8)" in r.stdout, "explain shows the deciding value", r.stdout)
    check("rule frequent" in r.stdout, "explain names the rule", r.stdout)
    r = env.ctl("explain", "nobody", check_rc=1)
    r = env.ctl("show", "nobody", check_rc=1)
    ok("unknown id: exit 1")

    s = env.show("offer")
    eq((s["id"], s["kind"], s["traits"]["plan"]), ("offer", "user", "basic"), "show --json: id, kind, traits")
    eq(s["journeys"]["rider"]["status"], "active", "show --json: journeys")

    r = env.ctl("status")
    check("journey rider" in r.stdout and "pass_member" in r.stdout, "status lists journeys and stages", r.stdout)
    check("last tick: 2026-03-11T09:00:00Z" in r.stdout, "status: last tick at --now", r.stdout)
done()

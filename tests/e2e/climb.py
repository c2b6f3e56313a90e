"""Entrants climb by their masks (src/engine/tick.c): many goto rules, and
more distinct masks than the tick tallies as it writes them (4096), so that
they are counted the other way too; every subject settles where the rules
say, with every step in its history, and the tick's counts add up.

The engine has two implementations of a goto rule: entrants climb by their
masks, members by tick_transition. With JOURNEYD_TICK_NOCLIMB set, entrants
are written at the first stage and climb with the members: the second part
runs a journey with actions on goto rules, folded and unfolded action rules,
a holdout and a repeat both ways over the same data, across several chunks,
and finds the same memberships, history and actions."""
import os
import re
from jdtest import Env, identify, track, eq, check, done

BITS = 13
USERS = 5000            # more distinct masks than the tally holds

stages = ", ".join('"s%d"' % k for k in range(BITS + 1))
rules = ",\n".join(
    '{ name = "r%d"; when = "count(\'e%d\') >= 1"; goto = "s%d"; }' % (k, k, k)
    for k in range(1, BITS + 1))
CONF = """
journeys = ( { name = "climb"; entry = "count('signup') >= 1";
  stages = [ %s ];
  rules = ( %s ); } );
""" % (stages, rules)


def top(i):
    """The stage user i settles at: the last rule, in order, that holds."""
    return "s%d" % i.bit_length()


with Env() as env:
    env.write_conf(CONF)
    lines = []
    for i in range(USERS):
        lines.append(track("u%d" % i, "signup", "2026-01-01T00:00:00Z"))
        for k in range(BITS):
            if i >> k & 1:
                lines.append(track("u%d" % i, "e%d" % (k + 1), "2026-02-01T00:00:00Z"))
    env.import_lines(lines)
    r = env.once("2026-03-01T09:00:00Z")
    got = dict(env.sql("SELECT s.id, m.stage FROM members m JOIN subjects s ON s.sid = m.subject "
                       "WHERE m.journey = 'climb'"))
    eq(len(got), USERS, "every user entered")
    wrong = [u for u in got if got[u] != top(int(u[1:]))]
    eq(wrong, [], "every user at the stage of the last rule that holds for it")
    moves = sum(bin(i).count("1") for i in range(USERS))
    done_ = sum(1 for i in range(USERS) if i.bit_length() == BITS)
    m = re.search(r"tick: (\d+) entered, (\d+) moved, (\d+) completed", r.stderr)
    check(m is not None, "the tick logs its counts", r.stderr)
    eq(tuple(int(x) for x in m.groups()), (USERS, moves, done_),
       "entered, moved and completed counted once each")
    eq(env.sql("SELECT count(*) FROM history_steps WHERE what = 'moved'")[0][0], moves,
       "a move in the history for each")
    steps = [(e["what"], e["stage"], e.get("rule")) for e in env.show("u5")["history"]]
    eq(steps, [("entered", "s0", "entry"), ("moved", "s1", "r1"), ("moved", "s3", "r3")],
       "u5 (e1, e3): entered, then each move in rule order")
    eq(env.stage("u%d" % (USERS - 1), "climb"), (top(USERS - 1), "completed"),
       "the last stage completes the journey")


# The same data through both implementations of a goto rule.
CONF2 = """
plugins = { log = { }; };
journeys = ( { name = "ride"; entry = "count('signup') >= 1";
  exit = "attr('gone') == true";
  stages = [ "new", "first", "frequent", "pass" ];
  rules = (
    { name = "first"; stage = "new"; when = "count('ride') >= 1"; goto = "first";
      action = { plugin = "log"; message = "welcome"; }; },
    { name = "nudge"; stage = "new"; when = "count('ride') == 0";
      action = { plugin = "log"; }; holdout = 30; },
    { name = "frequent"; stage = "first"; when = "count('ride', 30d) >= 5";
      goto = "frequent"; },
    { name = "offer"; stage = "frequent"; when = "count('ride', 30d) >= 8 and "
      "not (attr('plan') == 'pass')"; action = { plugin = "log"; }; repeat = "7d"; },
    { name = "pass"; stage = [ "first", "frequent" ]; when = "attr('plan') == 'pass'";
      goto = "pass"; action = { plugin = "log"; message = "pass"; }; },
    { name = "late"; stage = "frequent"; when = "since('ride') >= 3d";
      action = { plugin = "log"; }; }
  ); } );
"""


def outcome(noclimb):
    """Run two ticks over the same data; what they wrote, by subject id."""
    if noclimb:
        os.environ["JOURNEYD_TICK_NOCLIMB"] = "1"
    else:
        os.environ.pop("JOURNEYD_TICK_NOCLIMB", None)
    with Env() as env:
        env.write_conf(CONF2)
        lines, later = [], []
        for i in range(9000):
            u = "u%d" % i
            lines.append(track(u, "signup", "2026-01-01T00:00:00Z"))
            for k in range(i % 11):
                lines.append(track(u, "ride", "2026-02-%02dT08:00:00Z" % (10 + k)))
            if i % 7 == 0:
                lines.append(identify(u, {"plan": "pass"}, "2026-02-20T00:00:00Z"))
            if i % 13 == 0:
                later.append(identify(u, {"gone": True}, "2026-03-05T00:00:00Z"))
        env.import_lines(lines)
        env.once("2026-02-25T09:00:00Z")
        env.import_lines(later)
        env.once("2026-03-06T09:00:00Z")
        members = env.sql("SELECT s.id, m.stage, m.status, m.entered, m.stage_since "
                          "FROM members m JOIN subjects s ON s.sid = m.subject "
                          "ORDER BY s.id")
        history = env.sql("SELECT s.id, h.ts, h.what, h.stage, h.from_stage, h.rule, "
                          "o.instance, o.status, o.reason FROM history_steps h JOIN "
                          "subjects s ON s.sid = h.subject LEFT JOIN outbox o ON "
                          "o.aid = h.action ORDER BY s.id, h.hid, h.part")
        outbox = env.sql("SELECT s.id, o.rule, o.stage, o.instance, o.params, o.status "
                         "FROM outbox o JOIN subjects s ON s.sid = o.subject "
                         "ORDER BY s.id, o.rule, o.created")
        return members, history, outbox


climbed = outcome(False)
walked = outcome(True)
os.environ.pop("JOURNEYD_TICK_NOCLIMB", None)
check(len(climbed[0]) == 9000 and len(climbed[2]) > 9000,
      "the comparison has entrants, moves and actions",
      repr((len(climbed[0]), len(climbed[2]))))
eq(walked[0], climbed[0], "memberships: the same with and without climbing")
eq(walked[1], climbed[1], "history: the same with and without climbing")
eq(walked[2], climbed[2], "actions: the same with and without climbing")

done()

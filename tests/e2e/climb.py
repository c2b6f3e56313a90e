"""Entrants climb by their masks (src/tick.c): many goto rules, and more
distinct masks than the tick tallies as it writes them (4096), so that they
are counted the other way too; every subject settles where the rules say,
with every step in its history, and the tick's counts add up."""
import re
from jdtest import Env, track, eq, check, done

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

done()

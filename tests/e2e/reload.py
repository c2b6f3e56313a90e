"""SIGHUP reloads that take a stage or a journey away: the subjects stay
where they are, with a warning in the log, and nothing is lost; later
ticks still work for the rest. The daemon runs as a service; the test
waits on its log (every reload ticks at once), never on the clock."""
import os
import signal
import subprocess
import sys
import time
from jdtest import Env, JOURNEYD, track, eq, check, done

RIDER_V1 = """
  { name = "rider"; entry = "count('signup') >= 1";
    stages = [ "new", "first_ride", "frequent" ];
    rules = (
      { name = "first-ride"; stage = "new"; when = "count('ride') >= 1"; goto = "first_ride"; },
      { name = "frequent"; stage = "first_ride"; when = "count('ride') >= 3"; goto = "frequent"; }
    ); }"""
# first_ride is gone: its rule too; new riders go straight to frequent.
RIDER_V2 = """
  { name = "rider"; entry = "count('signup') >= 1";
    stages = [ "new", "frequent" ];
    rules = (
      { name = "frequent"; stage = "new"; when = "count('ride') >= 3"; goto = "frequent"; }
    ); }"""
OTHER = """
  { name = "%s"; entry = "count('signup') >= 1";
    stages = [ "trial", "paid" ];
    rules = ( { name = "paid"; stage = "trial"; when = "count('pay') >= 1"; goto = "paid"; } ); }"""


def conf(env, rider, other):
    env.write_conf('interval = "1h";\njourneys = (%s,%s\n);\n'
                   % (rider, OTHER % other))


def wait_for(what, pred, timeout=60):
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            print("FAIL: timed out waiting for %s" % what, file=sys.stderr)
            sys.exit(1)
        time.sleep(0.02)


with Env() as env:
    log = env.path("log")

    def log_text():
        with open(log) as f:
            return f.read()

    def ticks():
        return log_text().count("tick: ")

    def reload(want):
        """SIGHUP; wait for the reload and the tick that follows it."""
        n, r = ticks(), log_text().count(want)
        proc.send_signal(signal.SIGHUP)
        wait_for(want, lambda: log_text().count(want) > r)
        wait_for("the tick after the reload", lambda: ticks() > n)

    def members(journey):
        return env.sql("SELECT s.id, m.stage, m.status, m.entered, m.stage_since "
                       "FROM members m JOIN subjects s ON s.sid = m.subject "
                       "WHERE m.journey = ? ORDER BY s.id", journey)

    def counts():
        return env.sql("SELECT (SELECT count(*) FROM members), "
                       "(SELECT count(*) FROM history), (SELECT count(*) FROM events)")[0]

    conf(env, RIDER_V1, "other")
    T = "2026-02-%02dT10:00:00Z"
    env.import_lines([track(u, "signup", T % 1) for u in ("one", "three", "zero")] +
                     [track("one", "ride", T % 2)] +
                     [track("three", "ride", T % d) for d in (2, 3, 4)])

    with open(log, "w") as out:
        proc = subprocess.Popen([JOURNEYD, "-c", env.conf, "--now",
                                 "2026-03-01T09:00:00Z"],
                                stdout=out, stderr=subprocess.STDOUT)
    env.procs.append(proc)
    wait_for("the first tick", lambda: ticks() >= 1)
    eq([m[:3] for m in members("rider")],
       [("one", "first_ride", 0), ("three", "frequent", 1), ("zero", "new", 0)],
       "v1: one at first_ride, three at frequent (completed), zero new")
    rider_before = members("rider")
    other_before = members("other")
    eq(len(other_before), 3, "v1: everyone in 'other'")
    before = counts()

    # Reload without the stage first_ride.
    conf(env, RIDER_V2, "other")
    reload("reloaded: 2 journey")
    check('journey "rider" has no stage "first_ride" any more; its 1 subject(s) '
          'stay there' in log_text(), "warning names the lost stage and how many", log_text())
    eq(members("rider"), rider_before, "the subject at the removed stage stays, row unchanged")
    eq(members("other"), other_before, "the other journey unchanged")
    eq(counts(), before, "nothing lost: members, history and events as they were")

    # Later ticks still work: zero rides three times and goes to frequent;
    # 'one' stays where it is; the other journey moves on.
    env.import_lines([track("zero", "ride", T % d) for d in (5, 6, 7)] +
                     [track("one", "pay", T % 8)])
    reload("reloaded: 2 journey")
    r = dict((m[0], m[1:3]) for m in members("rider"))
    eq(r, {"one": ("first_ride", 0), "three": ("frequent", 1), "zero": ("frequent", 1)},
       "after the reload rules still move the others; the stranded one stays")
    eq([m[1] for m in members("other")], ["paid", "trial", "trial"],
       "the other journey still ticks")
    moved = env.sql("SELECT count(*) FROM history_steps WHERE journey = 'rider' AND rule = 'frequent' "
                    "AND stage = 'frequent'")[0][0]
    eq(moved, 2, "the new rule's move recorded in the history")

    # Rename the other journey: its members stay under the old name.
    other_before = members("other")
    hist_before = env.sql("SELECT * FROM history WHERE journey = 'other' ORDER BY hid")
    conf(env, RIDER_V2, "other2")
    reload("reloaded: 2 journey")
    check('journey "other" is no longer in the config; its 3 subject(s) stay as they are'
          in log_text(), "warning names the journey gone and how many", log_text())
    eq(members("other"), other_before, "members of the renamed journey kept as they were")
    eq(env.sql("SELECT * FROM history WHERE journey = 'other' ORDER BY hid"), hist_before,
       "its history kept")
    eq(len(members("other2")), 3, "the journey under its new name starts anew")
    env.import_lines([track("four", "signup", T % 9)])
    reload("reloaded: 2 journey")
    eq(dict((m[0], m[1]) for m in members("rider"))["four"], "new",
       "after the rename ticks still enter new subjects")

    proc.send_signal(signal.SIGTERM)
    eq(proc.wait(timeout=60), 0, "SIGTERM: exit 0")
done()

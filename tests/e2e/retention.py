"""Retention (SPEC §18): a simulated year of steady load, a week at a time
(import, then `journeyd --once --now`), into two databases: one with
retention (events, history and actions kept 30 days), one without. Pruning
never changes a rule's outcome: the members of every journey (rules over
60-day windows, windowless count(), since() and since_first(), a windowless
read with a condition) are the same in both, a `once` rule does not fire
again after its record's history and action rows are pruned, and the
windowless counts and times read the same. A replay of pruned events is not
counted twice. The database with retention stops growing; both sizes, and
the longest prune transaction, are printed. --check warns of a window
longer than `events`, and of a windowless read with a condition."""
import datetime
import os
import re
from jdtest import Env, track, identify, eq, check, ok, done

RETENTION = """
retention = { events = "30d"; history = "30d"; actions = "30d"; };
"""
CONF = """
plugins = { note = { module = "log"; }; };
journeys = (
  { name = "active"; entry = "count('ride', 60d) >= 25"; exit = "count('ride', 60d) < 25";
    reenter = true; stages = [ "in" ]; },
  { name = "loyal"; entry = "count('purchase') >= 30 and since_first('signup') > 200d";
    stages = [ "in" ]; },
  { name = "lapsed"; entry = "since('purchase') > 20d"; stages = [ "in" ]; },
  { name = "big"; entry = "count('refund' where prop('total') >= 90) >= 1";
    stages = [ "in" ]; },
  { name = "welcome"; entry = "count('signup') >= 1"; stages = [ "new" ];
    rules = ( { name = "hello"; when = "true"; action = { plugin = "note"; }; } ); }
);
"""
USERS = 24
START = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
WEEKS = int(os.environ.get("WEEKS", 52))
PAD = "x" * 120         # a realistic property payload


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def week(w):
    """The lines of week w: a ride a day at each user's rate, a purchase a
    week (none in a user's lapse), a signup in week 0, a refund in week 5."""
    lines = []
    for u in range(USERS):
        user = "u%d" % u
        if w == 0:
            lines.append(identify(user, {"plan": "basic"}, iso(START)))
            lines.append(track(user, "signup", iso(START), "s-%s" % user))
        if w == 5:
            t = START + datetime.timedelta(days=w * 7 + 1)
            lines.append(track(user, "refund", iso(t), "f-%s" % user,
                               {"total": 80 + u}))
        for d in range(7):
            day = w * 7 + d
            t = START + datetime.timedelta(days=day, hours=8, minutes=u)
            if day % (1 + u % 3) == 0:
                lines.append(track(user, "ride", iso(t), "r-%s-%d" % (user, day),
                                   {"pad": PAD, "km": day % 17}))
        if not (u % 4 == 0 and 20 <= w < 26):
            t = START + datetime.timedelta(days=w * 7 + 3, hours=12)
            lines.append(track(user, "purchase", iso(t), "p-%s-%d" % (user, w),
                               {"total": 50 + (w * 7 + u) % 60, "pad": PAD}))
    return lines


def members(env):
    return env.sql("SELECT m.journey, s.kind, s.id, m.stage, m.status, m.entered, "
                   "m.stage_since FROM members m JOIN subjects s ON s.sid = m.subject "
                   "ORDER BY 1, 2, 3")


def reads(env):
    """Per user and event name: the count and first and last times the
    windowless reads see (kept events and what was pruned of them)."""
    return env.sql(
        "SELECT s.id, x.name, sum(x.n), min(x.f), max(x.l) FROM ("
        " SELECT subject, name, count(*) AS n, min(ts) AS f, max(ts) AS l"
        "  FROM events GROUP BY subject, name"
        " UNION ALL SELECT subject, name, n, first_ts, last_ts FROM events_pruned) x"
        " JOIN subjects s ON s.sid = x.subject GROUP BY s.id, x.name ORDER BY 1, 2")


def size(env):
    """The database's size: its file after a checkpoint."""
    env.sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return os.path.getsize(env.db)


with Env() as kept, Env() as plain:
    kept.write_conf(RETENTION + CONF)
    plain.write_conf(CONF)
    r = kept.jd("--check")
    check(re.search(r"journeyd\.conf:\d+: warning: journey 'active' reads events over "
                    r"60d, longer than retention events = \"30d\"", r.stderr),
          "--check warns that a 60-day window keeps events longer than 30d", r.stderr)
    check(re.search(r"journeyd\.conf:\d+: warning: journey 'big' reads 'refund' "
                    r"without a window", r.stderr),
          "--check says a windowless read with a condition keeps its events", r.stderr)

    longest, sizes = 0.0, []
    for w in range(WEEKS):
        lines = week(w)
        now = iso(START + datetime.timedelta(days=w * 7 + 7))
        for env in (kept, plain):
            env.import_lines(lines)
            r = env.once(now)
            for m in re.finditer(r"prune: .* the longest ([0-9.]+) ms", r.stderr):
                longest = max(longest, float(m.group(1)))
        sizes.append((size(kept), size(plain)))
    eq(kept.sql("PRAGMA auto_vacuum"), [(2,)], "a new database has incremental vacuum")
    check(longest > 0, "pruning ran, in transactions of at most %.1f ms" % longest)
    print("# the longest prune transaction: %.1f ms" % longest)
    print("# after one simulated year: %d bytes with retention, %d without"
          % sizes[-1])
    for m in (13, 26, 39, 51):
        print("# week %d: %d bytes with retention, %d without" % (m, *sizes[m]))

    eq(members(kept), members(plain),
       "every journey's members are the same with retention and without")
    check(len([r for r in members(plain) if r[0] == "active" and r[4] != 2]) > 0 and
          len([r for r in members(plain) if r[0] == "loyal"]) > 0 and
          len([r for r in members(plain) if r[0] == "lapsed"]) > 0 and
          len([r for r in members(plain) if r[0] == "big"]) > 0,
          "and each journey has members (the rules were tested)")
    eq(reads(kept), reads(plain),
       "windowless counts and first and last times are those without retention")
    check(kept.sql("SELECT count(*) FROM events")[0][0] <
          plain.sql("SELECT count(*) FROM events")[0][0] / 3,
          "most events were pruned")
    eq(kept.sql("SELECT count(*) FROM events WHERE name = 'refund'"),
       plain.sql("SELECT count(*) FROM events WHERE name = 'refund'"),
       "the events a windowless read with a condition reads are kept")
    eq(kept.sql("SELECT min(ts) >= strftime('%s', '2025-12-31') - 60 * 86400 "
                "FROM events WHERE name = 'ride'"), [(1,)],
       "rides inside the longest window (60d) are kept")

    eq(plain.sql("SELECT count(*) FROM outbox WHERE rule = 'hello'"), [(USERS,)],
       "without retention: one hello per user")
    eq(kept.sql("SELECT count(*) <= 1 FROM outbox WHERE rule = 'hello'"), [(1,)],
       "with retention: the ended actions are pruned (the newest row of a table stays)")
    eq(kept.sql("SELECT count(*) <= 1 FROM history WHERE ts < strftime('%s', '2025-12-01')"),
       [(1,)], "and the old history")
    eq(kept.sql("SELECT count(*) FROM firings WHERE rule = 'hello'"), [(USERS,)],
       "the record that the once rule fired is kept")
    eq(kept.sql("SELECT n FROM outbox_tally WHERE instance = 'note'"),
       plain.sql("SELECT n FROM outbox_tally WHERE instance = 'note'"),
       "so it never fired again: as many actions as without retention")

    # Steady load: the year's second half adds next to nothing.
    check(sizes[-1][0] <= sizes[26][0] * 1.15,
          "with retention the database stops growing (%d bytes at week 26, %d at 51)"
          % (sizes[26][0], sizes[-1][0]))
    check(sizes[-1][1] > sizes[26][1] * 1.5, "without it, it grows")
    check(sizes[-1][0] * 2 < sizes[-1][1], "with retention it is less than half the size")

    # explain --now before what was pruned says so; after it, or without
    # --now, there is nothing to say.
    r = kept.ctl("explain", "u1", "--now", "2025-03-01T00:00:00Z")
    check(re.search(r"^note: retention has pruned this user's events up to "
                    r"2025-\d\d-\d\dT[0-9:]{8}Z: as of an earlier time", r.stdout, re.M),
          "explain --now before the pruned events: a note says so", r.stdout)
    r = kept.ctl("explain", "u1", "--now", "2026-01-01T00:00:00Z")
    check("note: retention" not in r.stdout, "explain --now after them: no note", r.stdout)
    r = plain.ctl("explain", "u1", "--now", "2025-03-01T00:00:00Z")
    check("note: retention" not in r.stdout, "without retention: no note", r.stdout)

    # A replay of the first weeks does not count pruned events twice.
    before = reads(kept)
    r = kept.import_lines(week(0) + week(1))
    check("imported 0," in r.stderr + r.stdout, "a replay of pruned events imports none",
          r.stderr + r.stdout)
    eq(reads(kept), before, "and the windowless reads are unchanged")
done()

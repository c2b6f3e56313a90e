"""metrics_file: Prometheus text format written after every tick, replaced
atomically; checked line by line (HELP and TYPE before each family, label
escaping, values) and for its numbers. journeyd_actions_total is a counter
kept in the transaction of each outcome: held-out actions count as the tick
queues them, a retry out of dead never lowers it, and a database of the
version before the counters gets them counted from its outbox."""
import os
import sqlite3
import re
from jdtest import Env, track, eq, check, ok, done

CONF = """
metrics_file = "%s";
default_timezone = "UTC";
plugins = {
  note = { module = "log"; };
  quiet = { module = "log"; quiet_hours = "00:00-06:00"; };
};
journeys = (
  { name = "rider"; entry = "count('signup') >= 1";
    stages = [ "new", "first_ride" ];
    rules = (
      { name = "first"; stage = "new"; when = "count('ride') >= 1"; goto = "first_ride"; },
      { name = "hello"; when = "true"; action = { plugin = "note"; }; },
      { name = "later"; when = "true"; action = { plugin = "quiet"; }; }
    ); }
);
"""

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(r"^(%s)(\{%s(?:,%s)*\})? (-?[0-9]+(?:\.[0-9]+)?(?:e[-+]?[0-9]+)?)$"
                    % (NAME, LABEL, LABEL))


def must(cond, what, detail=""):
    """Like check(), but silent when it holds (for per-line checks)."""
    if not cond:
        check(cond, what, detail)


def parse(text):
    """Check the exposition format; return {(name, labels): value}."""
    must(text.endswith("\n"), "the file ends with a newline")
    helped, typed, seen, samples = set(), {}, [], {}
    for n, line in enumerate(text.splitlines(), 1):
        m = re.match(r"^# HELP (%s) (.+)$" % NAME, line)
        if m:
            must(m.group(1) not in helped, "line %d: one HELP per metric" % n)
            helped.add(m.group(1))
            continue
        m = re.match(r"^# TYPE (%s) (counter|gauge)$" % NAME, line)
        if m:
            must(m.group(1) in helped and m.group(1) not in typed,
                  "line %d: TYPE after HELP, once" % n, line)
            typed[m.group(1)] = m.group(2)
            seen.append(m.group(1))
            continue
        m = SAMPLE.match(line)
        must(m is not None, "line %d is a sample" % n, repr(line))
        name = m.group(1)
        must(seen and seen[-1] == name, "line %d: its family's HELP/TYPE come first" % n, line)
        if typed[name] == "counter":
            must(name.endswith("_total"), "line %d: a counter is named _total" % n)
        samples[(name, m.group(2) or "")] = float(m.group(3))
    ok("%d lines in the text format" % n)
    return typed, samples


with Env() as env:
    prom = env.path("journeyd.prom")
    env.write_conf(CONF % prom)
    env.import_lines([track("a", "signup", "2026-03-01T00:30:00Z"),
                      track("b", "signup", "2026-03-01T00:30:00Z"),
                      track("b", "ride", "2026-03-01T00:30:00Z"),
                      track("c", "signup", "2026-03-01T00:30:00Z")])
    env.once("2026-03-01T01:00:00Z")
    typed, s = parse(open(prom).read())
    eq(sorted(typed), ["journeyd_actions_total", "journeyd_oldest_due_age_seconds",
                       "journeyd_outbox_depth", "journeyd_subjects",
                       "journeyd_tick_duration_seconds", "journeyd_ticks_total"],
       "every metric family")
    eq(s[("journeyd_ticks_total", "")], 1, "one tick")
    check(s[("journeyd_tick_duration_seconds", "")] >= 0, "a tick duration")
    eq(s[("journeyd_subjects", '{journey="rider",stage="new"}')], 2, "subjects at new")
    eq(s[("journeyd_subjects", '{journey="rider",stage="first_ride"}')], 1, "subjects at first_ride")
    # Written after the tick, before this run's dispatch: all 6 queued.
    eq(s[("journeyd_outbox_depth", "")], 6, "outbox depth after the tick")
    eq(s[("journeyd_actions_total", '{instance="note",outcome="done"}')], 0, "zero before dispatch")
    eq(s[("journeyd_actions_total", '{instance="quiet",outcome="held"}')], 0, "every instance and outcome")

    # Next tick: 'hello' was sent, 'later' waits for quiet hours to end;
    # an action of an instance no longer configured is 1h late.
    c = sqlite3.connect(env.db)
    c.execute("INSERT INTO outbox(id, subject, journey, rule, stage, instance, created, due, status) "
              "VALUES ('x1', 1, 'rider', 'gone', 'new', 'gone', 0, strftime('%s', '2026-03-01T02:00:00Z'), 0)")
    c.execute("INSERT INTO members(journey, subject, stage, status, entered, stage_since) "
              "VALUES ('old', 1, 'we\"ird\\stage' || char(10) || 'x', 0, 0, 0)")
    c.execute("INSERT INTO members(journey, subject, stage, status, entered, stage_since) "
              "VALUES ('rider', 999, 'retired', 0, 0, 0)")
    c.commit()
    c.close()
    env.once("2026-03-01T03:00:00Z")
    typed, s = parse(open(prom).read())
    eq(s[("journeyd_actions_total", '{instance="note",outcome="done"}')], 3, "done actions by instance")
    eq(s[("journeyd_outbox_depth", "")], 4, "depth: 3 in quiet hours, 1 of a gone instance")
    eq(s[("journeyd_oldest_due_age_seconds", "")], 3600, "the oldest due action is 1h late")
    eq(s[("journeyd_subjects", '{journey="old",stage="we\\"ird\\\\stage\\nx"}')], 1,
       "label values escaped: quote, backslash, newline")
    eq(s[("journeyd_subjects", '{journey="rider",stage="retired"}')], 1,
       "a stage no longer in the config, beside those that are")
    eq(s[("journeyd_subjects", '{journey="rider",stage="new"}')], 2, "and those still counted")
    eq(s[("journeyd_ticks_total", "")], 1, "ticks of this process")
    left = [f for f in os.listdir(env.dir) if f.startswith("journeyd.prom")]
    eq(left, ["journeyd.prom"], "no temporary file left")
    eq(oct(os.stat(prom).st_mode & 0o777), "0o644", "readable by the collector")

# The counters of journeyd_actions_total.
COUNTERS = """
metrics_file = "%s";
plugins = { sink = { module = "testsink"; }; };
journeys = (
  { name = "j"; entry = "count('signup') >= 1"; stages = [ "s" ];
    rules = (
      { name = "bad"; when = "true"; action = { plugin = "sink"; fail = "true"; }; },
      { name = "out"; when = "true"; holdout = 100; action = { plugin = "sink"; }; }
    ); }
);
"""


def actions(prom):
    _, s = parse(open(prom).read())
    return {(k[1].split('"')[1], k[1].split('"')[3]): v for k, v in s.items()
            if k[0] == "journeyd_actions_total"}


with Env() as env:
    prom = env.path("journeyd.prom")
    env.write_conf(COUNTERS % prom)
    env.import_lines([track("a", "signup", "2026-03-01T00:30:00Z"),
                      track("b", "signup", "2026-03-01T00:30:00Z")])
    env.once("2026-03-01T01:00:00Z")
    eq(actions(prom), {("sink", "done"): 0, ("sink", "held"): 2, ("sink", "dead"): 0},
       "held out: counted when the tick queues them, before any dispatch")
    env.once("2026-03-01T02:00:00Z")
    eq(actions(prom)[("sink", "dead")], 2, "both failed actions are dead")
    env.ctl("retry", "--dead")
    eq(env.sql("SELECT count(*) FROM outbox WHERE status = 4"), [(0,)], "retried: none dead")
    env.once("2026-03-01T03:00:00Z")
    eq(actions(prom)[("sink", "dead")], 2, "a retry out of dead does not lower the counter")
    env.once("2026-03-01T04:00:00Z")
    eq(actions(prom), {("sink", "done"): 0, ("sink", "held"): 2, ("sink", "dead"): 4},
       "failed again: each outcome counts")

    # A database from before the counters (schema version 3; they came
    # with version 4; versions 5 (experiments) and 6 (retention, erasure)
    # are undone here too, as a migration added after them must be): they
    # are counted from its outbox when it is opened.
    c = sqlite3.connect(env.db)
    eq(c.execute("PRAGMA user_version").fetchone(), (6,), "the schema is at version 6")
    c.executescript("DROP TABLE events_pruned; DROP TABLE forgotten; "
                    "DROP TABLE assignments; ALTER TABLE outbox DROP COLUMN variant; "
                    "DROP TRIGGER outbox_tally_new; DROP TRIGGER outbox_tally_end; "
                    "DROP TABLE outbox_tally; PRAGMA user_version = 3;")
    c.execute("INSERT INTO outbox(id, subject, journey, rule, stage, instance, created, due, status) "
              "VALUES ('x1', 1, 'j', 'gone', 's', 'old', 0, 0, 2)")
    c.commit()
    c.close()
    env.once("2026-03-01T05:00:00Z")
    eq(actions(prom), {("sink", "done"): 0, ("sink", "held"): 2, ("sink", "dead"): 2,
                       ("old", "done"): 1},
       "migrated: the counters start from the outbox as it is, other instances included")
    eq(env.sql("PRAGMA user_version"), [(6,)], "the schema is migrated")
done()

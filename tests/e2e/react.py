"""Reacting (SPEC §13): with a tick every hour, new data is evaluated for
the subjects it changed without waiting for the tick: data imported by a
journeyctl beside the daemon, a file dropped in the spool, a trait of an
account read by its users' journey (account.attr), a user's event counted
by its account's journey. The scheduled tick does not run meanwhile (the
log says one tick only). Then the same moment's full tick changes nothing
more for the subjects reacting evaluated: reacting has the meaning of a
full tick. With react = "off", only the ticks evaluate."""
import os
from jdtest import Env, track, identify, group, eq, check, done
from sinklib import service, stop, wait_until

CONF = """
interval = "1h";
plugins = { log = { }; };
journeys = (
  { name = "rider"; entry = "count('signup') >= 1";
    stages = [ "new", "riding", "vip" ];
    rules = (
      { name = "ride"; stage = "new"; when = "count('ride') >= 1"; goto = "riding"; },
      { name = "vip"; stage = "riding"; when = "account.attr('tier') == 'gold'"; goto = "vip"; },
      { name = "hello"; stage = "riding"; on = "enter"; action = { plugin = "log"; }; }
    ); },
  { name = "team"; subject = "account"; entry = "users() >= 1";
    stages = [ "small", "busy" ];
    rules = ( { name = "busy"; stage = "small"; when = "count('ride') >= 3"; goto = "busy"; } ); }
);
"""
START = "2026-03-01T09:00:00Z"


def stage(env, ident, journey):
    kind = 1 if ident.startswith("account:") else 0
    rows = env.sql("SELECT m.stage FROM members m JOIN subjects s ON s.sid = m.subject "
                   "WHERE s.kind = ? AND s.id = ? AND m.journey = ?",
                   kind, ident.split(":")[-1], journey)
    return rows[0][0] if rows else None


def ticks(log):
    return open(log).read().count("tick: ")


with Env() as env:
    spool = env.path("spool")
    os.mkdir(spool)
    env.write_conf(CONF + 'react = "1s";\nspool_dir = "%s";\n' % spool)
    env.import_lines([
        track("ann", "signup", "2026-03-01T08:00:00Z"),
        track("bob", "signup", "2026-03-01T08:00:00Z"),
        group("ann", "acme", {"tier": "silver"}, "2026-03-01T08:00:00Z"),
        group("bob", "acme", None, "2026-03-01T08:00:00Z"),
    ])
    log = env.path("log")
    p = service(env, log, now=START)
    wait_until(lambda: ticks(log) == 1, "the first tick", proc=p)
    eq((stage(env, "ann", "rider"), stage(env, "account:acme", "team")),
       ("new", "small"), "the first tick: everyone entered")

    # journeyctl beside the daemon: ann rides; the daemon reacts.
    env.import_lines([track("ann", "ride", "2026-03-01T08:30:01Z")])
    wait_until(lambda: stage(env, "ann", "rider") == "riding",
               "ann to move on her ride", proc=p)
    eq([r for (r,) in env.sql("SELECT rule FROM outbox")], ["hello"],
       "her move fired its on-enter action")

    # The spool: bob rides twice.
    tmp = os.path.join(spool, "tmp", "b.jsonl")
    with open(tmp, "w") as f:
        f.write('{"type":"track","userId":"bob","event":"ride","timestamp":"2026-03-01T08:30:02Z"}\n'
                '{"type":"track","userId":"bob","event":"ride","timestamp":"2026-03-01T08:30:03Z"}\n')
    os.rename(tmp, os.path.join(spool, "b.jsonl"))
    wait_until(lambda: stage(env, "bob", "rider") == "riding",
               "bob to move on the spooled rides", proc=p)
    # Three rides among acme's users: the account's journey reacts to
    # its users' events.
    wait_until(lambda: stage(env, "account:acme", "team") == "busy",
               "acme to be busy on its users' rides", proc=p)

    # The account's trait changes: its users' journey reads it.
    env.import_lines([group("bob", "acme", {"tier": "gold"}, "2026-03-01T08:30:04Z")])
    wait_until(lambda: stage(env, "ann", "rider") == "vip" and
               stage(env, "bob", "rider") == "vip",
               "acme's users to move on its new tier", proc=p)
    eq(ticks(log), 1, "no scheduled tick ran meanwhile: reacting did it")
    stop(p)

    # A full tick at the same moment finds nothing more to do for them.
    before = env.sql("SELECT count(*) FROM history")[0][0]
    acts = env.sql("SELECT count(*) FROM outbox")[0][0]
    env.jd("--once", "--now", "2026-03-01T09:00:05Z")
    eq(env.sql("SELECT count(*) FROM history")[0][0], before,
       "a full tick after reacting moves no one")
    eq(env.sql("SELECT count(*) FROM outbox")[0][0], acts,
       "and fires nothing more")

    check("reacting to new data within 1s" in open(log).read(),
          "the log says the daemon reacts", "")

    # react = "off": only the ticks evaluate.
    env.write_conf(CONF + 'react = "off";\n')
    mark = len(open(log).read())
    p = service(env, log, now="2026-03-01T09:00:06Z")
    wait_until(lambda: ticks(log) == 2, "the tick", proc=p)
    stop(p)
    check("reacting" not in open(log).read()[mark:],
          "react off: no reactor", open(log).read()[mark:])

done()

"""journeyctl forget (SPEC §18), the right to erasure, while the daemon
runs: a user's events, traits, memberships, history, actions and variants, and its
anonymous id's, go in one transaction, and the command says what it
removed. Its action, in flight at that moment, finishes (done, with an
enrollment asked for) without bringing a row back. Its old messages replayed through the HTTP API, the spool and
journeyctl import are dropped; a message newer than the erasure starts a
new subject. An account is forgotten the same way, its users left without
it. Other customers are untouched."""
import json
import os
import re
import sqlite3
from jdtest import Env, track, identify, group, eq, check, done, start_server
from apilib import Daemon, http_conf, wait_for, need, events

need("curl")

T0 = "2026-02-01T10:00:00Z"     # the old messages
T1 = "2026-03-01T09:00:00Z"     # the daemon's start
T2 = "2026-03-01T09:30:00Z"     # the erasure
T3 = "2026-03-02T10:00:00Z"     # after it

OLD = [
    identify("ann", {"email": "ann@example.com", "plan": "pro"}, T0),
    {"type": "identify", "userId": "ann", "anonymousId": "anon-ann",
     "traits": {"city": "Oslo"}, "timestamp": T0},
    {"type": "track", "anonymousId": "anon-ann", "event": "visit",
     "timestamp": T0, "messageId": "v-ann"},
    track("ann", "signup", T0, "s-ann"),
    track("ann", "ride", T0, "r-ann"),
    group("ann", "acme", {"name": "Acme"}, T0),
    track("bob", "signup", T0, "s-bob"),
    group("bob", "acme", None, T0),
]


def ann_rows(env):
    """Every row anywhere of ann, her anonymous id and what led to them."""
    sids = [s for (s,) in env.sql("SELECT sid FROM subjects WHERE id IN "
                                  "('ann', 'anon-ann')")] + [ann_sid]
    q = ",".join("?" * len(sids))
    n = 0
    for table in ("events", "events_pruned", "trait_versions", "account_versions",
                  "members", "history", "firings", "outbox", "subject_changes",
                  "assignments"):
        n += env.sql("SELECT count(*) FROM %s WHERE subject IN (%s)" % (table, q),
                     *sids)[0][0]
    return n + env.sql("SELECT count(*) FROM subjects WHERE sid IN (%s)" % q,
                       *sids)[0][0]


with Env() as env:
    stall = env.path("stall")
    open(stall, "w").close()
    hlog = env.path("http.log")
    port = start_server(env, "http", ["--log", hlog, "--stall-while", stall])
    spool = env.path("spool")
    os.makedirs(os.path.join(spool, "tmp"))
    http_conf(env, body="""
spool_dir = "%s";
plugins = { hook = { module = "testsink"; url = "http://127.0.0.1:%d/hook"; }; };
journeys = ( { name = "welcome"; entry = "count('signup') >= 1";
  stages = [ "new" ];
  rules = ( { name = "hook"; when = "attr('plan') == 'pro'";
              variants = ( { name = "only"; weight = 1;
                             action = { plugin = "hook"; enroll = "after"; }; } ); } ); },
  { name = "after"; stages = [ "in" ]; } );
""" % (spool, port))
    env.import_lines(OLD)
    ann_sid = env.sql("SELECT sid FROM subjects WHERE id = 'ann'")[0][0]

    d = Daemon(env, "journeyd.log", "--now", T1)
    bob_before = (events(env, "bob"), env.show("bob")["journeys"])
    wait_for("ann's webhook to be in flight", lambda: os.path.exists(hlog) and
             os.path.getsize(hlog) > 0, proc=d.proc)
    eq(env.sql("SELECT status FROM outbox"), [(1,)], "the action is in flight")
    eq(env.sql("SELECT subject, variant FROM assignments"), [(ann_sid, "only")],
       "ann has drawn her variant")

    r = env.ctl("forget", "ann", "--now", T2)
    counts = dict((m.group(1), int(m.group(2))) for m in
                  re.finditer(r"^  (.+?) +(\d+) removed$", r.stdout, re.M))
    check("forgot ann: 2 id(s) remembered" in r.stdout, "forget names the ids it "
          "remembers (the user and her anonymous id)", r.stdout)
    eq((counts["events"], counts["trait versions"], counts["account memberships"],
        counts["journey memberships"], counts["actions"], counts["subjects"]),
       (3, 3, 1, 1, 1, 2), "and counts what it removed, per table")
    check(counts["history"] >= 2, "her history too", r.stdout)
    eq(ann_rows(env), 0, "nothing of ann is left")

    # The action in flight finishes, done, asking for her to be enrolled
    # in "after": neither its outcome nor the enrollment brings a row back.
    os.unlink(stall)
    d.wait_log("): done")
    eq(ann_rows(env), 0, "the outcome of her action in flight recreates no row")
    eq(env.sql("SELECT count(*) FROM members WHERE journey = 'after'"), [(0,)],
       "nor does the enrollment it asked for")

    # Replays of her old messages: the HTTP API, the spool, an import.
    s, h, b = d.post("/v1/batch", {"batch": OLD[:6]})
    eq(s, 200, "the HTTP API takes the replayed batch")
    tmp = os.path.join(spool, "tmp", "old.jsonl")
    with open(tmp, "w") as f:
        f.write("".join(json.dumps(m) + "\n" for m in OLD))
    os.rename(tmp, os.path.join(spool, "old.jsonl"))
    wait_for("the spool file to be imported", lambda: os.path.exists(
        os.path.join(spool, "done", "old.jsonl")), proc=d.proc)
    r = env.import_lines(OLD)
    check("imported 0," in r.stdout + r.stderr, "a re-import imports nothing",
          r.stdout + r.stderr)
    eq(ann_rows(env), 0, "no replay brings ann back")
    eq((events(env, "bob"), env.show("bob")["journeys"]), bob_before,
       "bob is untouched")

    # A message newer than the erasure: a new subject, with only it.
    s, h, b = d.post("/v1/track", {"userId": "ann", "event": "signup",
                                   "timestamp": T3})
    eq(s, 200, "a new message is taken")
    eq(events(env, "ann"), [("ann", "signup")], "it starts a new subject")
    eq(env.show("ann")["traits"], {}, "with none of the old traits")

    d.stop()

    # An account: its users are left without it, its old group dropped.
    bob_sid = env.sql("SELECT sid FROM subjects WHERE id = 'bob'")[0][0]
    c = sqlite3.connect(env.db)
    c.execute("DELETE FROM subject_changes")
    c.commit()
    c.close()
    r = env.ctl("forget", "account:acme", "--now", T2)
    check("forgot account:acme: 1 id(s)" in r.stdout, "forget account:ID", r.stdout)
    eq(env.show("bob")["account"], None, "bob is in no account any more")
    eq(env.sql("SELECT subject FROM subject_changes"), [(bob_sid,)],
       "and is logged as changed, to be evaluated soon")
    env.import_lines([group("bob", "acme", {"name": "Acme"}, T0)])
    eq(env.sql("SELECT count(*) FROM subjects WHERE kind = 1 AND id = 'acme'"), [(0,)],
       "a replayed old group does not bring the account back")

    # Usage errors.
    r = env.ctl("forget", check_rc=2)
    check("ID is missing" in r.stderr, "forget without an id is a usage error", r.stderr)
    r = env.ctl("forget", "nobody", check_rc=1)
    check('no user "nobody"' in r.stderr, "an unknown id is said so", r.stderr)
done()

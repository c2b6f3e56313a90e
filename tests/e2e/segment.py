"""Segment's wire format end to end (SPEC §13.1), through journeyctl import,
the drop folder and the daemon: a file shaped like a Segment export (every
type, batch envelopes, Segment's extra fields) imports whole; a bad message
of an envelope is reported as FILE:LINE#INDEX; anonymous activity before
sign-up counts for the user after the first identify; an alias merges an
earlier user (who leaves its journeys) and ties an anonymous id."""
import json
import os
from jdtest import Env, eq, check, done

CONF = """
interval = "1m";
journeys = (
  { name = "engaged"; entry = "has('email')";
    stages = [ "new", "engaged" ];
    rules = ( { name = "viewed"; stage = "new"; when = "count('viewed') >= 3"; goto = "engaged"; } ); },
  { name = "everyone"; entry = "true"; stages = [ "in" ]; }
);
"""
NOW = "2026-03-01T09:00:00Z"
SENT = "2026-02-20T10:00:05.000Z"


def ctx():
    return {"library": {"name": "analytics.js", "version": "4.1.0"},
            "ip": "192.0.2.1", "userAgent": "Mozilla/5.0"}


def msg(kind, n, **fields):
    """A message as a Segment export writes it."""
    d = {"type": kind, "messageId": "seg-%s-%d" % (kind, n),
         "context": ctx(), "integrations": {},
         "receivedAt": "2026-02-20T10:00:06.120Z", "sentAt": SENT,
         "originalTimestamp": "2026-02-20T10:00:00.000Z",
         "timestamp": "2026-02-20T10:00:01.120Z", "version": 2,
         "channel": "client"}
    d.update(fields)
    return d


def write(path, lines):
    with open(path, "w") as f:
        for l in lines:
            f.write((l if isinstance(l, str) else json.dumps(l)) + "\n")


def events(env, ident, name=None):
    q = ("SELECT count(*) FROM events e JOIN subjects s ON s.sid = e.subject "
         "WHERE s.kind = 0 AND s.id = ?")
    if name is None:
        return env.sql(q, ident)[0][0]
    return env.sql(q + " AND e.name = ?", ident, name)[0][0]


with Env() as env:
    env.write_conf(CONF)

    # 1. A Segment export: all six types, an envelope, both time forms.
    export = env.path("export.jsonl")
    write(export, [
        msg("page", 1, anonymousId="anon-1", name="Pricing", category="Docs",
            properties={"path": "/pricing", "url": "https://ex.test/pricing"}),
        msg("screen", 1, anonymousId="anon-1", name="Home"),
        msg("track", 1, anonymousId="anon-1", event="viewed",
            properties={"item": "a"}),
        {"batch": [
            msg("track", 2, anonymousId="anon-1", event="viewed"),
            msg("track", 3, anonymousId="anon-1", event="viewed",
                timestamp="2026-02-20T11:00:01+0100"),
        ], "sentAt": SENT, "writeKey": "wk", "context": ctx()},
        msg("identify", 1, userId="ann", anonymousId="anon-1",
            traits={"email": "ann@example.com", "plan": "basic"}),
        msg("group", 1, userId="ann", anonymousId="anon-1", groupId="acme",
            traits={"name": "Acme"}),
        msg("alias", 1, userId="ann", previousId="anon-old"),
        msg("track", 4, userId="bob", event="signed_up"),
        msg("identify", 2, userId="bob", traits={"email": "bob@example.com"}),
    ])
    r = env.ctl("import", export)
    eq(r.stdout, "imported 10, duplicates 0, rejected 0\n",
       "a Segment export imports whole, envelope messages counted one by one")
    eq(r.stderr, "", "nothing rejected")
    eq(events(env, "ann", "viewed"), 3,
       "the anonymous views before sign-up are the user's after identify")
    eq(events(env, "ann", "page"), 1, "page is an event named page")
    eq(env.sql("SELECT props FROM events WHERE name = 'page'")[0][0],
       json.dumps({"path": "/pricing", "url": "https://ex.test/pricing",
                   "name": "Pricing", "category": "Docs"}, separators=(",", ":")),
       "a page's name and category are properties beside its properties")
    eq(env.sql("SELECT count(*) FROM events WHERE name = 'screen'")[0][0], 1,
       "screen is an event named screen")
    eq(env.sql("SELECT count(*) FROM events e JOIN subjects s ON s.sid = "
               "e.subject WHERE s.kind = 2")[0][0], 0,
       "nothing is left under the anonymous id")
    eq(env.show("ann")["account"], "acme", "group with both ids: the user joins")

    r = env.ctl("import", export)
    eq(r.stdout, "imported 0, duplicates 10, rejected 0\n",
       "importing the export again records nothing twice")

    # The rule sees the merged events: ann enters and moves on; the
    # anonymous id enters no journey.
    env.once(NOW)
    eq(env.stage("ann", "engaged"), ("engaged", "completed"),
       "count('viewed') >= 3 holds for the user after the merge")
    eq(env.stage("bob", "engaged"), ("new", "active"), "bob has no views")
    eq(env.sql("SELECT count(*) FROM members m JOIN subjects s ON s.sid = "
               "m.subject WHERE s.kind <> 0")[0][0], 0,
       "no anonymous subject entered a journey, not even entry = true")

    # Later messages with the anonymous id alone count for the user.
    write(env.path("later.jsonl"), [
        {"type": "track", "anonymousId": "anon-1", "event": "viewed",
         "timestamp": "2026-02-21T10:00:00Z"}])
    env.ctl("import", env.path("later.jsonl"))
    eq(events(env, "ann", "viewed"), 4, "the anonymous id is tied to the user")

    # 2. A bad message of an envelope: FILE:LINE#INDEX, the others kept.
    bad = env.path("bad.jsonl")
    write(bad, [
        {"batch": [
            {"type": "track", "anonymousId": "anon-2", "event": "viewed",
             "messageId": "b1"},
            {"type": "track", "event": "viewed", "messageId": "b2"},
            {"type": "page", "userId": "cy", "messageId": "b3",
             "timestamp": "soon"},
            {"type": "identify", "userId": "cy", "messageId": "b4"}]},
        {"type": "screen", "userId": "cy", "messageId": "b5"}])
    r = env.ctl("import", bad, check_rc=1)
    eq(r.stderr.splitlines(),
       ['%s:1#1: missing "userId" or "anonymousId"' % bad,
        '%s:1#2: bad timestamp "soon"' % bad],
       "each bad message named as FILE:LINE#INDEX: reason")
    eq(r.stdout, "imported 3, duplicates 0, rejected 2\n",
       "the good messages of the envelope are kept")
    doc = env.show("anon:anon-2")
    eq((doc["id"], doc["kind"], doc.get("anonymous"), doc["journeys"]),
       ("anon-2", "user", True, {}),
       "show anon:ID: the anonymous subject, said to be anonymous, in no journey")
    check("anonymous" not in env.show("cy"), "a user's document has no 'anonymous'")

    # 3. alias: an earlier user, already in a journey, merges into the new.
    write(env.path("alias.jsonl"), [
        {"type": "identify", "userId": "old-id", "messageId": "a1",
         "traits": {"email": "dee@example.com"},
         "timestamp": "2026-02-25T10:00:00Z"},
        {"type": "track", "userId": "old-id", "event": "viewed",
         "messageId": "a2", "timestamp": "2026-02-25T10:00:00Z"},
        {"type": "track", "userId": "old-id", "event": "viewed",
         "messageId": "a3", "timestamp": "2026-02-25T11:00:00Z"}])
    env.ctl("import", env.path("alias.jsonl"))
    env.once(NOW)
    eq(env.stage("old-id", "engaged"), ("new", "active"), "the earlier user entered")
    write(env.path("alias2.jsonl"), [
        {"type": "identify", "userId": "dee", "messageId": "a4",
         "traits": {"plan": "pro"}, "timestamp": "2026-02-26T10:00:00Z"},
        {"type": "alias", "userId": "dee", "previousId": "old-id",
         "messageId": "a5", "timestamp": "2026-02-26T10:00:00Z"},
        {"type": "track", "userId": "old-id", "event": "viewed",
         "messageId": "a6", "timestamp": "2026-02-27T10:00:00Z"}])
    env.ctl("import", env.path("alias2.jsonl"))
    eq(events(env, "dee", "viewed"), 3,
       "alias: the earlier user's events, and later ones by its id, are the new user's")
    eq(env.show("dee")["traits"], {"plan": "pro", "email": "dee@example.com"},
       "alias: the traits merge, the new user's own first")
    env.once("2026-03-01T10:00:00Z")
    eq(env.stage("dee", "engaged"), ("engaged", "completed"),
       "the merged user enters and moves on from the merged data")
    eq(env.sql("SELECT m.status, h.what, h.rule FROM members m JOIN subjects s "
               "ON s.sid = m.subject JOIN history h ON h.subject = s.sid AND "
               "h.journey = m.journey AND h.rule = 'alias' WHERE s.id = 'old-id' "
               "AND m.journey = 'engaged'"), [(2, "exited", "alias")],
       "the earlier user left its journeys, recorded as exited by alias")
    r = env.ctl("show", "old-id", check_rc=1)
    check("no user" in r.stderr, "the earlier id is no user of its own", r.stderr)

    # 4. The drop folder takes a Segment export too: done/, not failed/.
    spool = env.path("spool")
    os.mkdir(spool)
    env.write_conf(CONF + 'spool_dir = "%s";\n' % spool)
    env.once(NOW)
    write(os.path.join(spool, "tmp", "seg.jsonl"), [
        msg("page", 9, userId="eve", name="Home"),
        {"batch": [msg("screen", 9, userId="eve"),
                   msg("alias", 9, userId="eve", previousId="anon-eve")]}])
    os.rename(os.path.join(spool, "tmp", "seg.jsonl"),
              os.path.join(spool, "seg.jsonl"))
    env.once(NOW)
    eq(sorted(os.listdir(os.path.join(spool, "done"))), ["seg.jsonl"],
       "a spooled Segment export with page, screen, alias and a batch lands in done/")
    eq(events(env, "eve"), 2, "its events imported")
done()

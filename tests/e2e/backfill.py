"""A back-fill tells the truth (SPEC §14.4): the whole history imported at
once, then `journeyd --once --now T` sees the traits, the account
memberships and the account's users as they were at T: a value set after
T is invisible, one unset after T still there, a later group has not yet
moved the user, and a user who joined the account after T is not one of
its users."""
from jdtest import Env, track, identify, group, eq, done

CONF = """
journeys = (
  { name = "basic"; entry = "attr('plan') == 'basic'"; stages = [ "in" ]; },
  { name = "pro"; entry = "attr('plan') == 'pro'"; stages = [ "in" ]; },
  { name = "vip"; entry = "has('vip')"; stages = [ "in" ]; },
  { name = "flagged"; entry = "attr('flag') == true"; stages = [ "in" ]; },
  { name = "acme_user"; entry = "account.attr('name') == 'Acme'"; stages = [ "in" ]; },
  { name = "gold"; entry = "account.attr('tier') == 'gold'"; stages = [ "in" ]; },
  { name = "team_riders"; entry = "account.count('ride') == 2"; stages = [ "in" ]; },
  { name = "accounts"; subject = "account"; entry = "users() >= 1"; stages = [ "in" ]; },
  { name = "busy"; subject = "account";
    entry = "count('ride') == 2 and users() == 2 and active_users(30d) == 2"; stages = [ "in" ]; }
);
"""
T1 = "2026-02-01T10:00:00Z"
T2 = "2026-03-01T09:00:00Z"     # the back-fill's now
T3 = "2026-03-10T10:00:00Z"     # after it

with Env() as env:
    env.write_conf(CONF)
    env.import_lines([
        identify("u1", {"plan": "basic", "flag": True}, T1),
        group("u1", "acme", {"name": "Acme"}, ts=T1),
        track("u1", "ride", "2026-02-15T10:00:00Z"),
        group("u4", "acme", ts=T1),
        track("u4", "ride", "2026-02-20T10:00:00Z"),
        # after T: new values, an unset, a move, a new member
        identify("u1", {"plan": "pro", "vip": True, "flag": None}, T3),
        group("u4", "globex", {"name": "Globex"}, ts=T3),
        group("u2", "acme", {"tier": "gold"}, ts=T3),
        track("u2", "ride", "2026-02-16T10:00:00Z"),
        track("u2", "ride", "2026-02-17T10:00:00Z"),
    ])
    env.once(T2)
    eq(env.stage("u1", "basic"), ("in", "completed"), "the value of T, not the later one")
    eq(env.stage("u1", "pro"), None, "a value set after T is invisible")
    eq(env.stage("u1", "vip"), None, "a key first set after T is absent at T")
    eq(env.stage("u1", "flagged"), ("in", "completed"), "a trait unset after T is still there at T")
    eq(env.stage("u4", "acme_user"), ("in", "completed"), "the account of T, before the later group")
    eq(env.stage("u1", "gold"), None, "an account trait set after T is invisible")
    eq(env.stage("u1", "team_riders"), ("in", "completed"),
       "account.count(): the events of the account's users at T, a later leaver's included")
    eq(env.stage("u2", "team_riders"), None, "a user with no account at T")
    eq(env.stage("account:acme", "accounts"), ("in", "completed"), "acme had users at T")
    eq(env.stage("account:globex", "accounts"), None, "globex's only user joined after T")
    eq(env.stage("account:acme", "busy"), ("in", "completed"),
       "count(), users() and active_users() of an account: its users at T")

    # The same data read after T3: everything has happened.
    env.once("2026-03-11T10:00:00Z")
    eq(env.stage("u1", "pro"), ("in", "completed"), "after T3 the later value holds")
    eq(env.stage("u1", "vip"), ("in", "completed"), "and the later key")
    eq(env.stage("u1", "gold"), ("in", "completed"), "and the later account trait")
    eq(env.stage("account:globex", "accounts"), ("in", "completed"), "and the later member")
    eq(env.show("u1")["traits"], {"plan": "pro", "vip": True},
       "show: the current traits")
done()

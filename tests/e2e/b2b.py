"""A B2B product: an account journey that moves on its number of users, its
active users and its own traits, and stalls; a user journey that starts when
the user's account becomes a customer, including a user who joins later."""
from jdtest import Env, track, identify, group, eq, check, done

CONF = """
plugins = { crm = { module = "log"; prefix = "crm-task"; }; };
journeys = (
  { name = "b2b"; subject = "account";
    entry = "users() >= 1";
    stages = ( { name = "onboarding"; expect = "14d"; }, "adoption", "renewal" );
    rules = (
      { name = "adopted"; stage = "onboarding";
        when = "active_users(7d) >= 2 and attr('plan') == 'pro'"; goto = "adoption"; },
      { name = "escalate"; stage = "onboarding"; when = "stalled";
        action = { plugin = "crm"; message = "{{name}} is stuck in onboarding"; }; },
      { name = "renew"; stage = "adoption"; when = "count('invoice_paid') >= 1 and users() >= 3"; goto = "renewal"; }
    ); },
  { name = "seat"; subject = "user";
    entry = "account.attr('status') == 'customer'";
    stages = [ "rollout", "active" ];
    rules = (
      { name = "active"; stage = "rollout"; when = "count('login', 7d) >= 1 and account.stage('b2b') == 'adoption'"; goto = "active"; }
    ); }
);
"""

with Env() as env:
    env.write_conf(CONF)
    env.import_lines([
        group("a1", "acme", {"name": "Acme Inc", "plan": "pro", "status": "customer"}),
        group("a2", "acme"),
        group("b1", "beta", {"name": "Beta LLC", "plan": "basic"}),
        group("b2", "beta"),
        track("a1", "login", "2026-02-27T09:00:00Z"),
        track("a2", "login", "2026-02-28T09:00:00Z"),
        track("b1", "login", "2026-02-28T09:00:00Z"),
        track("b2", "login", "2026-02-28T09:00:00Z"),
        identify("loner", {"email": "l@example.com"}),
    ])
    env.once("2026-03-01T09:00:00Z")
    eq(env.stage("account:acme", "b2b"), ("adoption", "active"), "acme: 2 active users and pro plan -> adoption")
    eq(env.stage("account:beta", "b2b"), ("onboarding", "active"), "beta: basic plan stays in onboarding")
    eq(env.stage("a1", "seat"), ("active", "completed"), "top-down: acme's users start at rollout and move on")
    eq(env.stage("b1", "seat"), None, "beta is not a customer: its users have no seat journey")
    eq(env.stage("loner", "seat"), None, "a user with no account is not in the seat journey")
    eq(env.show("account:acme")["kind"], "account", "show account:ID")
    eq(sorted(env.show("account:acme")["users"]), ["a1", "a2"], "show lists an account's users")

    # A user and an account may share an id.
    env.import_lines([identify("acme", {"email": "founder@acme.test"})])
    eq(env.show("acme")["kind"], "user", "show ID is the user")
    eq(env.show("account:acme")["kind"], "account", "show account:ID is the account")

    # A new user joins acme later: enters seat at the next tick.
    env.import_lines([group("a3", "acme", ts="2026-03-02T09:00:00Z")])
    env.once("2026-03-02T10:00:00Z")
    eq(env.stage("a3", "seat"), ("rollout", "active"), "a user who joins later enters at rollout")

    # The account's own events (all its users') and users() move it on.
    env.import_lines([track("a3", "invoice_paid", "2026-03-02T11:00:00Z")])
    env.once("2026-03-02T12:00:00Z")
    eq(env.stage("account:acme", "b2b"), ("renewal", "completed"), "count over all users' events, users() >= 3")

    # Beta stalls after 14 days in onboarding: the escalation fires once.
    env.once("2026-03-10T09:00:00Z")
    acts = [e for e in env.show("account:beta")["history"] if e["what"] == "action"]
    eq(acts, [], "not stalled before 14 days")
    env.once("2026-03-16T09:00:00Z")
    acts = [e for e in env.show("account:beta")["history"] if e["what"] == "action"]
    eq([(a["rule"], a["status"]) for a in acts], [("escalate", "done")], "stalled in onboarding: escalated")

    # Bottom-up: a user moves to another account with a later group call.
    env.import_lines([group("b2", "acme", ts="2026-03-17T09:00:00Z")])
    eq(env.show("b2")["account"], "acme", "a later group moves the user")
    r = env.ctl("explain", "account:beta", "--now", "2026-03-17T10:00:00Z")
    check("active_users(7d) = " in r.stdout, "explain an account rule", r.stdout)
done()

"""The channel plugins through the real daemon: the webhook against a local
HTTP server that fails first (the same id and body on the retry, even when a
trait changed in between), mail to a real SMTP server (aiosmtpd), and a
HubSpot task whose id lands in the history."""
import json
import os

from jdtest import Env, track, identify, eq, check, done, start_server, \
    requests

with Env() as env:
    hooklog = env.path("hook.jsonl")
    hport = start_server(env, "http", ["--log", hooklog, "--statuses", "503",
                                        "--verify-secret", "whsec_c2VjcmV0LWtleS0xMjM0NQ=="])
    crmlog = env.path("crm.jsonl")
    cport = start_server(env, "http", ["--log", crmlog, "--body", '{"id":"task-77"}'])
    maildir = env.path("mail")
    os.mkdir(maildir)
    sport = start_server(env, "smtp", ["--dir", maildir])
    with open(env.path("secret"), "w") as f:
        f.write("whsec_c2VjcmV0LWtleS0xMjM0NQ==\n")
    os.chmod(env.path("secret"), 0o600)
    with open(env.path("token"), "w") as f:
        f.write("tok-123\n")
    os.chmod(env.path("token"), 0o600)
    tdir = env.path("templates")
    os.mkdir(tdir)
    for name, text in (("hello.subject", "Welcome, {{first_name}}\n"),
                       ("hello.txt", "Hi {{first_name}} of {{account.name}}: {{journey}}/{{stage}}\n")):
        with open(os.path.join(tdir, name), "w") as f:
            f.write(text)
    env.write_conf("""
retry_min = "1m";
plugins = {
  hook = { module = "webhook"; url = "http://127.0.0.1:%d/in"; secret_file = "%s"; };
  mail = { module = "email"; smtp = "smtp://127.0.0.1:%d"; from = "Team <team@example.com>"; templates = "%s"; };
  tasks = { module = "crm"; flavor = "hubspot"; url = "http://127.0.0.1:%d"; token_file = "%s"; };
};
journeys = ( { name = "rider"; entry = "count('signup') >= 1"; stages = [ "new" ];
  rules = (
    { name = "notify"; when = "true"; action = { plugin = "hook"; }; },
    { name = "welcome"; when = "true"; action = { plugin = "mail"; template = "hello"; }; },
    { name = "call"; when = "attr('vip') == true"; action = { plugin = "tasks"; subject = "Call {{first_name}}"; priority = "HIGH"; due = "2d"; }; }
  ); } );
""" % (hport, env.path("secret"), sport, tdir, cport, env.path("token")))
    env.jd("--check")
    env.import_lines([
        identify("u1", {"first_name": "Zoë", "email": "zoe@example.com", "vip": True}),
        {"type": "group", "userId": "u1", "groupId": "acme", "traits": {"name": "Acme"}},
        identify("u2", {"first_name": "Bob", "email": "bob@example.com", "unsubscribed": True}),
        track("u1", "signup", "2026-03-01T08:00:00Z"),
        track("u2", "signup", "2026-03-01T08:00:00Z"),
    ])
    r = env.once("2026-03-01T09:00:00Z")
    log = r.stderr

    # Mail: one to u1 through the real SMTP server; u2 unsubscribed: held.
    mails = sorted(f for f in os.listdir(maildir) if f.endswith(".json"))
    eq(len(mails), 1, "one mail delivered to the SMTP server")
    with open(os.path.join(maildir, mails[0])) as f:
        m = json.load(f)
    eq(m["rcpt_tos"], ["zoe@example.com"], "recipient from the email trait")
    eq(m["subject"], "Welcome, Zoë", "non-ASCII subject, MIME-encoded and decoded")
    eq(m["defects"], [], "a well-formed message")
    check("Message-ID" in m["header_names"] and "Date" in m["header_names"], "Message-ID and Date headers")
    check("Hi Zoë of Acme: rider/new" in m["text"], "body rendered with account traits", m["text"])
    acts = {e["rule"]: e for e in env.show("u2")["history"] if e["what"] == "action"}
    eq((acts["welcome"]["status"], acts["welcome"]["reason"]), ("held", "unsubscribed"), "unsubscribed: held, never sent")

    # CRM: the task id is kept in the history; the token never logged.
    acts = {e["rule"]: e for e in env.show("u1")["history"] if e["what"] == "action"}
    eq(acts["call"]["status"], "done", "CRM task opened")
    eq(acts["call"]["note"], "task task-77", "the CRM's task id in the history")
    eq(acts["call"]["external_id"], "task-77", "and as the action's external id")
    check("tok-123" not in log, "the token is never logged")
    tasks = [q for q in requests(crmlog) if q["path"] == "/crm/v3/objects/tasks"]
    eq(len(tasks), 1, "one HubSpot request")
    eq(tasks[0]["headers"]["authorization"], "Bearer tok-123", "bearer token from token_file")
    props = json.loads(tasks[0]["body"])["properties"]
    eq((props["hs_task_subject"], props["hs_task_priority"], props["hs_task_status"], props["hs_timestamp"]),
       ("Call Zoë", "HIGH", "NOT_STARTED", "2026-03-03T09:00:00.000Z"), "HubSpot task properties")

    # Webhook: the server's first request got 503, the other 200.
    hooks = [q for q in requests(hooklog) if q["path"] == "/in"]
    eq(len(hooks), 2, "two webhook requests on the first run")
    first = hooks[0]
    # Change a trait of that subject before the retry.
    subject = json.loads(first["body"])["subject"]["id"]
    env.import_lines([identify(subject, {"first_name": "Changed"})])
    env.once("2026-03-01T09:01:00Z")
    hooks = [q for q in requests(hooklog) if q["path"] == "/in"]
    again = [q for q in hooks if q["headers"]["webhook-id"] == first["headers"]["webhook-id"]]
    eq(len(again), 2, "the failed webhook was retried after retry_min")
    eq(again[1]["body"], again[0]["body"], "the same body on the retry, though a trait changed")
    eq(again[1]["headers"]["idempotency-key"], first["headers"]["webhook-id"], "Idempotency-Key is the action id")
    check(all(q["signature_valid"] for q in hooks), "every webhook signature verifies")
    body = json.loads(first["body"])
    eq(sorted(body), ["id", "journey", "rule", "stage", "subject", "time"], "webhook body fields")
    eq((body["journey"], body["rule"], body["time"]), ("rider", "notify", "2026-03-01T09:00:00Z"), "webhook body values")
    eq(body["id"], first["headers"]["webhook-id"], "body id is the action id")
    ids = {e.get("action") for s in ("u1", "u2") for e in env.show(s)["history"] if e["rule"] == "notify"}
    eq(len(ids), 2, "one webhook action per subject")
done()

"""The SMTP server disappears mid-session: it dies once the message is in,
before it answers (tests/servers/smtp_server.py --die-after-data), then
stays away (connection refused), then comes back and drops the connection
after DATA once more, then accepts. The email action is retried each time
with the same Message-ID and delivered exactly once; the daemon goes on
with the other actions meanwhile and stops cleanly."""
import email
import email.policy
import glob
import os
from jdtest import Env, identify, track, eq, check, ok, done
from faultlib import Daemon, start_server, wait_for, outbox, integrity

NOW = "2026-03-01T09:00:00Z"
DONE, RETRYING = 2, 3


def message_id(path):
    with open(path, "rb") as f:
        return email.message_from_binary_file(
            f, policy=email.policy.default)["message-id"]


with Env() as env:
    tdir = env.path("templates")
    os.mkdir(tdir)
    with open(os.path.join(tdir, "hello.subject"), "w") as f:
        f.write("Hello {{first_name}}\n")
    with open(os.path.join(tdir, "hello.txt"), "w") as f:
        f.write("Welcome aboard.\n")
    first, second = env.path("mail1"), env.path("mail2")
    os.mkdir(first)
    os.mkdir(second)

    smtp, port = start_server(env, "smtp_server.py", "smtp", "--dir", first,
                              "--die-after-data")
    env.write_conf("""
interval = "1h"; workers = 2;
retry_min = "1s"; retry_max = "1s"; retry_for = "1h";
plugins = {
  mail = { module = "email"; smtp = "smtp://127.0.0.1:%d";
           from = "Team <team@example.com>"; templates = "%s";
           connect_timeout = "2s"; request_timeout = "10s"; };
  note = { module = "log"; };
};
journeys = ( { name = "welcome"; entry = "count('signup') >= 1";
  stages = [ "new", "done" ];
  rules = ( { name = "hello"; stage = "new"; when = "true";
              action = { plugin = "mail"; template = "hello"; }; },
            { name = "note"; stage = "new"; when = "true";
              action = { plugin = "note"; message = "hi {{first_name}}"; }; } ); } );
""" % (port, tdir))
    env.import_lines([identify("ann", {"email": "ann@example.com",
                                       "first_name": "Ann"}),
                      track("ann", "signup", "2026-02-28T10:00:00Z")])

    jd = Daemon(env, "--now", NOW)
    # 1. The server dies with the message in hand, before answering.
    wait_for("the server to die after DATA", lambda: smtp.poll() is not None)
    eq(smtp.returncode, 3, "the SMTP server died mid-session")
    dropped = os.path.join(first, "0001.dropped.eml")
    check(os.path.exists(dropped), "it had the whole message when it died")
    jd.wait_log("attempt 1 failed, retrying")
    # 2. It stays away: the next attempt finds nobody listening.
    jd.wait_log("attempt 2 failed, retrying")
    aid, rule, status, attempts, reason = outbox(env, "hello")[0]
    eq(status, RETRYING, "the email action waits to be retried")
    check("onnect" in (reason or ""), "the reason says the connection failed",
          reason)
    # The daemon goes on with the rest meanwhile.
    wait_for("the log action", lambda: outbox(env, "note")[0][2] == DONE)
    ok("the other action was done while the mail server was away")

    # 3. Back on the same port, it drops the connection after DATA once.
    smtp, port2 = start_server(env, "smtp_server.py", "smtp", "--dir", second,
                               "--port", str(port), "--drop-after-data", "1")
    eq(port2, port, "the server is back on its port")
    wait_for("the delivery", lambda: outbox(env, "hello")[0][2] == DONE)
    aid, rule, status, attempts, reason = outbox(env, "hello")[0]
    check(attempts >= 4, "delivered after the failed attempts (die, refused, "
          "drop, success)", "attempts=%d" % attempts)
    delivered = sorted(glob.glob(os.path.join(second, "*.json")))
    eq([os.path.basename(p) for p in delivered], ["0001.json"],
       "exactly one message delivered")
    mid = message_id(os.path.join(second, "0001.eml"))
    eq(mid, "<%s@journeyd>" % aid, "the Message-ID is the action's id")
    eq(message_id(dropped), mid, "the message cut off by the crash had the "
       "same Message-ID")
    eq(message_id(os.path.join(second, "0001.dropped.eml")), mid,
       "the message cut off by the dropped connection had the same "
       "Message-ID")
    check(jd.alive(), "the daemon is still running")
    check("attempt 3 failed" in jd.text(), "the dropped connection was "
          "retried too", jd.text()[-2000:])
    eq(jd.stop(), 0, "journeyd stops cleanly")
    eq(integrity(env.db), [("ok",)], "integrity_check ok")
    eq([r[2] for r in outbox(env)], [DONE, DONE], "nothing lost or dead")
    done()

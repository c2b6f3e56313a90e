"""An HTTP endpoint that stalls beyond the webhook's request_timeout
(tests/servers/http_server.py --stall-while FILE): every attempt times out
and is retried with the same webhook-id and body, while the daemon goes on
ticking and performing other actions; once the endpoint recovers the
action is delivered, and the daemon stops cleanly."""
import json
import os
from jdtest import Env, identify, track, eq, check, ok, done
from faultlib import Daemon, start_server, wait_for, outbox, integrity

NOW = "2026-03-01T09:00:00Z"
DONE, RETRYING = 2, 3


def requests(path):
    with open(path) as f:
        return [json.loads(l) for l in f]


with Env() as env:
    stall = env.path("stall")
    open(stall, "w").close()
    hlog = env.path("http.log")
    http, port = start_server(env, "http_server.py", "http", "--log", hlog,
                              "--stall-while", stall)
    env.write_conf("""
interval = "1s"; workers = 2;
retry_min = "1s"; retry_max = "1s"; retry_for = "1h";
plugins = {
  hook = { module = "webhook"; url = "http://127.0.0.1:%d/hook";
           connect_timeout = "2s"; request_timeout = "1s"; };
  note = { module = "log"; };
};
journeys = ( { name = "welcome"; entry = "count('signup') >= 1";
  stages = [ "new", "done" ];
  rules = ( { name = "hook"; stage = "new"; when = "attr('vip') == true";
              action = { plugin = "hook"; }; },
            { name = "note"; stage = "new"; when = "true";
              action = { plugin = "note"; message = "hi {{id}}"; }; } ); } );
""" % port)
    env.import_lines([identify("ann", {"vip": True}),
                      track("ann", "signup", "2026-02-28T10:00:00Z")])

    jd = Daemon(env, "--now", NOW)
    # Each attempt times out after request_timeout and is retried.
    jd.wait_log("attempt 2 failed, retrying")
    aid, rule, status, attempts, reason = outbox(env, "hook")[0]
    eq(status, RETRYING, "the webhook action waits to be retried")
    check("timed out" in (reason or "").lower(), "the reason says it timed out",
          reason)

    # The daemon goes on meanwhile: a later tick takes in a new customer and
    # performs its action while the endpoint still stalls.
    env.import_lines([track("bob", "signup", "2026-02-28T11:00:00Z")])
    wait_for("bob's action", lambda: [r[2] for r in outbox(env, "note")] ==
             [DONE, DONE])
    check(os.path.exists(stall) and outbox(env, "hook")[0][2] != DONE,
          "other actions are done and ticks go on while the endpoint stalls")

    # The endpoint recovers: the action is delivered.
    os.unlink(stall)
    wait_for("the delivery", lambda: outbox(env, "hook")[0][2] == DONE)
    aid, rule, status, attempts, reason = outbox(env, "hook")[0]
    reqs = requests(hlog)
    eq(len(reqs), attempts, "one request per attempt")
    check(attempts >= 3, "delivered after the stalled attempts",
          "attempts=%d" % attempts)
    eq({r["headers"]["webhook-id"] for r in reqs}, {aid},
       "every attempt carries the action's id as webhook-id")
    eq({r["headers"]["idempotency-key"] for r in reqs}, {aid},
       "and as Idempotency-Key")
    eq(len({r["body"] for r in reqs}), 1, "the same body on every attempt")
    check(jd.alive(), "the daemon is still running")
    eq(jd.stop(), 0, "journeyd stops cleanly")
    eq(integrity(env.db), [("ok",)], "integrity_check ok")
    eq(sorted(r[2] for r in outbox(env)), [DONE, DONE, DONE],
       "nothing lost or dead")
    done()

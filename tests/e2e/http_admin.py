"""The HTTP API's read endpoints (SPEC §13): behind the admin bearer token
the live report, a subject's document (the same as `journeyctl show
--json`) and the outbox (the same actions as `journeyctl outbox`);
401 without the token, 404 without admin_key_file; and keys rotated by a
SIGHUP without a restart."""
import json
import re
import sqlite3
import signal
from jdtest import Env, identify, group, track, eq, check, done
from apilib import (Daemon, http_conf, write_keys, need, WRITE_KEY,
                    ADMIN_KEY)

need("curl")

BODY = """
plugins = { note = { module = "log"; };
            hook = { module = "webhook"; url = "http://127.0.0.1:1/down"; }; };
journeys = (
  { name = "rider"; entry = "count('signup') >= 1";
    stages = [ "new", "first_ride" ];
    rules = (
      { name = "first"; stage = "new"; when = "count('ride') >= 1"; goto = "first_ride"; },
      { name = "hello"; when = "true"; action = { plugin = "note"; }; },
      { name = "ping"; when = "true"; action = { plugin = "hook"; }; }
    ); },
  { name = "team"; subject = "account"; entry = "users() >= 1";
    stages = [ "trial", "paid" ];
    rules = ( { name = "paid"; stage = "trial"; when = "attr('plan') == 'paid'"; goto = "paid"; } ); }
);
"""


def ids(rows):
    return sorted(r["id"] for r in rows)


with Env() as env:
    env.write_conf("")
    env.import_lines([identify("ann", {"plan": "basic", "name": "Ann <&>"}),
                      group("ann", "acme", {"plan": "trial"}),
                      track("ann", "signup", "2026-03-01T08:00:00Z"),
                      track("ann", "ride", "2026-03-01T08:30:00Z"),
                      track("bob", "signup", "2026-03-01T08:00:00Z")])
    http_conf(env, body=BODY)
    d = Daemon(env)
    u = d.url
    auth = ["-H", "Authorization: Bearer " + ADMIN_KEY]

    # 401 without the token, with a wrong one, with a write key.
    for args, what in [([], "no token"),
                       (["-H", "Authorization: Bearer nope"], "a wrong token"),
                       (["-u", WRITE_KEY + ":"], "a write key")]:
        for path in ("/report", "/v1/subjects/ann", "/v1/outbox"):
            s, h, b = d.curl(*args, u(path))
            if s != 401 or "bearer" not in h.get("www-authenticate",
                                                  "").lower():
                check(False, "401 for %s on %s" % (what, path), (s, h, b))
        check(True, "401 with WWW-Authenticate: Bearer for %s" % what)

    # A subject's document: what journeyctl show --json prints.
    for ref, path in [("ann", "/v1/subjects/ann"),
                      ("account:acme", "/v1/subjects/account:acme"),
                      ("account:acme", "/v1/subjects/account%3Aacme")]:
        s, h, b = d.curl(*auth, u(path))
        eq((s, h["content-type"]), (200, "application/json"),
           "GET %s: 200" % path)
        eq(json.loads(b), json.loads(env.ctl("show", ref, "--json").stdout),
           "GET %s is show %s --json" % (path, ref))
    doc = json.loads(d.curl(*auth, u("/v1/subjects/ann"))[2])
    eq((doc["traits"]["name"], doc["journeys"]["rider"]["stage"]),
       ("Ann <&>", "first_ride"), "with the tick's stages")
    for path, msg in [("/v1/subjects/nobody", 'no user "nobody"'),
                      ("/v1/subjects/account:ann", 'no account "ann"'),
                      ("/v1/subjects/", "no subject id")]:
        s, h, b = d.curl(*auth, u(path))
        eq((s, json.loads(b)["error"]), (404, msg), "404 for %s" % path)

    # The outbox: the queue (the webhook's actions, retrying) and the dead.
    d.wait_log("retry", 2)
    s, h, b = d.curl(*auth, u("/v1/outbox"))
    queue = json.loads(b)
    eq(s, 200, "GET /v1/outbox: 200")
    listed = env.ctl("outbox").stdout.splitlines()[:-1]
    eq(ids(queue), sorted(line.split()[0] for line in listed),
       "the actions journeyctl outbox lists")
    eq(sorted(set(r.keys()) for r in queue)[0],
       {"id", "subject", "journey", "rule", "plugin", "status", "due",
        "attempts", "reason"}, "each with its fields")
    eq(sorted((r["subject"], r["rule"], r["plugin"], r["status"])
              for r in queue),
       [("ann", "ping", "hook", "retrying"), ("bob", "ping", "hook",
                                              "retrying")],
       "the webhook's actions, to retry")

    c = sqlite3.connect(env.db, timeout=30)
    c.execute("UPDATE outbox SET status = 4, reason = 'gave up' WHERE id = ?",
              (queue[0]["id"],))
    c.commit()
    c.close()
    for q in ("?dead=1", "?dead=true"):
        dead = json.loads(d.curl(*auth, u("/v1/outbox" + q))[2])
        eq([(r["id"], r["status"], r["reason"]) for r in dead],
           [(queue[0]["id"], "dead", "gave up")], "GET /v1/outbox%s" % q)
    eq(env.ctl("outbox", "--dead").stdout.split()[0], queue[0]["id"],
       "the one journeyctl outbox --dead lists")
    eq(ids(json.loads(d.curl(*auth, u("/v1/outbox?dead=0"))[2])),
       [queue[1]["id"]], "?dead=0: the queue")

    # The live report.
    s, h, b = d.curl(*auth, u("/report"))
    eq((s, h["content-type"]), (200, "text/html; charset=utf-8"),
       "GET /report: an HTML page")
    check("default-src 'none'" in h.get("content-security-policy", ""),
          "with a strict Content-Security-Policy")
    check(b.startswith("<!DOCTYPE html>") and "rider" in b and "team" in b,
          "the report of every journey")

    # A SIGHUP with new keys, and without admin_key_file: the old write
    # key is refused, the new one taken, the admin endpoints are gone.
    http_conf(env, body=BODY, admin=False)
    write_keys(env, "write-keys", "wk_rotated")
    d.proc.send_signal(signal.SIGHUP)
    d.wait_log("reloaded")
    s, h, b = d.curl("-u", WRITE_KEY + ":", "--data-binary", "@-",
                     u("/v1/track"), data=b'{"userId":"cy","event":"x"}')
    eq(s, 401, "after the rotation, the old write key: 401")
    s, h, b = d.curl("-u", "wk_rotated:", "--data-binary", "@-",
                     u("/v1/track"), data=b'{"userId":"cy","event":"x"}')
    eq(s, 200, "the new one: 200")
    for path in ("/report", "/v1/subjects/ann", "/v1/outbox"):
        s, h, b = d.curl(*auth, u(path))
        eq(s, 404, "without admin_key_file, %s: 404" % path)
    s, h, b = d.curl(u("/metrics"))
    eq(s, 200, "/metrics still answers")

    # And back, with a new admin token.
    http_conf(env, body=BODY)
    write_keys(env, "admin-key", "adm_second_token")
    d.proc.send_signal(signal.SIGHUP)
    d.wait_log("reloaded", 2)
    eq(d.curl(*auth, u("/report"))[0], 401, "the old admin token: 401")
    eq(d.curl("-H", "Authorization: Bearer adm_second_token",
              u("/report"))[0], 200, "the new one: 200")

    # A reload with other addresses listens there, and no longer on the
    # old one.
    old = d.port
    http_conf(env, body=BODY, listen='[ "127.0.0.1:0", "127.0.0.1:0" ]')
    write_keys(env, "admin-key", "adm_second_token")
    n = d.text().count("http: listening on")
    d.proc.send_signal(signal.SIGHUP)
    d.wait_log("http: listening on", n + 2)
    ports = [int(p) for p in re.findall(r"http: listening on 127\.0\.0\.1:"
                                        r"(\d+)", d.text())[n:]]
    for port in ports:
        d.port = port
        eq(d.request("GET", "/healthz")[0], 200,
           "after the reload, port %d of the new listen list serves" % port)
    d.port = old
    try:
        d.request("GET", "/healthz", timeout=10)
        check(False, "the old port is closed")
    except OSError:
        check(True, "the old port is closed")
    d.port = ports[0]

    # A config the reload refuses keeps the running keys.
    env.write_conf('interval = "1h";\nhttp = { write_key_file = "%s"; };\n'
                   % env.path("missing-keys") + BODY)
    d.proc.send_signal(signal.SIGHUP)
    d.wait_log("reload refused")
    check("cannot read %s" % env.path("missing-keys") in d.text(),
          "an unreadable key file refuses the reload, with its reason")
    s, h, b = d.curl("-u", WRITE_KEY + ":", "--data-binary", "@-",
                     u("/v1/track"), data=b'{"userId":"cy","event":"y"}')
    eq(s, 200, "and the keys of the running config stay")
    env.ctl("status")
    check(True, "journeyctl reads no key file: it works on that config")
    r = env.jd("--check", check_rc=1)
    check("missing-keys" in r.stderr and "journeyd.conf:" in r.stderr,
          "journeyd --check names the unreadable key file with its line",
          r.stderr)

    d.stop()
    text = d.text()
    for secret in (WRITE_KEY, "wk_rotated", ADMIN_KEY, "adm_second_token"):
        check(secret not in text, "%s... is not in the log" % secret[:6])
done()

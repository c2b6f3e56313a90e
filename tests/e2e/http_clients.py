"""The HTTP API driven by clients that were not written here (SPEC §13):
Segment's node library (@segment/analytics-node) and RudderStack's
(@rudderstack/rudder-sdk-node), at the versions pinned in
tests/npm/package-lock.json, each pointed at journeyd as an application
would point it at Segment or RudderStack. Both post batches to /v1/batch
with Basic auth; RudderStack's are gzipped. Everything they send is
stored and evaluated; with an unknown write key they fail and nothing is
stored. Skips (77) without node or the installed libraries
(scripts/npm-deps.sh)."""
import json
import os
import re
import shutil
import subprocess
import sys
from jdtest import Env, TOP_SRC, eq, check, done
from apilib import Daemon, http_conf, events, WRITE_KEY

NODE = shutil.which("node")
MODULES = os.environ.get("JD_NODE_MODULES") or os.path.join(
    TOP_SRC, "tests", "npm", "node_modules")
SEND = os.path.join(TOP_SRC, "tests", "npm", "send.cjs")
if NODE is None or not os.path.isdir(os.path.join(MODULES, "@segment")):
    print("SKIP: node or the client libraries are missing "
          "(scripts/npm-deps.sh installs them)")
    sys.exit(77)


def send(d, client, calls, key=WRITE_KEY):
    env = dict(os.environ, NODE_PATH=MODULES)
    r = subprocess.run([NODE, SEND, client, "http://127.0.0.1:%d" % d.port,
                        key], input=json.dumps(calls), capture_output=True,
                       text=True, env=env, timeout=120)
    check(r.returncode == 0, "%s: the client ran" % client, r.stderr)
    return json.loads(r.stdout)["errors"]


def calls(prefix):
    """A session of a product: a sign-up, rides, a page, an account."""
    u = prefix + "-ann"
    c = [["identify", {"userId": u, "traits": {"email": u + "@example.com",
                                                "plan": "basic"}}],
         ["track", {"userId": u, "event": "signup",
                    "properties": {"source": prefix}}],
         ["group", {"userId": u, "groupId": prefix + "-acme",
                    "traits": {"name": "Acme", "seats": 25}}],
         ["page", {"userId": u, "name": "Pricing",
                   "properties": {"path": "/pricing"}}],
         ["screen", {"userId": u, "name": "Home"}],
         ["track", {"anonymousId": prefix + "-anon", "event": "visit"}],
         ["alias", {"userId": u, "previousId": prefix + "-anon"}]]
    c += [["track", {"userId": u, "event": "ride",
                     "properties": {"fare": 10 + i}}] for i in range(23)]
    return c


with Env() as env:
    http_conf(env)
    d = Daemon(env)
    for client in ("segment", "rudder"):
        before = d.text().count("POST /v1/batch: 200")
        eq(send(d, client, calls(client)), [],
           "%s: every message sent without an error" % client)
        u = client + "-ann"
        evs = [e for _, e in events(env, u)]
        eq((evs.count("signup"), evs.count("ride"), evs.count("page"),
            evs.count("screen"), evs.count("visit")), (1, 23, 1, 1, 1),
           "%s: its events are stored (the anonymous visit merged by the "
           "alias)" % client)
        doc = env.show(u)
        eq((doc["traits"]["plan"], doc["traits"]["email"], doc["account"]),
           ("basic", u + "@example.com", client + "-acme"),
           "%s: its identify and group" % client)
        eq(env.show("account:" + client + "-acme")["traits"]["seats"], 25,
           "%s: the account's traits" % client)
        props = env.sql("SELECT e.props FROM events e JOIN subjects s ON "
                        "s.sid = e.subject WHERE s.id = ? AND e.name = "
                        "'page'", u)[0][0]
        eq(json.loads(props).get("name"), "Pricing",
           "%s: a page's name is a property" % client)
        reqs = re.findall(r"POST /v1/batch: 200, (\d+) message\(s\)(, gzip)?",
                          d.text())[before:]
        check(len(reqs) >= 3 and sum(int(n) for n, _ in reqs) == 30,
              "%s: in batches to /v1/batch (%s)" % (client, reqs))
        check(all(bool(g) == (client == "rudder") for _, g in reqs),
              "%s: gzipped: %s" % (client, client == "rudder"))
        ts = env.sql("SELECT min(e.ts), max(e.ts) FROM events e JOIN "
                     "subjects s ON s.sid = e.subject WHERE s.id = ?", u)[0]
        now = int(__import__("time").time())
        check(now - 600 <= ts[0] <= ts[1] <= now + 600,
              "%s: its times are the client's clock" % client)

    # An unknown write key: the client sees the failure, nothing stored.
    for client in ("segment", "rudder"):
        errs = send(d, client, [["track", {"userId": "nokey-" + client,
                                           "event": "signup"}]], key="nope")
        # RudderStack's client keeps only the status text.
        check(len(errs) == 1 and ("401" in errs[0] or
                                  "Unauthorized" in errs[0]),
              "%s: an unknown key fails with 401 (%s)" % (client, errs))
        eq(events(env, "nokey-" + client), [], "%s: nothing stored" % client)

    # The tick sees what they sent.
    d.stop()
    env.once("2030-01-01T00:00:00Z")
    for client in ("segment", "rudder"):
        eq(env.stage(client + "-ann", "rider"), ("first_ride", "completed"),
           "%s: its user climbed the journey" % client)
    text = d.text()
    check(WRITE_KEY not in text, "the write key is not in the log")
done()

"""The HTTP API's ingest endpoints (SPEC §13): every answer, each error
answer through curl; what is stored and what is not; the size limits at
their exact bounds (KB = 1,024 bytes) plain and gzipped, a zip bomb;
/metrics in the exposition format with the ingest counts; and neither key
in the log."""
import gzip
import json
import re
from jdtest import Env, eq, check, ok, done
from apilib import (Daemon, http_conf, events, need, WRITE_KEY, ADMIN_KEY)

need("curl")

T = "2026-03-01T08:00:00Z"


def trk(user, event, mid=None, **extra):
    m = {"type": "track", "userId": user, "event": event, "timestamp": T}
    if mid:
        m["messageId"] = mid
    m.update(extra)
    return m


def padded(size, user="pad"):
    """A batch body of exactly size bytes (one message, padded)."""
    body = {"batch": [trk(user, "signup", "m-pad-%d" % size,
                          properties={"p": ""})]}
    text = json.dumps(body, separators=(",", ":"))
    text = text.replace('"p":""', '"p":"%s"' % ("x" * (size - len(text))))
    assert len(text) == size
    return text


with Env() as env:
    http_conf(env)
    d = Daemon(env)
    u = d.url

    # 200: a batch with Basic auth, as Segment's and RudderStack's
    # libraries send it.
    s, h, b = d.post("/v1/batch", {"batch": [
        trk("ann", "signup", "m1"), trk("ann", "ride", "m2"),
        {"type": "identify", "userId": "ann", "traits": {"plan": "basic"},
         "timestamp": T},
        {"type": "group", "userId": "ann", "groupId": "acme",
         "traits": {"seats": 5}, "timestamp": T}]})
    eq((s, json.loads(b)), (200, {"success": True}), "a batch is stored: 200")
    eq(events(env, "ann"), [("ann", "signup"), ("ann", "ride")],
       "its events are in the store once answered")
    doc = env.show("ann")
    eq((doc["traits"].get("plan"), doc["account"]), ("basic", "acme"),
       "its identify and group too")

    # Each single-message endpoint; the endpoint implies the type.
    for path, msg in [
            ("/v1/track", {"userId": "bo", "event": "signup"}),
            ("/v1/identify", {"userId": "bo", "traits": {"plan": "pro"}}),
            ("/v1/group", {"userId": "bo", "groupId": "acme"}),
            ("/v1/page", {"userId": "bo", "name": "Pricing"}),
            ("/v1/screen", {"userId": "bo", "name": "Home"}),
            ("/v1/alias", {"userId": "bo", "previousId": "anon-bo"})]:
        s, h, b = d.post(path, dict(msg, timestamp=T))
        eq((s, b.strip()), (200, '{"success":true}'), "POST %s: 200" % path)
    eq([e for _, e in events(env, "bo")], ["signup", "page", "screen"],
       "track, page and screen are events")

    # A message's own type wins over the endpoint's (a webhook
    # destination posts every message to one URL).
    s, h, b = d.post("/v1/track", {"type": "identify", "userId": "bo",
                                   "traits": {"via": "webhook"},
                                   "timestamp": T})
    eq((s, env.show("bo")["traits"].get("via")), (200, "webhook"),
       "an identify posted to /v1/track is an identify")

    # The write key in the body, without Basic auth.
    s, h, b = d.request("POST", "/v1/track", {
        "writeKey": WRITE_KEY, "userId": "cy", "event": "signup",
        "timestamp": T})
    eq(s, 200, "the body's writeKey is accepted")
    s, h, b = d.post("/v1/track", {"userId": "cy", "event": "ride"},
                     key="wk_second")
    eq(s, 200, "every key of the file is accepted")

    # 401 for a missing or unknown key, the body untouched.
    for args, what, data in [
            ([], "no key", b'{"userId":"dd","event":"signup"}'),
            (["-u", "nope:"], "an unknown Basic user",
             b'{"userId":"dd","event":"signup"}'),
            ([], "an unknown writeKey",
             b'{"writeKey":"nope","userId":"dd","event":"signup"}'),
            ([], "no key and a body that is not JSON", b"{oops")]:
        s, h, b = d.curl(*args, "--data-binary", "@-", u("/v1/track"),
                         data=data)
        eq(s, 401, "401 for %s" % what)
        check("basic" in h.get("www-authenticate", "").lower(),
              "with WWW-Authenticate")
    eq(events(env, "dd"), [], "nothing of them is stored")

    K = ["-u", WRITE_KEY + ":"]

    # 400: not JSON, not the endpoint's shape, an invalid single message.
    for path, data, reason in [
            ("/v1/batch", b"{oops", "not valid JSON"),
            ("/v1/batch", b"[1,2]", "not a JSON object"),
            ("/v1/batch", b'{"messages":[]}', 'missing "batch"'),
            ("/v1/batch", b'{"batch":{"a":1}}', '"batch" is not an array'),
            ("/v1/track", b"[]", "not a JSON object"),
            ("/v1/track", b'{"userId":"ee","event":"x"}\x00',
             "NUL byte in the body"),
            ("/v1/track", b'{"userId":"ee"}', 'missing "event"'),
            ("/v1/identify", b'{"traits":{"a":1}}', "userId")]:
        s, h, b = d.curl(*K, "--data-binary", "@-", u(path), data=data)
        check(s == 400 and reason in json.loads(b)["error"],
              "400 for %s on %s: %s" % (data[:20], path, reason), b)
    eq(events(env, "ee"), [], "nothing of them is stored")

    # Invalid messages of a batch: listed in the 200, the rest stored.
    s, h, b = d.curl(*K, "--data-binary", "@-", u("/v1/batch"), data=json.dumps(
        {"batch": [trk("fay", "signup", "f1"), {"type": "track", "event": "x"},
                   7, trk("fay", "ride", "f2"),
                   trk("fay", "big", "f3", properties={"p": "x" * 33000})]}
    ).encode())
    r = json.loads(b)
    eq((s, r["success"], [x["index"] for x in r["rejected"]]),
       (200, True, [1, 2, 4]), "a batch's invalid messages are listed by index")
    eq(r["rejected"][0]["reason"], 'missing "userId" or "anonymousId"',
       "with the importer's reason")
    eq([x["reason"] for x in r["rejected"][1:]],
       ["not a JSON object", "message larger than 32768 bytes"],
       "a message over 32 KB is rejected on its own")
    eq(events(env, "fay"), [("fay", "signup"), ("fay", "ride")],
       "the valid ones are stored")
    check(re.search(r"http: 127\.0\.0\.1 POST /v1/batch: 3 of 5 message\(s\) "
                    r"rejected", d.text()), "the rejections are logged")

    # Idempotent as files are: the same batch again stores nothing new.
    s, h, b = d.post("/v1/batch", {"batch": [trk("fay", "signup", "f1")]})
    eq(s, 200, "a duplicate is answered 200")
    eq(len(events(env, "fay")), 2, "and stored once")

    # 413 at the exact bounds: 32 KB for one message, 500 KB a request.
    one = json.dumps({"userId": "gus", "event": "signup", "timestamp": T,
                      "properties": {"p": ""}}, separators=(",", ":"))
    fill = 32768 - len(one)
    at = one.replace('"p":""', '"p":"%s"' % ("x" * fill))
    s, h, b = d.curl(*K, "--data-binary", "@-", u("/v1/track"),
                     data=at.encode())
    eq(s, 200, "a message of exactly 32768 bytes is taken")
    over = one.replace('"p":""', '"p":"%s"' % ("x" * (fill + 1)))
    s, h, b = d.curl(*K, "--data-binary", "@-", u("/v1/track"),
                     data=over.encode())
    eq((s, json.loads(b)["error"]), (413, "message larger than 32768 bytes"),
       "one byte more: 413")
    s, h, b = d.curl(*K, "--data-binary", "@-", u("/v1/batch"),
                     data=padded(512000).encode())
    r = json.loads(b)
    # Its one message is over 32 KB: the request is taken, the message not.
    eq((s, [x["index"] for x in r["rejected"]]), (200, [0]),
       "a request of exactly 512000 bytes is read")
    for name, args, data in [
            ("plain", [], padded(512001).encode()),
            ("chunked", ["-H", "Transfer-Encoding: chunked"],
             padded(512001).encode()),
            ("gzip", ["-H", "Content-Encoding: gzip"],
             gzip.compress(padded(512001).encode())),
            ("a zip bomb (50 MB of spaces)", ["-H", "Content-Encoding: gzip"],
             gzip.compress(b'{"batch":[' + b" " * (50 << 20) + b"]}"))]:
        s, h, b = d.curl(*K, *args, "--data-binary", "@-", u("/v1/batch"),
                         data=data)
        eq((s, json.loads(b)["error"]),
           (413, "request body larger than 512000 bytes"),
           "413 one byte past 500 KB: %s" % name)
    s, h, b = d.curl(*K, "-H", "Content-Encoding: gzip", "--data-binary", "@-",
                     u("/v1/batch"), data=gzip.compress(padded(512000).encode()))
    eq(s, 200, "gzip: exactly 512000 bytes after decompression are read")

    # gzip, whatever the Content-Type (as RudderStack sends it); several
    # gzip members; bad and cut-short gzip.
    body = json.dumps({"batch": [trk("hal", "signup", "h1")]}).encode()
    s, h, b = d.curl(*K, "-H", "Content-Encoding: gzip", "-H",
                     "Content-Type: application/x-www-form-urlencoded",
                     "--data-binary", "@-", u("/v1/batch"),
                     data=gzip.compress(body))
    eq(s, 200, "a gzipped form-urlencoded body is JSON")
    s, h, b = d.curl(*K, "-H", "Content-Encoding: gzip", "--data-binary", "@-",
                     u("/v1/track"), data=gzip.compress(b'{"userId":"hal",')
                     + gzip.compress(b'"event":"ride","messageId":"h2"}'))
    eq(s, 200, "two gzip members make one body")
    eq(events(env, "hal"), [("hal", "signup"), ("hal", "ride")],
       "both are stored")
    for data, what in [(b"plain text", "not gzip"),
                       (gzip.compress(body)[:-6], "cut short")]:
        s, h, b = d.curl(*K, "-H", "Content-Encoding: gzip", "--data-binary",
                         "@-", u("/v1/batch"), data=data)
        check(s == 400 and "gzip" in json.loads(b)["error"],
              "400 for a gzip body %s" % what, b)
    s, h, b = d.curl(*K, "-H", "Content-Encoding: br", "--data-binary", "@-",
                     u("/v1/batch"), data=body)
    eq(s, 415, "415 for another Content-Encoding")

    # Unknown endpoints and methods.
    s, h, b = d.curl(u("/v1/nope"))
    eq(s, 404, "404 for an unknown path")
    s, h, b = d.curl(u("/v1/track"))
    eq((s, h.get("allow")), (405, "POST"), "405 for GET /v1/track")
    s, h, b = d.curl("-X", "DELETE", u("/healthz"))
    eq((s, h.get("allow")), (405, "GET, HEAD"), "405 for DELETE /healthz")
    s, h, b = d.curl(u("/healthz"))
    eq((s, b), (200, "ok\n"), "/healthz")
    s, h, b = d.curl(u("/readyz"))
    eq((s, b), (200, "ready\n"), "/readyz once a tick is done")

    # /metrics: no token; the exposition format with the ingest counts.
    s, h, b = d.curl(u("/metrics"))
    eq(s, 200, "/metrics needs no token")
    check(h["content-type"].startswith("text/plain; version=0.0.4"),
          "in the text exposition format")
    sample = {}
    for line in b.splitlines():
        if line.startswith("#"):
            if not re.match(r"# (HELP|TYPE) journeyd_\w+ .+", line):
                check(False, "a comment line: %r" % line)
            continue
        m = re.match(r'^(journeyd_\w+)(\{[^}]*\})? ([0-9.e+-]+)$', line)
        if m is None:
            check(False, "a sample: %r" % line)
        sample[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    ok("every line parses")
    acc = sample['journeyd_ingest_messages_total{result="accepted"}']
    rej = sample['journeyd_ingest_messages_total{result="rejected"}']
    dup = sample['journeyd_ingest_messages_total{result="duplicate"}']
    stored = env.sql("SELECT count(*) FROM events")[0][0]
    check(acc >= stored, "accepted counts every stored event (%d >= %d)"
          % (acc, stored))
    # 3 of the batch, the big one of the 512000-byte requests (2), the 413
    # and 400 single messages are not messages the writer saw.
    check(rej >= 5, "rejected counted (%d)" % rej)
    eq(dup, 1, "the duplicate counted")
    buckets = [(k, v) for k, v in sample.items()
               if k.startswith("journeyd_ingest_commit_seconds_bucket")]
    eq(buckets[-1][0], 'journeyd_ingest_commit_seconds_bucket{le="+Inf"}',
       "the histogram ends with +Inf")
    check(all(buckets[i][1] <= buckets[i + 1][1]
              for i in range(len(buckets) - 1)), "its buckets add up")
    eq(buckets[-1][1], sample["journeyd_ingest_commit_seconds_count"],
       "_count is the +Inf bucket")
    check("journeyd_subjects{journey=\"rider\",stage=\"new\"}" in sample,
          "with the metrics of metrics_file")

    d.stop()
    text = d.text()
    for secret in (WRITE_KEY, "wk_second", ADMIN_KEY):
        check(secret not in text, "the key %s... is not in the log"
              % secret[:4])
done()

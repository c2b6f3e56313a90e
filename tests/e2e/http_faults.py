"""The HTTP API under faults and hostile clients (SPEC §13): 503 with
Retry-After when the store cannot take the write in time (nothing of the
request stored, /readyz not ready meanwhile); a kill -9 right after a 200
loses nothing; a client that stalls mid-body holds up no other; one
address cannot take every connection; HTTPS with tls_cert_file."""
import json
import signal
import socket
import sqlite3
import subprocess
from jdtest import Env, eq, check, done
from apilib import (Daemon, http_conf, events, need, wait_for, WRITE_KEY)

need("curl")


def batch(user, n, tag):
    return {"batch": [{"type": "track", "userId": user, "event": "e%d" % i,
                       "messageId": "%s-%d" % (tag, i),
                       "timestamp": "2026-03-01T08:00:00Z"}
                      for i in range(n)]}


def raw(port, data):
    """A connection that sends data and then nothing more."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    if data:
        s.sendall(data)
    return s


with Env() as env:
    http_conf(env)
    d = Daemon(env)

    # The store locked by another writer past the writer's patience.
    lock = sqlite3.connect(env.db, timeout=30, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    s, h, b = d.post("/v1/batch", batch("locked", 10, "l"))
    eq((s, h.get("Retry-After")), (503, "2"),
       "503 with Retry-After while the store is locked")
    eq(json.loads(b)["success"], False, "saying it was not stored")
    s, h, b = d.request("GET", "/readyz")
    eq((s, b), (503, "not ready: the store does not take writes\n"),
       "/readyz: 503 meanwhile")
    lock.execute("ROLLBACK")
    lock.close()
    eq(events(env, "locked"), [], "nothing of the 503's request is stored")
    s, h, b = d.post("/v1/batch", batch("locked", 10, "l"))
    eq(s, 200, "the client's retry is stored")
    eq(len(events(env, "locked")), 10, "all of it")
    eq(d.request("GET", "/readyz")[0], 200, "/readyz: ready again")

    # A slow client (headers, then part of a body, then silence) and one
    # sending its headers a byte at a time hold up no one else.
    body = json.dumps(batch("slow", 5, "s")).encode()
    slow = raw(d.port, b"POST /v1/batch HTTP/1.1\r\nHost: x\r\n"
               b"Content-Length: %d\r\n\r\n" % len(body) + body[:20])
    drip = raw(d.port, b"PO")
    s, h, b = d.post("/v1/batch", batch("quick", 3, "q"))
    eq(s, 200, "another client is answered while one stalls mid-body")
    eq(events(env, "slow"), [], "the stalled request stored nothing")
    slow.close()
    drip.close()

    # One address holds at most 64 connections; the others' are free.
    held = [raw(d.port, b"") for _ in range(64)]

    def refused():
        try:
            d.request("GET", "/healthz", timeout=10)
            return False
        except (ConnectionError, OSError):
            return True
    check(refused(), "a 65th connection from the same address is refused")
    for c in held:
        c.close()
    wait_for("a connection to be taken again",
             lambda: not refused() and d.request("GET", "/healthz")[0] == 200)
    check(True, "once they are closed, it is served again")

    # kill -9 right after each 200: every message of it is in the store.
    for rnd in range(5):
        s, h, b = d.post("/v1/batch", batch("crash", 100, "c%d" % rnd))
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()
        eq(s, 200, "round %d: 200, then kill -9 at once" % rnd)
        n = env.sql("SELECT count(*) FROM events e JOIN subjects s ON "
                    "s.sid = e.subject WHERE s.id = 'crash'")[0][0]
        eq(n, 100 * (rnd + 1), "round %d: all %d messages survived"
           % (rnd, 100 * (rnd + 1)))
        d = Daemon(env, "journeyd-%d.log" % rnd)
    eq(env.sql("PRAGMA integrity_check")[0][0], "ok", "the store is sound")
    d.stop()

need("openssl")
with Env() as env:
    cert, key = env.path("cert.pem"), env.path("key.pem")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                        "-nodes", "-keyout", key, "-out", cert, "-days", "2",
                        "-subj", "/CN=127.0.0.1", "-addext",
                        "subjectAltName=IP:127.0.0.1"], capture_output=True)
    check(r.returncode == 0, "a self-signed certificate", r.stderr)
    http_conf(env, extra='tls_cert_file = "%s"; tls_key_file = "%s";'
              % (cert, key))
    d = Daemon(env)
    check("(TLS)" in d.text(), "the log says it listens with TLS")
    url = "https://127.0.0.1:%d" % d.port
    s, h, b = d.curl("--cacert", cert, url + "/healthz")
    eq(s, 200, "HTTPS with the configured certificate")
    s, h, b = d.curl("--cacert", cert, "-u", WRITE_KEY + ":",
                     "--data-binary", "@-", url + "/v1/batch",
                     data=json.dumps(batch("tls", 3, "t")).encode())
    eq(s, 200, "a batch over HTTPS")
    eq(len(events(env, "tls")), 3, "is stored")
    r = subprocess.run(["curl", "-s", "-o", "/dev/null", "--max-time", "20",
                        "http://127.0.0.1:%d/healthz" % d.port])
    check(r.returncode != 0, "plain HTTP is not served there")
    d.stop()
    check(open(key).read().split("\n")[1] not in d.text(),
          "the TLS key is not in the log")
done()

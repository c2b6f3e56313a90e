"""Mail over TLS through the daemon: STARTTLS on smtp:// (starttls = true)
and implicit TLS on smtps://, against aiosmtpd with a certificate made by the
test and trusted through the email plugin's ca_file; a server whose
certificate is not trusted is a transient failure, never plain text."""
import json
import os
import subprocess
import sys

from jdtest import Env, track, identify, eq, check, done, start_server

def start_smtp(env, name, args):
    d = env.path(name)
    os.mkdir(d)
    return start_server(env, "smtp", ["--dir", d] + args), d


def mails(d):
    out = []
    for f in sorted(os.listdir(d)):
        if f.endswith(".json"):
            with open(os.path.join(d, f)) as fh:
                out.append(json.load(fh))
    return out


with Env() as env:
    cert, key = env.path("cert.pem"), env.path("key.pem")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-keyout", key, "-out", cert, "-days", "2", "-subj",
                        "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                       capture_output=True)
    if r.returncode != 0:
        print("openssl cannot make a certificate: skipped")
        sys.exit(77)
    tls = ["--tls-cert", cert, "--tls-key", key]
    p1, d1 = start_smtp(env, "starttls", tls + ["--tls", "starttls"])
    p2, d2 = start_smtp(env, "implicit", tls + ["--tls", "implicit"])
    p3, d3 = start_smtp(env, "untrusted", tls + ["--tls", "starttls"])
    tdir = env.path("templates")
    os.mkdir(tdir)
    for name, text in (("hi.subject", "Hello {{first_name}}\n"), ("hi.txt", "Hi {{first_name}}\n")):
        with open(os.path.join(tdir, name), "w") as f:
            f.write(text)
    env.write_conf("""
plugins = {
  a = { module = "email"; smtp = "smtp://127.0.0.1:%d"; starttls = true; ca_file = "%s"; from = "t@example.com"; templates = "%s"; };
  b = { module = "email"; smtp = "smtps://127.0.0.1:%d"; ca_file = "%s"; from = "t@example.com"; templates = "%s"; };
  c = { module = "email"; smtp = "smtp://127.0.0.1:%d"; starttls = true; from = "t@example.com"; templates = "%s"; };
};
journeys = ( { name = "j"; entry = "count('signup') >= 1"; stages = [ "s" ];
  rules = (
    { name = "via-starttls"; when = "true"; action = { plugin = "a"; template = "hi"; }; },
    { name = "via-smtps"; when = "true"; action = { plugin = "b"; template = "hi"; }; },
    { name = "untrusted"; when = "true"; action = { plugin = "c"; template = "hi"; }; }
  ); } );
""" % (p1, cert, tdir, p2, cert, tdir, p3, tdir))
    env.jd("--check")
    env.import_lines([identify("u1", {"first_name": "Ann", "email": "ann@example.com"}),
                      track("u1", "signup", "2026-03-01T08:00:00Z")])
    env.once("2026-03-01T09:00:00Z")
    m = mails(d1)
    eq([(x["rcpt_tos"], x["subject"]) for x in m], [(["ann@example.com"], "Hello Ann")],
       "delivered over STARTTLS (the server requires it)")
    m = mails(d2)
    eq([(x["rcpt_tos"], x["subject"]) for x in m], [(["ann@example.com"], "Hello Ann")],
       "delivered over implicit TLS (smtps://)")
    eq(mails(d3), [], "an untrusted certificate: nothing sent")
    acts = {e["rule"]: e for e in env.show("u1")["history"] if e["what"] == "action"}
    eq((acts["via-starttls"]["status"], acts["via-smtps"]["status"]), ("done", "done"), "both done")
    eq(acts["untrusted"]["status"], "retrying", "an untrusted certificate is retried, not sent in plain text")
done()

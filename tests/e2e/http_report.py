"""GET /report in a browser (SPEC §13): headless Chromium loads the live
report from the daemon, through a local proxy that adds the admin bearer
token as an operator's reverse proxy would, and the page it builds has
every journey, its stages and their live counts; data posted over HTTP
shows up at the next load after a tick. Loaded without the token, the
browser gets the 401. Skips (77) when chromium is missing."""
import http.client
import http.server
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
from jdtest import Env, eq, check, done
from apilib import Daemon, http_conf, ADMIN_KEY

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    import sys
    print("SKIP: chromium is not installed (scripts/deps.sh installs it)")
    sys.exit(77)

BODY = """
journeys = (
  { name = "rider"; entry = "count('signup') >= 1";
    stages = [ "new", "first_ride" ];
    rules = ( { name = "first"; stage = "new"; when = "count('ride') >= 1"; goto = "first_ride"; } ); },
  { name = "b2b"; subject = "account"; entry = "users() >= 1";
    stages = [ "trial", "paid" ]; }
);
"""


def proxy(port):
    """An HTTP server on a free port that forwards GETs to port with the
    admin token added."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            c.request("GET", self.path, headers={
                "Authorization": "Bearer " + ADMIN_KEY})
            r = c.getresponse()
            body = r.read()
            self.send_response(r.status)
            for k, v in r.getheaders():
                if k.lower() not in ("connection", "transfer-encoding",
                                     "content-length", "date", "server"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def dom(url):
    """The DOM Chromium builds from url."""
    profile = tempfile.mkdtemp(prefix="journeyd-chromium.")
    try:
        r = subprocess.run([CHROMIUM, "--headless", "--no-sandbox",
                            "--disable-gpu", "--disable-quic", "--no-first-run",
                            "--disable-background-networking",
                            "--disable-component-update", "--disable-sync",
                            "--user-data-dir=" + profile, "--dump-dom", url],
                           capture_output=True, text=True, timeout=120)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    check(r.returncode == 0 and r.stdout, "chromium loaded %s" % url,
          r.stderr[-2000:])
    return r.stdout


def row(page, stage):
    """The numbers of a stage's row: now and ever reached."""
    m = re.search(r'<th scope="row">%s</th><td>(\d+)</td><td>(\d+)</td>'
                  % re.escape(stage), page)
    check(m is not None, "a row for stage %s" % stage)
    return int(m.group(1)), int(m.group(2))


with Env() as env:
    http_conf(env, body=BODY)
    d = Daemon(env)
    p = proxy(d.port)
    url = "http://127.0.0.1:%d/report" % p.server_address[1]

    page = dom(url)
    check("<title>journeyd report" in page, "the page is the report")
    check("rider" in page and "b2b" in page,
          "with every journey")
    eq((row(page, "new"), row(page, "first_ride")), ((0, 0), (0, 0)),
       "no one yet")
    check("<svg" in page, "with its charts")

    for i, who in enumerate(("ann", "bob", "cy")):
        s, h, b = d.post("/v1/batch", {"batch": [
            {"type": "track", "userId": who, "event": "signup",
             "timestamp": "2026-03-01T08:00:00Z"}] + (
            [{"type": "track", "userId": who, "event": "ride",
              "timestamp": "2026-03-01T09:00:00Z"}] if i > 0 else [])})
        eq(s, 200, "%s posted" % who)
    # The next tick (SIGHUP reloads and ticks at once).
    n = d.text().count("tick: ")
    d.proc.send_signal(signal.SIGHUP)
    d.wait_log("tick: ", n + 1)
    page = dom(url)
    eq((row(page, "new"), row(page, "first_ride")), ((1, 3), (2, 2)),
       "the live counts after the tick")

    page = dom("http://127.0.0.1:%d/report" % d.port)
    check("missing or wrong admin token" in page and "rider" not in page,
          "without the token the browser gets the 401, not the report")
    p.shutdown()
    d.stop()
done()

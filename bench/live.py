#!/usr/bin/env python3
"""bench/live's runs (see bench/live). Two modes:

  live.py enroll BUILD DB
      The journey's first tick over DB (journeyd --once): every user
      enters, so that the runs start from a database in use.

  live.py run BUILD DB WORK react|tick RATE SECONDS SLOT
      A copy of DB in WORK; a webhook receiver on 127.0.0.1 (this process,
      ThreadingHTTPServer, noting when each POST arrived); journeyd with a
      tick every hour, reacting, the HTTP API and the webhook; once its
      first tick is over, bench/live-client.cjs posts RATE events a second
      for SECONDS through Segment's node library. With "tick", the tick
      comes every SECONDS / 2 instead, so that full ticks over every user
      fall in the middle of the run (their count is printed). Waits
      for every webhook (at most 120 s after the last 200), then prints
      one JSON line: latency from each event's 200 to its webhook (p50,
      p99, max, ms), the time of each request to its 200 (p50, p99, max,
      ms), webhooks received and missing, failed events, full ticks during
      the run, the daemon's peak RSS (MiB) and CPU seconds, load average.
"""
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
KEY = "bench-live-key"
JOURNEYS = """
journeys = (
  { name = "rider"; entry = "count('signup') >= 1";
    stages = [ "member", "buyer" ];
    rules = (
      { name = "bought"; stage = "member"; when = "count('purchase') >= 1";
        goto = "buyer"; },
      { name = "thanks"; stage = "buyer"; on = "enter";
        action = { plugin = "hook"; }; }
    ); }
);
"""

arrivals = {}
lock = threading.Lock()


class Hook(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        t = time.time() * 1000
        user = json.loads(body)["subject"]["id"]
        with lock:
            arrivals.setdefault(user, t)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def conf(path, db, build, hook_port, http, interval="1h"):
    with open(path, "w") as f:
        f.write('database = "%s";\nplugin_dir = "%s/.libs";\n'
                'interval = "%s";\nreact = "1s";\nworkers = 8;\n'
                % (db, build, interval))
        if http:
            f.write('http = { listen = "127.0.0.1:0"; '
                    'write_key_file = "%s"; };\n' % http)
        f.write('plugins = { hook = { module = "webhook"; '
                'url = "http://127.0.0.1:%d/hook"; }; };\n' % hook_port)
        f.write(JOURNEYS)


def enroll(build, db):
    path = db + ".conf"
    conf(path, db, build, 9, None)
    r = subprocess.run([os.path.join(build, "journeyd"), "-c", path,
                        "--once"], capture_output=True, text=True)
    os.unlink(path)
    if r.returncode != 0:
        sys.exit("bench/live: enroll failed: " + r.stderr[-2000:])
    sys.stderr.write([l for l in r.stderr.splitlines() if "tick:" in l][-1]
                     + "\n")


def pct(v, p):
    if not v:
        return None
    v = sorted(v)
    return v[min(len(v) - 1, int(p / 100 * len(v)))]


def log_lines(path, what):
    with open(path) as f:
        return [l for l in f if what in l]


def wait_log(proc, path, what, n=1):
    while len(log_lines(path, what)) < n:
        if proc.poll() is not None:
            sys.exit("bench/live: journeyd exited: " + open(path).read()[-2000:])
        time.sleep(0.05)
    return log_lines(path, what)


def proc_stat(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    with open("/proc/%d/status" % pid) as f:
        hwm = [l for l in f if l.startswith("VmHWM")][0].split()[1]
    return cpu, int(hwm) / 1024


def run(build, src, work, mode, rate, seconds, slot):
    db = os.path.join(work, "live.db")
    for sfx in ("", "-wal", "-shm"):
        if os.path.exists(db + sfx):
            os.unlink(db + sfx)
    shutil.copyfile(src, db)
    keys = os.path.join(work, "keys")
    with open(keys, "w") as f:
        f.write(KEY + "\n")
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    path = os.path.join(work, "live.conf")
    conf(path, db, build, srv.server_address[1], keys,
         "%ds" % (seconds // 2) if mode == "tick" else "1h")
    log = os.path.join(work, "live.log")
    with open(log, "w") as lf:
        d = subprocess.Popen([os.path.join(build, "journeyd"), "-c", path],
                             stdout=lf, stderr=subprocess.STDOUT)
    try:
        line = wait_log(d, log, "http: listening on")[0]
        port = int(line.rsplit(":", 1)[1].split()[0])
        wait_log(d, log, "tick:")
        ticks0 = len(log_lines(log, "tick:"))
        cpu0, _ = proc_stat(d.pid)
        out = os.path.join(work, "client.out")
        env = dict(os.environ, NODE_PATH=os.environ.get(
            "JD_NODE_MODULES", os.path.join(TOP, "tests", "npm", "node_modules")))
        r = subprocess.run(["node", os.path.join(HERE, "live-client.cjs"),
                            "http://127.0.0.1:%d" % port, KEY, str(rate),
                            str(seconds), str(slot), out],
                           env=env, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit("bench/live: the client failed: " + r.stderr[-2000:])
        failed = int(r.stdout.split()[0])
        sent, reqs = {}, []
        with open(out) as f:
            for l in f:
                p = l.split()
                if p and p[0] == "U":
                    sent[p[1]] = float(p[2])
                elif p and p[0] == "R":
                    reqs.append(float(p[1]))
        deadline = time.time() + 120
        while time.time() < deadline:
            with lock:
                if all(u in arrivals for u in sent):
                    break
            time.sleep(0.1)
        cpu1, rss = proc_stat(d.pid)
        ticks = len(log_lines(log, "tick:")) - ticks0
    finally:
        d.terminate()
        d.wait()
        srv.shutdown()
    with lock:
        lat = [arrivals[u] - t for u, t in sent.items() if u in arrivals]
    print(json.dumps({
        "mode": mode, "events": rate * seconds, "ok": len(sent),
        "failed": failed, "webhooks": len(lat),
        "missing": len(sent) - len(lat),
        "lat_p50": pct(lat, 50), "lat_p99": pct(lat, 99),
        "lat_max": max(lat) if lat else None,
        "req_p50": pct(reqs, 50), "req_p99": pct(reqs, 99),
        "req_max": max(reqs) if reqs else None,
        "full_ticks": ticks, "rss_mib": round(rss, 1),
        "cpu_s": round(cpu1 - cpu0, 2),
        "load": open("/proc/loadavg").read().split()[:3]}))


if __name__ == "__main__":
    a = sys.argv[1:]
    if a[:1] == ["enroll"] and len(a) == 3:
        enroll(a[1], a[2])
    elif a[:1] == ["run"] and len(a) == 8:
        run(a[1], a[2], a[3], a[4], int(a[5]), int(a[6]), int(a[7]))
    else:
        sys.exit(__doc__)

"""An idle daemon sleeps: with 8 workers and nothing due, no worker thread
wakes and nothing is written to the database; a retry due later is
performed when it falls due (no tick, no kick in between: the workers'
alarm), and an action journeyctl puts back in the queue from another
process is performed too. Wake-ups are the threads' voluntary context
switches (/proc/PID/task/*/status); the CPU an idle daemon costs is
measured by bench/idle, not here."""
import os
import sqlite3
import time
from jdtest import Env, eq, check, done
from sinklib import conf, signups, arrivals, service, stop, statuses, wait_until


def threads(pid):
    """{tid: (name, voluntary context switches)} of the process."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                st = dict(l.split(":", 1) for l in f if ":" in l)
        except FileNotFoundError:
            continue
        out[int(tid)] = (st["Name"].strip(),
                         int(st["voluntary_ctxt_switches"]))
    return out


def worker_wakes(pid):
    """Wake-ups of every thread but the main one, the dispatcher's
    watchdog (which looks for other processes' commits every 5 s) and the
    reactor (which looks for new data every `react`, reading only)."""
    return sum(n for tid, (name, n) in threads(pid).items()
               if tid != pid and name not in ("jd-dispatch", "jd-react"))


def dispatcher_wakes(pid):
    return sum(n for tid, (name, n) in threads(pid).items()
               if name == "jd-dispatch")


def wal(env):
    try:
        s = os.stat(env.db + "-wal")
        return (s.st_size, s.st_mtime_ns)
    except FileNotFoundError:
        return None


with Env() as env:
    sink, log = env.path("sink"), env.path("log")
    conf(env, 'sink = { module = "testsink"; file = "%s"; };' % sink,
         'plugin = "sink"; fail_first = "{{ff}}"; fail = "{{fail}}";',
         workers=8, retry_min="3s", retry_max="1h")
    signups(env, ["u1", "r", "d"], traits={"r": {"ff": 1}, "d": {"fail": True}})
    p = service(env, log)
    wait_until(lambda: statuses(env) == {2: 2, 4: 1}, "u1 and r done, d dead",
               proc=p)
    ids = dict(env.sql("SELECT s.id, o.id FROM outbox o JOIN subjects s "
                       "ON s.sid = o.subject"))
    eq(sorted(a for a in arrivals(sink) if a[0] == ids["r"]),
       [(ids["r"], 1), (ids["r"], 2)],
       "the retry was performed when it fell due, with no tick in between")
    eq(open(log).read().count("tick: "), 1, "one tick only")

    # Idle: nothing due. Let the last wake-ups end: the outcomes' own, and
    # the one the watchdog's next look (every 5 s) makes for the tick's
    # commit. Quiet for 6 s: a look that saw no change.
    pid, last, since, start = p.pid, None, time.monotonic(), time.monotonic()
    while time.monotonic() - since < 6:
        n = worker_wakes(pid)
        if n != last:
            last, since = n, time.monotonic()
        if time.monotonic() - start > 60:
            check(False, "the workers fall idle", "still waking after 60 s")
        time.sleep(0.2)
    names = sorted(set(name for name, _ in threads(pid).values()))
    check("jd-worker" in names, "worker threads are named", names)
    db = sqlite3.connect(env.db)
    version, wal_before, wakes, looks = (
        db.execute("PRAGMA data_version").fetchone(), wal(env),
        worker_wakes(pid), dispatcher_wakes(pid))
    # Longer than the watchdog's look for other processes' commits (5 s).
    time.sleep(6)
    eq(worker_wakes(pid) - wakes, 0, "no worker woke while idle")
    looks = dispatcher_wakes(pid) - looks
    check(looks <= 3, "the dispatcher's watchdog woke only for its looks",
          "(%d wake-ups)" % looks)
    eq(db.execute("PRAGMA data_version").fetchone(), version,
       "nothing committed while idle")
    eq(wal(env), wal_before, "the -wal file unchanged while idle")
    db.close()

    # Another process puts the dead action back: performed, no tick.
    env.import_lines([{"type": "identify", "userId": "d", "traits": {"fail": False}}])
    env.ctl("retry", "--dead")
    wait_until(lambda: statuses(env) == {2: 3}, "the action put back done",
               proc=p)
    eq(sorted(a for a in arrivals(sink) if a[0] == ids["d"]),
       [(ids["d"], 1), (ids["d"], 1)], "tried again after journeyctl retry")
    eq(open(log).read().count("tick: "), 1, "still one tick only")
    eq(stop(p), 0, "SIGTERM: exit 0")
done()

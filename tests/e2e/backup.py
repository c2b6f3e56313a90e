"""journeyctl backup FILE (SPEC §18): an online copy while the daemon ticks
and dispatches and journeyctl imports beside it. Each copy passes
PRAGMA integrity_check and is one consistent moment: every queued action
has its history entry (the tick writes the two in one transaction). An existing FILE is never overwritten. Restored as the
README says (stop, copy over the database, remove -wal and -shm, start),
the copy takes a tick: the actions in flight when it was taken are
performed, and everyone who signed up enters."""
import os
import shutil
import sqlite3
import subprocess
import threading

from jdtest import Env, JOURNEYCTL, eq, check, ok, done
from sinklib import conf, signups, statuses, wait_until, service, stop

BATCH = 1000
COPIES = 4

with Env() as env:
    sink, log = env.path("sink"), env.path("log")
    conf(env, 'sink = { module = "testsink"; file = "%s"; hang_ms = 1; };'
         % sink, 'plugin = "sink";', interval="1s")
    signups(env, ["u0-%d" % i for i in range(BATCH)])
    p = service(env, log, now=None)
    wait_until(lambda: statuses(env).get(2, 0) > 0, "a first action done",
               proc=p)

    # journeyctl imports beside the daemon, batch after batch, until told.
    stopping = threading.Event()
    batches = []

    def importer():
        n = 1
        while not stopping.is_set():
            lines = "".join(
                '{"type":"track","userId":"u%d-%d","event":"signup",'
                '"timestamp":"2026-03-01T08:00:00Z"}\n' % (n, i)
                for i in range(BATCH))
            r = subprocess.run([JOURNEYCTL, "-c", env.conf, "import", "-"],
                               input=lines, capture_output=True, text=True)
            batches.append(r.returncode)
            n += 1

    t = threading.Thread(target=importer)
    t.start()
    copies = []
    try:
        for k in range(COPIES):
            # Each copy after one more batch imported beside the daemon,
            # and taken in by a tick.
            wait_until(lambda: len(batches) > k and env.sql(
                "SELECT count(*) FROM members")[0][0] >= BATCH * (k + 2),
                "batch %d imported and ticked" % k, proc=p)
            path = env.path("copy%d.db" % k)
            r = env.ctl("backup", path, check_rc=None)
            eq(r.returncode, 0, "backup %d while the daemon runs: exit 0" % k)
            check(path in r.stdout, "backup %d: says where" % k, r.stdout)
            copies.append(path)
    finally:
        stopping.set()
        t.join()
    eq(set(batches), {0}, "every import beside the daemon and backups: exit 0")
    check(p.poll() is None, "the daemon ran throughout")

    for path in copies:
        eq(oct(os.stat(path).st_mode & 0o777), "0o600",
           "%s: mode 0600" % os.path.basename(path))
        c = sqlite3.connect(path)
        eq(c.execute("PRAGMA integrity_check").fetchall(), [("ok",)],
           "%s: integrity_check" % os.path.basename(path))
        members = c.execute("SELECT count(*) FROM members").fetchone()[0]
        actions = c.execute("SELECT count(*) FROM outbox").fetchone()[0]
        entries = c.execute("SELECT count(*) FROM history "
                            "WHERE what = 'action'").fetchone()[0]
        c.close()
        check(members > 0, "%s: holds the daemon's work (%d members)"
              % (os.path.basename(path), members))
        eq(entries, actions, "%s: one moment: each queued action with "
           "its history entry" % os.path.basename(path))
        check(0 < actions <= members, "%s: actions of members only"
              % os.path.basename(path))

    # Never over an existing file, nor into a missing folder.
    before = os.path.getsize(copies[0])
    r = env.ctl("backup", copies[0], check_rc=1)
    check("already exists" in r.stderr, "an existing FILE: refused, said",
          r.stderr)
    eq(os.path.getsize(copies[0]), before, "the existing FILE untouched")
    missing = env.path("no/such/dir/copy.db")
    r = env.ctl("backup", missing, check_rc=1)
    check("No such file or directory" in r.stderr, "a missing folder: said",
          r.stderr)
    eq(stop(p), 0, "SIGTERM: exit 0")

    # Restore the last copy, as the README says, and run a tick on it.
    last = copies[-1]
    c = sqlite3.connect(last)
    signed = c.execute("SELECT count(DISTINCT subject) FROM events").fetchone()[0]
    c.close()
    shutil.copyfile(last, env.db)
    for suffix in ("-wal", "-shm"):
        if os.path.exists(env.db + suffix):
            os.unlink(env.db + suffix)
    env.jd("--once")    # the real clock, as the daemon ran
    eq(env.sql("PRAGMA integrity_check"), [("ok",)],
       "restored: integrity_check after a tick")
    eq(env.sql("SELECT count(*) FROM members")[0][0], signed,
       "restored: everyone who signed up in the copy is in the journey")
    eq(statuses(env), {2: signed},
       "restored: every action performed, those in flight at the copy too")
    ok("restored from %s" % os.path.basename(last))
    done()

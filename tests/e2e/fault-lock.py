"""The database locked by another process past the busy timeout: a Python
process holds BEGIN EXCLUSIVE while journeyctl import and the daemon's
ticks try to write. The import waits the busy timeout, then says which
database is locked and from which line nothing was imported, exits 1 and
leaves no partial batch; readers (journeyctl status) are not kept waiting;
the tick logs the failure, rolls back, and a later tick succeeds once the
lock is released. Nothing is lost: the import done again takes every
line, and every action is performed once."""
import subprocess
from jdtest import Env, JOURNEYCTL, track, eq, check, ok, done
from faultlib import Daemon, PY, fail, wait_for, outbox, integrity

NOW = "2026-03-01T09:00:00Z"
DONE = 2
LOCKER = """
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN EXCLUSIVE")
c.execute("INSERT INTO meta(key, value) VALUES ('locker', 'x')")
print("locked", flush=True)
sys.stdin.readline()
c.execute("ROLLBACK")
"""


def counts(env):
    return env.sql("SELECT (SELECT count(*) FROM subjects), "
                   "(SELECT count(*) FROM events), "
                   "(SELECT count(*) FROM members)")[0]


with Env() as env:
    env.write_conf("""
interval = "1s"; workers = 2;
plugins = { note = { module = "log"; }; };
journeys = ( { name = "welcome"; entry = "count('signup') >= 1";
  stages = [ "new", "done" ];
  rules = ( { name = "note"; stage = "new"; when = "true";
              action = { plugin = "note"; message = "hi {{id}}"; }; } ); } );
""")
    env.import_lines([track("ann", "signup", "2026-02-28T10:00:00Z")])
    later = env.path("later.jsonl")
    with open(later, "w") as f:
        for u in ("bob", "cid", "dee"):
            f.write('{"type":"track","userId":"%s","event":"signup",'
                    '"timestamp":"2026-02-28T11:00:00Z"}\n' % u)

    jd = Daemon(env, "--now", NOW)
    wait_for("ann's action", lambda: [r[2] for r in outbox(env)] == [DONE])
    ok_ticks = jd.count(" entered, ")

    locker = subprocess.Popen([PY, "-c", LOCKER, env.db], text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    env.procs.append(locker)
    eq(locker.stdout.readline().strip(), "locked", "another process holds "
       "the write lock")
    before = counts(env)

    # journeyctl import and the daemon's tick wait for the busy timeout at
    # the same time.
    imp = subprocess.Popen([JOURNEYCTL, "-c", env.conf, "import", later],
                           text=True, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
    env.procs.append(imp)
    r = subprocess.run([JOURNEYCTL, "-c", env.conf, "status"], text=True,
                       capture_output=True, timeout=60)
    eq(r.returncode, 0, "journeyctl status reads while the lock is held")
    check("welcome" in r.stdout, "status shows the journeys", r.stdout)

    out, err = imp.communicate(timeout=120)
    eq(imp.returncode, 1, "the import exits 1")
    check("%s: database is locked" % env.db in err, "the import names the "
          "locked database", err)
    check("later.jsonl: not imported from line 1 on" in err,
          "and says from which line nothing was imported", err)
    eq(out.strip(), "imported 0, duplicates 0, rejected 0",
       "the summary counts nothing imported")
    eq(counts(env), before, "no partial batch")

    jd.wait_log("tick: failed on %s" % env.db)
    check("%s: database is locked" % env.db in jd.text(),
          "the tick's log names the locked database", jd.text()[-2000:])
    eq(counts(env), before, "the failed tick changed nothing")

    locker.stdin.write("release\n")
    locker.stdin.flush()
    eq(locker.wait(timeout=60), 0, "the lock is released")
    n = jd.count(" entered, ")
    check(n >= ok_ticks, "ticks counted")
    jd.wait_log(" entered, ", n + 1)
    ok("a later tick succeeds")

    r = env.ctl("import", later)
    eq(r.stdout.strip(), "imported 3, duplicates 0, rejected 0",
       "the import done again takes every line")
    wait_for("every action", lambda: [x[2] for x in outbox(env)] ==
             [DONE] * 4)
    eq(counts(env), (4, 4, 4), "every customer in, once")
    eq(env.sql("SELECT count(*) FROM meta WHERE key = 'locker'"), [(0,)],
       "the locker's own write rolled back")
    check(jd.alive(), "the daemon is still running")
    eq(jd.stop(), 0, "journeyd stops cleanly")
    eq(integrity(env.db), [("ok",)], "integrity_check ok")
    done()

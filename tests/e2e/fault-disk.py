"""The database's disk fills up: the database on a small tmpfs (as root, or
in a user and mount namespace of its own; skipped, 77, only when neither
can mount one). Files are imported until the disk is full: the import says
"database or disk is full" with the database's file and from which line
nothing was imported; every line before it is in, none after; the
database stays intact; once space is freed the same file imports the
rest. Then the daemon ticks on a full disk: the tick fails with the same
clear error, nothing of it applied, a file in the drop folder is left
there, and once space is freed a later tick imports it, enters everyone
and every action is performed."""
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from jdtest import Env, JOURNEYCTL, eq, check, ok, done
from faultlib import Daemon, wait_for, outbox

NOW = "2026-03-01T09:00:00Z"
DONE = 2
CHUNK = 2000            # lines per file
USERS = 300
SPOOLED = 10            # users who sign up through the drop folder


def skip(why):
    print("SKIP: " + why)
    sys.exit(77)


def run(argv):
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


# Mounting needs root: else try again in a namespace where we are root.
if os.geteuid() != 0:
    if os.environ.get("JD_FAULT_NAMESPACE") or shutil.which("unshare") is None:
        skip("not root, and no user namespace to mount a tmpfs in")
    if run(["unshare", "--user", "--map-root-user", "--mount", "true"]).returncode:
        skip("not root, and unshare cannot make a user namespace here")
    os.environ["JD_FAULT_NAMESPACE"] = "1"
    sys.exit(subprocess.call(["unshare", "--user", "--map-root-user",
                              "--mount", sys.executable] + sys.argv))


def fill(path, leave):
    """Write zeros to path until the file system has leave bytes left, or
    none at all (leave = 0). Unbuffered: a buffered file would try to
    write what its buffer holds again when closed, and fail there."""
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                st = os.statvfs(os.path.dirname(path))
                room = st.f_bavail * st.f_frsize - leave
                if leave and room <= 0:
                    break
                f.write(b"\0" * (min(room, 65536) if leave else 65536))
                f.flush()
        except OSError:
            pass


def chunk(n):
    """File n: CHUNK track lines, each with its own messageId."""
    lines = []
    for i in range(CHUNK):
        lines.append(json.dumps({
            "type": "track", "userId": "u%d" % (i % USERS), "event": "ride",
            "timestamp": "2026-02-%02dT10:00:00Z" % (1 + i % 27),
            "messageId": "c%d-%d" % (n, i),
            "properties": {"fare": i, "note": "x" * 120}}))
    return "\n".join(lines) + "\n"


with Env() as env:
    fs = env.path("fs")
    os.mkdir(fs)
    r = run(["mount", "-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs", fs])
    if r.returncode != 0:
        skip("cannot mount a tmpfs: " + r.stderr.strip())
    try:
        env.db = os.path.join(fs, "journeyd.db")
        spool = env.path("spool")
        env.write_conf("""
spool_dir = "%s";
interval = "1s"; workers = 2;
plugins = { note = { module = "log"; }; };
journeys = ( { name = "riders"; entry = "count('signup') >= 1";
  stages = [ "new", "riding" ];
  rules = ( { name = "rides"; stage = "new"; when = "count('ride') >= 1"; goto = "riding"; },
            { name = "hello"; when = "true";
              action = { plugin = "note"; message = "hello {{id}}"; }; } ); } );
""" % spool)
        env.import_lines([{"type": "track", "userId": "u%d" % u,
                           "event": "signup", "messageId": "s%d" % u,
                           "timestamp": "2026-01-01T00:00:00Z"}
                          for u in range(USERS)])
        # One connection open for the whole test keeps the -wal and -shm
        # files, so that readers need no new space on the full disk.
        holder = sqlite3.connect(env.db, timeout=30)

        def events():
            return holder.execute("SELECT count(*) FROM events").fetchone()[0]

        def intact(what):
            eq(holder.execute("PRAGMA integrity_check").fetchall(), [("ok",)],
               what + ": integrity_check ok")

        # 1. Import file after file until the disk is full: 1 MiB left.
        filler = os.path.join(fs, "filler")
        fill(filler, 1 << 20)
        expected = USERS
        for n in range(1, 100):
            path = env.path("chunk%d.jsonl" % n)
            with open(path, "w") as f:
                f.write(chunk(n))
            r = run([JOURNEYCTL, "-c", env.conf, "import", path])
            if r.returncode == 0:
                expected += CHUNK
                eq(events(), expected, "file %d imported whole" % n)
                continue
            break
        else:
            check(False, "the disk never filled")
        eq(r.returncode, 1, "the import that hit the full disk exits 1")
        check("%s: database or disk is full" % env.db in r.stderr,
              "it says the database's disk is full, naming the file",
              r.stderr)
        m = re.search(r"chunk%d\.jsonl: not imported from line (\d+) on" % n,
                      r.stderr)
        check(m is not None, "it says from which line nothing was imported",
              r.stderr)
        first = int(m.group(1))
        got = {row[0] for row in holder.execute(
            "SELECT msg FROM events WHERE msg LIKE ?", ("m:c%d-%%" % n,))}
        eq(got, {"m:c%d-%d" % (n, i) for i in range(first - 1)},
           "every line before it is in, none from it on")
        m = re.search(r"imported (\d+), duplicates 0, rejected 0", r.stdout)
        check(m is not None and int(m.group(1)) == first - 1,
              "the summary counts what is in", r.stdout)
        intact("on the full disk")

        # 2. Space freed: the same file imports the rest.
        os.unlink(filler)
        r = run([JOURNEYCTL, "-c", env.conf, "import", path])
        eq(r.returncode, 0, "after space is freed the import works")
        eq(r.stdout.strip(), "imported %d, duplicates %d, rejected 0"
           % (CHUNK - first + 1, first - 1), "the rest imported, nothing twice")
        eq(events(), expected + CHUNK, "every line in, once")
        intact("after the import")

        # 3. The daemon ticks on a full disk: an empty WAL, no space left.
        eq(holder.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0], 0,
           "WAL checkpointed")
        fill(filler, 0)
        os.makedirs(os.path.join(spool, "tmp"))
        dropped = os.path.join(spool, "tmp", "signups.jsonl")
        with open(dropped, "w") as f:
            for u in range(SPOOLED):
                f.write('{"type":"track","userId":"new%d","event":"signup",'
                        '"timestamp":"2026-02-01T00:00:00Z"}\n' % u)
        os.rename(dropped, os.path.join(spool, "signups.jsonl"))
        jd = Daemon(env, "--now", NOW)
        jd.wait_log("tick: failed on %s" % env.db)
        jd.wait_log("spool: signups.jsonl: not imported, left for the next "
                    "scan")
        check(os.path.exists(os.path.join(spool, "signups.jsonl")),
              "the dropped file stays in the drop folder")
        check("%s: database or disk is full" % env.db in jd.text(),
              "the tick says the database's disk is full, naming the file",
              jd.text()[-2000:])
        eq(holder.execute("SELECT (SELECT count(*) FROM members), "
                          "(SELECT count(*) FROM history), "
                          "(SELECT count(*) FROM outbox)").fetchone(),
           (0, 0, 0), "nothing of the failed tick applied")
        intact("after the failed tick")

        os.unlink(filler)
        wait_for("every action", lambda: [x[2] for x in outbox(env)] ==
                 [DONE] * (USERS + SPOOLED))
        eq(holder.execute("SELECT stage, count(*) FROM members GROUP BY stage"
                          ).fetchall(), [("new", SPOOLED), ("riding", USERS)],
           "once space is freed a tick imports the dropped file, enters and "
           "moves everyone")
        eq(os.listdir(os.path.join(spool, "done")), ["signups.jsonl"],
           "the dropped file moved to done/")
        check(jd.alive(), "the daemon is still running")
        eq(jd.stop(), 0, "journeyd stops cleanly")
        intact("at the end")
        holder.close()
    finally:
        for p in env.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        subprocess.run(["umount", "-l", fs])
    done()

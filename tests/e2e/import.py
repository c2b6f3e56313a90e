"""journeyctl import end to end: files, stdin ('-' and none), bad lines
reported as FILE:LINE: reason while the good ones land, the summary, the
exit status, idempotent re-imports, two files at once; and the daemon's
drop folder (spool_dir): done/, failed/ with NAME.errors, dot-files left
alone."""
import json
import os
from jdtest import Env, track, identify, group, eq, check, done

CONF = """
interval = "1m";
journeys = ( { name = "rider"; entry = "count('signup') >= 1";
               stages = [ "new", "rider" ];
               rules = ( { name = "ride"; stage = "new"; when = "count('ride') >= 1"; goto = "rider"; } ); } );
"""
NOW = "2026-03-01T09:00:00Z"


def write(path, lines):
    with open(path, "w") as f:
        for l in lines:
            f.write((l if isinstance(l, str) else json.dumps(l)) + "\n")


def events(env):
    return env.sql("SELECT count(*) FROM events")[0][0]


with Env() as env:
    env.write_conf(CONF)

    # A file with good and bad lines: the good ones land, each bad one is
    # reported with its file and line, the summary counts, exit 1.
    a = env.path("a.jsonl")
    write(a, [track("ann", "signup", "2026-02-01T10:00:00Z"),
              "this is not json",
              track("ann", "ride", "2026-02-02T10:00:00Z"),
              {"type": "track", "event": "ride", "timestamp": "2026-02-02T10:00:00Z"},
              {"type": "jump", "userId": "ann"},
              track("ann", "ride", "yesterday"),
              identify("ann", {"plan": "basic"}),
              "",
              group("ann", "acme", {"name": "Acme"})])
    r = env.ctl("import", a, check_rc=1)
    err = r.stderr.splitlines()
    eq([l.split(": ", 1)[0] for l in err],
       ["%s:2" % a, "%s:4" % a, "%s:5" % a, "%s:6" % a],
       "each bad line reported as FILE:LINE")
    check("not valid JSON" in err[0] and "userId" in err[1] and
          "jump" in err[2] and "yesterday" in err[3],
          "each report says why", r.stderr)
    eq(r.stdout, "imported 4, duplicates 0, rejected 4\n", "summary line")
    eq(events(env), 2, "the good track lines landed")
    s = env.show("ann")
    eq((s["traits"].get("plan"), s["account"]), ("basic", "acme"),
       "the good identify and group lines landed")

    # Re-importing the same file records nothing twice.
    r = env.ctl("import", a, check_rc=1)
    eq(r.stdout, "imported 0, duplicates 4, rejected 4\n",
       "re-import: every good line a duplicate")
    eq(events(env), 2, "re-import: no event twice")

    # A clean file exits 0; two files at once are summed.
    b = env.path("b.jsonl")
    c = env.path("c.jsonl")
    write(b, [track("bob", "signup", "2026-02-01T10:00:00Z"),
              track("bob", "ride", "2026-02-03T10:00:00Z")])
    write(c, [track("cy", "signup", "2026-02-01T10:00:00Z"),
              track("bob", "ride", "2026-02-03T10:00:00Z")])  # dup of b:2
    r = env.ctl("import", b, c)
    eq(r.stdout, "imported 3, duplicates 1, rejected 0\n",
       "two files at once: one summary, exit 0")
    eq(r.stderr, "", "nothing on stderr when all lines are good")
    r = env.ctl("import", b, a, check_rc=1)
    check(r.stderr.startswith("%s:2: " % a),
          "two files: the bad line named by its own file", r.stderr)

    # stdin: '-' and no argument; bad lines named <stdin>.
    text = json.dumps(track("dee", "signup", "2026-02-01T10:00:00Z")) + "\n"
    r = env.ctl("import", "-", input=text)
    eq(r.stdout, "imported 1, duplicates 0, rejected 0\n", "import - reads stdin")
    r = env.ctl("import", input=text)
    eq(r.stdout, "imported 0, duplicates 1, rejected 0\n",
       "import without a file reads stdin (and it is idempotent)")
    r = env.ctl("import", input=text + "{}\n", check_rc=1)
    eq(r.stderr, "<stdin>:2: missing \"type\"\n", "stdin: bad line as <stdin>:LINE")

    r = env.ctl("import", env.path("missing.jsonl"), check_rc=1)
    check("missing.jsonl" in r.stderr, "a missing file is an error", r.stderr)

    # The drop folder.
    spool = env.path("spool")
    os.mkdir(spool)         # the operator's; journeyd makes what is inside
    env.write_conf(CONF + 'spool_dir = "%s";\n' % spool)
    env.once(NOW)           # creates tmp/, done/, failed/
    for sub in ("tmp", "done", "failed"):
        check(os.path.isdir(os.path.join(spool, sub)), "spool: %s/ created" % sub)

    tmp = os.path.join(spool, "tmp", "good.jsonl")
    write(tmp, [track("eve", "signup", "2026-02-01T10:00:00Z"),
                track("eve", "ride", "2026-02-05T10:00:00Z")])
    os.rename(tmp, os.path.join(spool, "good.jsonl"))
    write(os.path.join(spool, "bad.jsonl"),
          [track("fay", "signup", "2026-02-01T10:00:00Z"), "{oops",
           {"type": "track", "userId": "fay"}])
    write(os.path.join(spool, ".partial.jsonl"),
          [track("gus", "signup", "2026-02-01T10:00:00Z")])
    r = env.once(NOW)

    eq(sorted(os.listdir(os.path.join(spool, "done"))), ["good.jsonl"],
       "spool: a good file moved to done/")
    eq(sorted(os.listdir(os.path.join(spool, "failed"))),
       ["bad.jsonl", "bad.jsonl.errors"],
       "spool: a file with bad lines moved to failed/ with NAME.errors")
    with open(os.path.join(spool, "failed", "bad.jsonl.errors")) as f:
        errors = f.read().splitlines()
    eq([l.split(": ", 1)[0] for l in errors], ["bad.jsonl:2", "bad.jsonl:3"],
       "spool: NAME.errors lists FILE:LINE: reason")
    eq(sorted(n for n in os.listdir(spool)),
       [".partial.jsonl", "done", "failed", "tmp"],
       "spool: the dot-file (still being written) left alone")
    eq(env.stage("eve", "rider"), ("rider", "completed"),
       "spool: imported before the tick, which used it")
    eq(env.stage("fay", "rider"), ("new", "active"),
       "spool: the good lines of a failed file are kept")
    eq(env.sql("SELECT count(*) FROM subjects WHERE id = 'gus'")[0][0], 0,
       "spool: nothing of the dot-file imported")
    check("moved to done/good.jsonl" in r.stderr and "failed/bad.jsonl" in r.stderr,
          "spool: the log says where each file went", r.stderr)

    # The same name again: nothing is overwritten, and nothing counted twice.
    write(os.path.join(spool, "good.jsonl"),
          [track("eve", "ride", "2026-02-05T10:00:00Z")])
    env.once(NOW)
    eq(sorted(os.listdir(os.path.join(spool, "done"))),
       ["good.jsonl", "good.jsonl.1"], "spool: a second good.jsonl kept beside the first")
    eq(env.sql("SELECT count(*) FROM events e JOIN subjects s ON s.sid = e.subject "
               "WHERE s.id = 'eve'")[0][0], 2, "spool: a re-delivered line recorded once")
done()

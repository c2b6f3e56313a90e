"""Hostile input end to end: ids, event names and traits made of SQL,
format strings, quotes and backslashes; NUL bytes (escaped and raw), 1 MiB
strings, JSON nested 10000 deep, timestamps at the limits of 64 bits and
invalid UTF-8, through import, show, explain, report and a tick whose rules
name those events. Config files with an include loop, a byte order mark, CRLF
line ends, NUL bytes, and plugin modules with a path. Each is refused with a
message that says where, or handled; the database stays intact and its
counts exact."""
import json
import os
import subprocess
from jdtest import Env, JOURNEYCTL, JOURNEYD, track, identify, group, eq, check, ok, done

SQL = "'); DROP TABLE events; --"
FMT = "%n%s%x%s%s%s%n"
QUOTES = "it's \"quoted\" \\ back\\'slash"
NOW = "2026-03-01T09:00:00Z"
MIB = 1048576


def rule_str(s):
    """s as a string literal of the rule language: \\' and \\\\ escapes."""
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def conf_str(s):
    """s as a libconfig string: \\" and \\\\ escapes."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def when(expr):
    return conf_str(expr)


CONF = """
plugins = { note = { module = "log"; }; };
journeys = (
  { name = "hostile";
    entry = %s;
    stages = [ "in", "quoted", "formatted" ];
    rules = (
      { name = "quotes"; stage = "in"; when = %s; goto = "quoted"; },
      { name = "format"; stage = "quoted"; when = %s; goto = "formatted"; },
      { name = "tell"; stage = "formatted"; when = %s;
        action = { plugin = "note"; message = "%%n{{%%s}} {{plan}} {{ %s }}"; }; }
    ); }
);
""" % (
    when("count(%s) >= 1" % rule_str(SQL)),
    when("count(%s, 30d) >= 1 and attr(%s) == %s" % (rule_str(QUOTES), rule_str(FMT), rule_str(SQL))),
    when("count(%s) >= 2 and since(%s) < 1d" % (rule_str(FMT), rule_str(FMT))),
    when("attr('plan') == %s" % rule_str(FMT)),
    "weird",
)


def counts(env):
    return env.sql("SELECT (SELECT count(*) FROM subjects WHERE kind = 0), "
                   "(SELECT count(*) FROM subjects WHERE kind = 1), "
                   "(SELECT count(*) FROM events)")[0]


def intact(env, what):
    eq(env.sql("PRAGMA integrity_check"), [("ok",)], what + ": integrity_check ok")
    tables = {r[0] for r in env.sql("SELECT name FROM sqlite_master WHERE type = 'table'")}
    check({"subjects", "events", "members", "history", "outbox"} <= tables,
          what + ": every table is still there", str(tables))


def import_bytes(env, data, check_rc):
    r = subprocess.run([JOURNEYCTL, "-c", env.conf, "import", "-"], input=data,
                       capture_output=True, timeout=120)
    if r.returncode != check_rc:
        print(r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")[:3000])
    eq(r.returncode, check_rc, "import exits %d" % check_rc)
    return r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


with Env() as env:
    env.write_conf(CONF)
    r = env.jd("--check")
    ok("a config whose rules name SQL, format strings and quotes passes --check")

    # 1. Good lines whose ids, names and traits are hostile: imported as data.
    good = [
        track("u-sql", SQL, "2026-02-27T08:00:00Z"),
        identify("u-sql", {FMT: SQL, "plan": FMT, "weird": "<b>&amp;</b>"}),
        track("u-sql", QUOTES, "2026-02-27T09:00:00Z"),
        track("u-sql", FMT, "2026-02-28T09:00:00Z", props={SQL: 1}),
        track("u-sql", FMT, "2026-03-01T08:00:00Z"),
        track(SQL, SQL, "2026-02-20T08:00:00Z"),
        identify(SQL, {"plan": SQL}),
        track(FMT, "ride", "2026-02-20T08:00:00Z"),
        identify(QUOTES, {"x": "\u00e9\u20ac\U0001F600"}),
        group(SQL, FMT, {"name": SQL}),
        identify("big", {"blob": "x" * (MIB - 200)}),            # just under 1 MiB
        track("limits", "max", "@9223372036854775807"),
        track("limits", "min", "@-9223372036854775808"),
        track("limits", "far", "9999-12-31T23:59:59Z"),
        track("limits", "past", "0001-01-01T00:00:00Z"),
        track("limits", "epoch", "1970-01-01T00:00:00+00:00"),
    ]
    env.import_lines(good)
    eq(counts(env), (6, 1, 11), "hostile but valid lines imported as data")
    intact(env, "after the good lines")

    # 2. Bad lines: each rejected with FILE:LINE: reason, the rest kept.
    bad = [
        b'{"type":"track","userId":"nul\\u0000x","event":"e"}',        # 1
        b'{"type":"track","userId":"raw\x00x","event":"e"}',           # 2
        b'{"type":"identify","userId":"big2","traits":{"b":"' + b"y" * MIB + b'"}}',  # 3
        b'{"type":"identify","userId":"deep","traits":' + b'{"a":' * 10000 + b'1' + b'}' * 10000 + b'}',  # 4
        b'{"type":"track","userId":"deep","event":"e","properties":' + b'[' * 10000 + b']' * 10000 + b'}',  # 5
        b'{"type":"track","userId":"bad\xff\xfe","event":"e"}',        # 6
        b'{"type":"track","userId":"sur\xed\xa0\x80","event":"e"}',    # 7
        b'{"type":"track","userId":"t","event":"e","timestamp":"@9223372036854775808"}',  # 8
        b'{"type":"track","userId":"t","event":"e","timestamp":"2026-02-30T00:00:00Z"}',  # 9
        b'{"type":"track","userId":"t","event":"e","timestamp":"' + FMT.encode() + b'"}',  # 10
        b'{"type":"' + SQL.encode() + b'","userId":"t"}',                    # 11
        b'{"type":"track","userId":"ok","event":"kept"}',               # 12: good
    ]
    out, err = import_bytes(env, b"\n".join(bad) + b"\n", 1)
    lines = [l for l in err.splitlines() if l.startswith("<stdin>:")]
    eq([l.split(":")[1] for l in lines], [str(i) for i in range(1, 12)],
       "every bad line reported by its number")
    for l in lines:
        check(len(l) < 400, "a rejection message is short", l[:500])
    check("NUL" in lines[0] and "NUL" in lines[1], "NUL bytes named", "\n".join(lines[:2]))
    check("longer than" in lines[2], "a line over 1 MiB is named", lines[2])
    check("JSON" in lines[3] and "JSON" in lines[4], "JSON nested 10000 deep is refused as JSON", "\n".join(lines[3:5]))
    check("UTF-8" in lines[5] and "UTF-8" in lines[6], "invalid UTF-8 named", "\n".join(lines[5:7]))
    check(all("timestamp" in l for l in lines[7:10]), "bad timestamps named", "\n".join(lines[7:10]))
    check("%n" not in lines[9] or FMT in lines[9], "a format string is quoted as text", lines[9])
    check("unknown type" in lines[10], "an unknown type named", lines[10])
    check("imported 1" in err + out and "rejected 11" in err + out, "summary counts", err[-300:] + out)
    eq(counts(env), (7, 1, 12), "only the good line of the bad batch imported")
    intact(env, "after the bad lines")

    # A BOM at the start of a file and CRLF line ends are accepted.
    import_bytes(env, b'\xef\xbb\xbf{"type":"track","userId":"bom","event":"e"}\r\n'
                 b'{"type":"track","userId":"crlf","event":"e"}\r\n', 0)
    eq(counts(env), (9, 1, 14), "BOM and CRLF lines imported")

    # 3. show and explain take hostile ids as plain text.
    for ident in (SQL, FMT, QUOTES, "u-sql", "limits", "big"):
        j = env.show(ident)
        eq(j["id"], ident, "show --json: id %r round-trips" % ident[:20])
        r = env.ctl("show", ident)
        check(r.stdout.startswith("user " + ident), "show prints %r" % ident[:20], r.stdout[:200])
        r = env.ctl("explain", ident, "--now", NOW)
        check("journey hostile" in r.stdout, "explain %r" % ident[:20], r.stdout[:500] + r.stderr)
    eq(env.show("account:" + FMT)["traits"], {"name": SQL}, "an account named by a format string")
    eq(env.show(SQL)["account"], FMT, "its member")
    r = env.ctl("show", "nobody' OR '1'='1", check_rc=1)
    check("no user" in r.stderr, "an id made of SQL that matches nothing is unknown", r.stderr)
    r = env.ctl("explain", "%s%s%s%n", check_rc=1)
    ok("explain of an unknown format-string id exits 1")
    r = env.ctl("explain", "u-sql", "--now", "@9223372036854775807")
    ok("explain at the end of time")
    r = env.ctl("explain", "u-sql", "--now", "@-9223372036854775808")
    ok("explain at the start of time")

    # 4. A tick whose rules name the hostile events.
    r = env.once(NOW)
    eq(env.stage("u-sql", "hostile"), ("formatted", "completed"),
       "rules with SQL, quotes and format strings in their names move the user")
    eq(env.stage(SQL, "hostile"), ("in", "active"), "a user whose id is SQL entered")
    check(env.stage(FMT, "hostile") is None, "a user without the entry event did not")
    check(FMT in r.stderr and "<b>&amp;</b>" in r.stderr,
          "the log plugin wrote trait values with % signs as text", r.stderr[-1000:])
    hist = [(h["what"], h.get("rule")) for h in env.show("u-sql")["history"]]
    eq(hist, [("entered", "entry"), ("moved", "quotes"), ("moved", "format"), ("completed", None), ("action", "tell")],
       "history of the hostile user")
    intact(env, "after the tick")
    eq(counts(env), (9, 1, 14), "the tick changed no data")

    # Ticks at the limits of time change nothing they should not, and run.
    env.jd("--once", "--now", "@9223372036854775807")
    env.jd("--once", "--now", "@-9223372036854775808")
    env.jd("--once", "--now", "9999-12-31T23:59:59Z")
    ok("ticks at the limits of 64-bit time run")
    intact(env, "after the ticks at the limits")

    # 5. report, as text and HTML.
    r = env.ctl("report")
    check("hostile" in r.stdout, "report runs", r.stdout[:300])
    html = env.path("report.html")
    env.ctl("report", "--html", html)
    with open(html, encoding="utf-8") as f:
        page = f.read()
    check(page.lstrip().lower().startswith("<!doctype html") and "hostile" in page,
          "the HTML report is written", page[:200])

    # 6. The outbox and status survive hostile rows.
    env.ctl("status")
    env.ctl("outbox")
    ok("status and outbox run")


# Config files: include loops, BOM, CRLF, NUL, plugin modules with a path.
def check_conf(env, body, rc, want, what, raw=None):
    if raw is None:
        env.write_conf(body)
    else:
        with open(env.conf, "wb") as f:
            f.write(raw)
    r = env.jd("--check", check_rc=rc)
    if want:
        check(want in r.stdout + r.stderr, what, r.stdout + r.stderr)
        check(".conf:" in r.stdout + r.stderr, what + ": the message names the file",
              r.stdout + r.stderr)
    else:
        ok(what)


with Env() as env:
    check_conf(env, None, 1, "include file nesting too deep", "an @include of itself is refused",
               raw=b'@include "journeyd.conf"\n')
    with open(env.path("a.conf"), "w") as f:
        f.write('@include "b.conf"\n')
    with open(env.path("b.conf"), "w") as f:
        f.write('@include "a.conf"\n')
    # (Relative: libconfig 1.5 joins even an absolute @include path to the
    # include folder, the main file's.)
    check_conf(env, '@include "a.conf"\n', 1, "include file nesting too deep",
               "an include loop through two files is refused")
    check_conf(env, None, 0, None, "a config starting with a UTF-8 byte order mark is read",
               raw=('\ufeffdatabase = "%s";\njourneys = ();\n' % env.db).encode())
    check_conf(env, None, 0, None, "a config with CRLF line ends is read",
               raw=('database = "%s";\r\njourneys = ( { name = "j"; stages = ["a", "b"];\r\n'
                    '  rules = ( { name = "r"; when = "count(\'e\') >= 1"; goto = "b"; } ); } );\r\n'
                    % env.db).encode())
    check_conf(env, None, 1, ":2: NUL byte", "a NUL byte in the config is refused with its line",
               raw=('database = "%s";\ninterval = "5m\0";\n' % env.db).encode())
    check_conf(env, 'plugins = { x = { module = "../x"; }; };\n', 1, 'module "../x" must be a plain name',
               "a module name with ../ is refused")
    check_conf(env, 'plugins = { x = { module = "/tmp/x"; }; };\n', 1, 'module "/tmp/x" must be a plain name',
               "an absolute module path is refused")
    check_conf(env, 'plugins = { x = { module = "log\\u0000"; }; };\n', 1, "", "an escaped NUL in a module is refused")
    check_conf(env, 'journeys = ( { name = "j"; stages = ["a"]; rules = ( { name = "r"; when = %s; goto = "a"; } ); } );\n'
               % conf_str(" or ".join(["count('e') > 1"] * 200)), 1, "expression too long",
               "a rule of 200 terms is refused at load")
    check_conf(env, 'journeys = ( { name = "j"; stages = ["a"]; rules = ( { name = "r"; when = %s; goto = "a"; } ); } );\n'
               % conf_str("count('e') > " + "-(" * 40 + "1" + ")" * 40), 1, "nested too deeply",
               "a rule nested 40 deep is refused at load")
    check_conf(env, 'journeys = ( { name = "j"; stages = ["a"]; rules = ( { name = "r"; when = %s; goto = "a"; } ); } );\n'
               % conf_str("count('e') > " + "- " * 20 + "1 and " + " or ".join(["count('e') > 1"] * 100)), 0, None,
               "a rule nested 20 deep with 100 terms loads")
    # ... and ticks: its SQL parses.
    env.import_lines([track("u", "e", "2026-02-01T00:00:00Z")])
    env.write_conf('journeys = ( { name = "j"; entry = "true"; stages = ["a", "b"]; rules = ( { name = "r"; stage = "a"; when = %s; goto = "b"; } ); } );\n'
                   % conf_str("count('e') > " + "- " * 20 + "0 and (" + " or ".join(["count('e') > 5"] * 100) + " or true)"))
    env.once(NOW)
    eq(env.stage("u", "j"), ("b", "completed"), "the deepest rule allowed runs in a tick")

done()

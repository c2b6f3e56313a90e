"""Actions on entry (SPEC §14.5): a rule with on = "enter" fires once for
every entry into its stage, also for a fast climber that passed through it
within one tick and settled higher; its `when` is evaluated at the tick's
time and, when false then, that entry fires nothing, later either; a
re-entry after an exit is a new entry (a "once" rule stays fired); a
hand-off's entry fires too; and
--check refuses what makes no sense."""
from jdtest import Env, track, identify, eq, check, done

CONF = """
plugins = { log = { }; handoff = { }; };
journeys = (
  { name = "app"; entry = "count('signup') >= 1"; exit = "attr('gone') == true";
    reenter = true;
    stages = [ "new", "active", "pro" ];
    rules = (
      { name = "welcome"; stage = "new"; on = "enter"; action = { plugin = "log"; }; },
      { name = "activate"; stage = "new"; when = "count('use') >= 1"; goto = "active"; },
      { name = "tip"; stage = "new"; when = "has('tipme')"; action = { plugin = "log"; }; },
      { name = "pro"; stage = "active"; when = "attr('plan') == 'pro'"; goto = "pro"; },
      { name = "coupon"; stage = "active"; on = "enter"; when = "has('coupon')";
        action = { plugin = "log"; }; },
      { name = "both"; stage = [ "active", "pro" ]; on = "enter";
        action = { plugin = "log"; }; },
      { name = "next"; stage = "pro"; when = "true";
        action = { plugin = "handoff"; to = "club"; }; }
    ); },
  { name = "club"; stages = [ "member" ];
    rules = ( { name = "hello"; stage = "member"; on = "enter";
                action = { plugin = "log"; }; } ); }
);
"""


def fired(env, user):
    """The rules that queued an action for user, in order."""
    return [r for (r,) in env.sql(
        "SELECT o.rule FROM outbox o JOIN subjects s ON s.sid = o.subject "
        "WHERE s.id = ? AND o.journey = 'app' ORDER BY o.aid", user)]


with Env() as env:
    env.write_conf(CONF)
    env.jd("--check")
    env.import_lines([
        track("slow", "signup", "2026-03-01T00:00:00Z"),
        track("fast", "signup", "2026-03-01T00:00:00Z"),
        track("fast", "use", "2026-03-01T01:00:00Z"),
        identify("fast", {"plan": "pro"}),
        track("late", "signup", "2026-03-01T00:00:00Z"),
        track("late", "use", "2026-03-01T01:00:00Z"),
    ])
    env.once("2026-03-01T09:00:00Z")
    eq(env.stage("fast", "app"), ("pro", "completed"), "fast climbed to pro in one tick")
    eq(fired(env, "fast"), ["welcome", "both", "both", "next"],
       "a fast climber gets the welcome of every stage it passed")
    eq(env.stage("fast", "club"), ("member", "completed"), "fast handed off to the club")
    club = [r for (r,) in env.sql(
        "SELECT o.rule FROM outbox o JOIN subjects s ON s.sid = o.subject "
        "WHERE s.id = 'fast' AND o.journey = 'club'")]
    eq(club, ["hello"], "a hand-off's entry fires the stage's on-enter rule")
    eq(fired(env, "slow"), ["welcome"], "slow: welcomed at new")
    eq(fired(env, "late"), ["welcome", "both"], "late: no coupon when it entered active")

    # The coupon comes after the entry: that entry fired nothing, and
    # never will.
    env.import_lines([identify("late", {"coupon": "X"})])
    env.once("2026-03-02T09:00:00Z")
    eq(fired(env, "late"), ["welcome", "both"], "a condition false at the entry never fires later")
    eq(fired(env, "slow"), ["welcome"], "an entry fires once, not on every tick")

    env.once("2026-03-02T10:00:00Z")
    eq(len(env.sql("SELECT 1 FROM outbox WHERE rule = 'hello'")), 1,
       "the hand-off's entry fired once, not on every tick")

    # A "once" rule fires once per subject (SPEC §5).
    env.import_lines([identify("slow", {"tipme": True})])
    env.once("2026-03-02T11:00:00Z")
    eq(fired(env, "slow"), ["welcome", "tip"], "the once rule tip fired")

    # Exit and re-enter: a new entry, a new welcome; not a second tip.
    env.import_lines([identify("slow", {"gone": True})])
    env.once("2026-03-03T09:00:00Z")
    eq(env.stage("slow", "app"), ("new", "exited"), "slow left")
    r = env.ctl("explain", "slow")
    check("  rule tip (action log): not evaluated, exited the journey\n" in r.stdout,
          "explain names each rule of a journey the subject left, and why", r.stdout)
    env.import_lines([identify("slow", {"gone": False})])
    env.once("2026-03-04T09:00:00Z")
    eq(env.stage("slow", "app"), ("new", "active"), "slow came back")
    eq(fired(env, "slow"), ["welcome", "tip", "welcome"],
       "a re-entry is a new entry; a once rule does not fire again after it")
    r = env.ctl("explain", "slow")
    check("rule tip (action log): holds, but will not fire again (once, already fired at "
          "2026-03-02T11:00:00Z)" in r.stdout, "explain says so, across the re-entry", r.stdout)
    check("rule welcome (action log): holds (on = \"enter\": it fires when the subject "
          "enters its stage, not later)" in r.stdout, "explain says when an on-enter rule fires",
          r.stdout)

    # A dry run says what an entry would fire, and changes nothing.
    env.import_lines([track("dry", "signup", "2026-03-04T00:00:00Z")])
    r = env.jd("--dry-run", "--now", "2026-03-04T10:00:00Z")
    check("app dry: action log at new (rule welcome)" in r.stdout, "dry run shows the welcome", r.stdout)
    eq(fired(env, "dry"), [], "the dry run queued nothing")

    # --check refuses what makes no sense.
    for bad, want in [
        ('on = "leave";', 'the only event is "enter"'),
        ('on = "enter"; goto = "pro";', "cannot also have 'goto'"),
    ]:
        env.write_conf(CONF.replace('on = "enter"; action = { plugin = "log"; }; },',
                                    bad + ' action = { plugin = "log"; }; },', 1))
        r = env.jd("--check", check_rc=1)
        check(want in r.stderr and ":" in r.stderr.split(" ")[0], "--check: " + want, r.stderr)

    # repeat on such a rule does not apply: --check warns, and it is
    # ignored, even its value.
    env.write_conf(CONF.replace('on = "enter"; action = { plugin = "log"; }; },',
                                'on = "enter"; repeat = "soon"; action = { plugin = "log"; }; },', 1))
    r = env.jd("--check")
    line = [i for i, l in enumerate(open(env.conf).read().split("\n"), 1) if "repeat" in l][0]
    want = ("%s:%d: warning: rule \"welcome\": 'repeat' does not apply to "
            "on = \"enter\"" % (env.conf, line))
    check(want in r.stderr,
          "--check warns that repeat does not apply, at its line, and exits 0", r.stderr)
    env.import_lines([track("again", "signup", "2026-03-05T00:00:00Z")])
    for now in ("2026-03-05T10:00:00Z", "2026-03-05T12:00:00Z", "2026-03-06T12:00:00Z"):
        env.once(now)
    eq(fired(env, "again"), ["welcome"], "an entry fires once, whatever its repeat")

done()

"""The Glow family: Glow (conceiving) -> Glow Mother (pregnancy) -> Glow Baby
(after birth) by hand-off; a customer who opted out of the next product is
not handed off; a suggestion is announced, not enrolled."""
from jdtest import Env, track, identify, eq, check, done

CONF = """
plugins = {
  handoff = { };
  announce = { module = "log"; prefix = "offer"; };
};
journeys = (
  { name = "glow"; entry = "count('signup') >= 1";
    stages = [ "trying", "pregnant" ];
    rules = (
      { name = "pregnant"; stage = "trying"; when = "attr('pregnant') == true"; goto = "pregnant"; },
      { name = "to-mother"; stage = "pregnant"; when = "not (attr('opt_out_mother') == true)";
        action = { plugin = "handoff"; to = "glow_mother"; }; },
      { name = "suggest-baby"; stage = "pregnant"; when = "attr('opt_out_mother') == true";
        action = { plugin = "handoff"; to = "glow_baby"; suggest = true; via = "announce"; message = "try Glow Baby"; }; }
    ); },
  { name = "glow_mother"; stages = [ "pregnancy", "birth" ];
    rules = (
      { name = "born"; stage = "pregnancy"; when = "attr('baby_born') == true"; goto = "birth"; },
      { name = "to-baby"; stage = "birth"; when = "true";
        action = { plugin = "handoff"; to = "glow_baby"; stage = "newborn"; }; }
    ); },
  { name = "glow_baby"; stages = [ "newborn", "toddler" ]; }
);
"""

with Env() as env:
    env.write_conf(CONF)
    env.jd("--check")
    env.import_lines([
        track("p1", "signup", "2026-01-01T00:00:00Z"), identify("p1", {"pregnant": True}),
        track("p2", "signup", "2026-01-01T00:00:00Z"), identify("p2", {"pregnant": True, "opt_out_mother": True}),
        track("p3", "signup", "2026-01-01T00:00:00Z"),
    ])
    env.once("2026-03-01T09:00:00Z")
    eq(env.stage("p1", "glow"), ("pregnant", "completed"), "p1 pregnant: glow completed")
    eq(env.stage("p1", "glow_mother"), ("pregnancy", "active"), "p1 handed off to Glow Mother")
    h = [e for e in env.show("p1")["history"] if e["journey"] == "glow_mother"]
    eq([(e["what"], e["rule"], e["time"]) for e in h], [("entered", "to-mother", "2026-03-01T09:00:00Z")], "the hand-off is in the history")
    act = [e for e in env.show("p1")["history"] if e["what"] == "action"][0]
    eq((act["status"], act["note"]), ("done", "handed off to glow_mother"), "the hand-off action records the offer")
    eq(env.stage("p2", "glow_mother"), None, "p2 opted out: not handed off")
    eq(env.stage("p2", "glow_baby"), None, "a suggestion does not enroll")
    acts = [(e["rule"], e["plugin"], e["status"]) for e in env.show("p2")["history"] if e["what"] == "action"]
    eq(acts, [("suggest-baby", "handoff", "done"), ("suggest-baby", "announce", "done")], "the suggestion is announced via another instance")
    eq(env.stage("p3", "glow"), ("trying", "active"), "p3 stays")

    # A journey without entry is reached only by hand-off.
    eq(env.sql("SELECT count(*) FROM members WHERE journey = 'glow_baby'"), [(0,)], "no one enters glow_baby by itself")

    # Birth: Glow Mother hands off to Glow Baby at 'newborn'.
    env.import_lines([identify("p1", {"baby_born": True})])
    env.once("2026-06-01T09:00:00Z")
    eq(env.stage("p1", "glow_mother"), ("birth", "completed"), "birth completes Glow Mother")
    eq(env.stage("p1", "glow_baby"), ("newborn", "active"), "handed off to Glow Baby at its stage")
    # Hand-off fires once (repeat once), even on later ticks.
    env.once("2026-06-02T09:00:00Z")
    n = len([e for e in env.show("p1")["history"] if e["what"] == "action"])
    eq(n, 2, "each hand-off once")

    # --check refuses a hand-off to a journey that does not exist.
    with open(env.conf) as f:
        text = f.read()
    env.write_conf(text.split("\n", 2)[2].replace('to = "glow_baby"; stage = "newborn"', 'to = "glow_granny"'))
    r = env.jd("--check", check_rc=1)
    check('no journey "glow_granny"' in r.stderr, "--check: hand-off to a missing journey", r.stderr)
done()

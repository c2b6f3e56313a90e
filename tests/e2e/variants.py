"""Variants (SPEC §15): each subject's variant of a rule is drawn by a stable
hash of (journey, rule, subject) in proportion to the weights, after the
holdout, and kept: a reload that adds, reweighs or removes variants never
re-draws a subject (one whose variant is gone is held, reason 'variant
removed'). The variant is on the action in show (JSON and text) and in
templates as {{variant}}. The report gives each variant and the held-out
group their subjects, conversion and lift (95% Wald interval, pooled
z-test p-value), checked here against numbers worked out with Python's
math module; without a holdout, the lift is against the first variant."""
import math
import os
import re
from jdtest import (Env, track, identify, eq, check, done, holdout_bucket, fnv, lift,
                    near, Z95)

def variant_of(key, weights):
    """The variant of "journey/rule/id": FNV-1a 64 of key + "/variant"
    modulo the total weight, against the cumulative weights in order."""
    h = fnv(key + "/variant") % sum(w for _, w in weights)
    cum = 0
    for name, w in weights:
        cum += w
        if h < cum:
            return name


def near_p(cells, p, what):
    """A p-value as printed: three decimals, or "< 0.001"."""
    if cells[0] == "<":
        eq(cells[1], "0.001", what + " (bound)")
        check(p < 0.001, what, "printed < 0.001, computed %r" % p)
    else:
        near(cells[0], p, 3, what)


def conf(tpl, maildir, re_variants):
    return """
plugins = {
  note = { module = "log"; };
  mail = { module = "email"; maildir = "%s"; from = "Team <team@example.com>";
           templates = "%s"; };
};
journeys = (
  { name = "shop"; entry = "count('signup') >= 1"; stages = [ "trial", "paid" ];
    rules = (
      { name = "pay"; stage = "trial"; when = "count('pay') >= 1"; goto = "paid"; },
      { name = "tip"; stage = "trial"; when = "true"; holdout = 20;
        variants = ( { name = "short"; weight = 1; action = { plugin = "note"; }; },
                     { name = "story"; weight = 3; action = { plugin = "note"; }; } ); }
    ); },
  { name = "ab"; entry = "count('hello') >= 1"; stages = [ "a", "b" ];
    rules = (
      { name = "go"; stage = "a"; when = "count('go') >= 1"; goto = "b"; },
      { name = "hint"; stage = "a"; when = "true";
        variants = ( { name = "plain"; action = { plugin = "note"; }; },
                     { name = "bold"; action = { plugin = "note"; }; } ); }
    ); },
  { name = "re"; entry = "count('join') >= 1"; stages = [ "in" ];
    rules = (
      { name = "nudge"; when = "true"; repeat = "1d"; variants = ( %s ); }
    ); },
  { name = "mailer"; entry = "count('m') >= 1"; stages = [ "in" ];
    rules = (
      { name = "hi"; when = "true";
        variants = ( { name = "warm"; action = { plugin = "mail"; template = "hi"; }; },
                     { name = "cool"; action = { plugin = "mail"; template = "hi"; }; } ); }
    ); }
);
""" % (maildir, tpl, re_variants)


def re_variants(weights):
    return ", ".join('{ name = "%s"; weight = %d; action = { plugin = "note"; }; }' % vw
                     for vw in weights)


users = ["s%03d" % i for i in range(1200)]
SHOP = [("short", 1), ("story", 3)]
held = {u for u in users if holdout_bucket("shop/tip/" + u) < 20}
var = {u: variant_of("shop/tip/" + u, SHOP) for u in users if u not in held}
groups = {"short": {u for u in var if var[u] == "short"},
          "story": {u for u in var if var[u] == "story"}, "held out": held}
RATE = {"short": 45, "story": 36, "held out": 27}
paid = {u for g, us in groups.items() for u in us if (int(u[1:]) * 37 + 11) % 100 < RATE[g]}

ab = ["a%03d" % i for i in range(300)]
AB = [("plain", 1), ("bold", 1)]
abv = {u: variant_of("ab/hint/" + u, AB) for u in ab}
ab_go = {u for u in ab if (int(u[1:]) * 53 + 7) % 100 < (30 if abv[u] == "plain" else 42)}

with Env() as env:
    tpl, maildir = env.path("tpl"), env.path("mail")
    os.mkdir(tpl)
    for name, text in (("hi.subject", "Variant {{variant}}\n"), ("hi.txt", "Hi\n")):
        with open(os.path.join(tpl, name), "w") as f:
            f.write(text)
    OLD = [("a", 1), ("b", 1)]
    env.write_conf(conf(tpl, maildir, re_variants(OLD)))
    env.jd("--check")
    lines = [track(u, "signup", "2026-03-01T08:00:00Z") for u in users]
    lines += [track(u, "pay", "2026-03-02T08:00:00Z") for u in sorted(paid)]
    lines += [track(u, "hello", "2026-03-01T08:00:00Z") for u in ab]
    lines += [track(u, "go", "2026-03-02T08:00:00Z") for u in sorted(ab_go)]
    old = ["r%02d" % i for i in range(40)]
    lines += [track(u, "join", "2026-03-01T08:00:00Z") for u in old]
    for u in ("m1", "m2", "m3", "m4"):
        lines += [identify(u, {"email": u + "@example.com"}),
                  track(u, "m", "2026-03-01T08:00:00Z")]
    env.import_lines(lines)
    env.once("2026-03-01T09:00:00Z")

    # The draw: held out by the holdout's hash, the rest by the variant's.
    rows = env.sql("SELECT s.id, o.variant, o.status, o.reason FROM outbox o JOIN subjects s "
                   "ON s.sid = o.subject WHERE o.journey = 'shop' AND o.rule = 'tip'")
    eq({u for u, v, st, r in rows if st == 5 and r == "holdout" and v is None}, held,
       "the held-out subjects are those of the holdout's hash, with no variant")
    eq({u: v for u, v, st, r in rows if u not in held}, var,
       "every other subject has the variant of the hash, in proportion to the weights")
    eq(dict(env.sql("SELECT s.id, a.variant FROM assignments a JOIN subjects s ON s.sid = "
                    "a.subject WHERE a.journey = 'shop' AND a.rule = 'tip'")), var,
       "the draws are recorded, for the treated only")
    n_story = len(groups["story"])
    check(0.65 < n_story / len(var) < 0.85, "weights 1:3: about three in four are story",
          "%d of %d" % (n_story, len(var)))

    # show: JSON and text.
    u = sorted(groups["story"])[0]
    acts = [e for e in env.show(u)["history"] if e["what"] == "action"]
    eq([(e["rule"], e.get("variant")) for e in acts], [("tip", "story")],
       "show --json: the action's variant")
    h = sorted(held)[0]
    check(all("variant" not in e for e in env.show(h)["history"]),
          "show --json: a held-out action has no variant")
    text = env.ctl("show", u).stdout
    check("action tip variant story via note: done" in text, "show: the variant in text", text)
    text = env.ctl("explain", sorted(held)[1], "--now", "2026-03-01T09:00:00Z").stdout
    check("rule tip (2 variants): holds" in text, "explain: the rule's variants", text)

    # Templates: {{variant}}.
    subjects = {}
    for f in os.listdir(os.path.join(maildir, "new")):
        with open(os.path.join(maildir, "new", f)) as fh:
            head = fh.read().split("\n\n", 1)[0]
        to = [l[4:] for l in head.splitlines() if l.startswith("To: ")][0]
        subjects[to] = [l[9:] for l in head.splitlines() if l.startswith("Subject: ")][0]
    eq(subjects, {"%s@example.com" % u: "Variant " + variant_of("mailer/hi/" + u,
                                                                [("warm", 1), ("cool", 1)])
                  for u in ("m1", "m2", "m3", "m4")}, "{{variant}} in a template")

    # A reload: 'a' removed, 'b' reweighed, 'c' added. Nobody is re-drawn;
    # those of 'a' are held; newcomers draw among the variants now.
    first = dict(env.sql("SELECT s.id, a.variant FROM assignments a JOIN subjects s ON "
                         "s.sid = a.subject WHERE a.journey = 're'"))
    eq(first, {u: variant_of("re/nudge/" + u, OLD) for u in old}, "re: the first draws")
    NEW = [("b", 5), ("c", 1)]
    env.write_conf(conf(tpl, maildir, re_variants(NEW)))
    new = ["n%02d" % i for i in range(40)]
    env.import_lines([track(u, "join", "2026-03-02T08:00:00Z") for u in new] +
                     [track(u, "pay", "2026-03-02T08:00:00Z") for u in sorted(paid)] +
                     [track(u, "go", "2026-03-02T08:00:00Z") for u in sorted(ab_go)])
    env.once("2026-03-02T09:00:00Z")
    now = dict(env.sql("SELECT s.id, a.variant FROM assignments a JOIN subjects s ON "
                       "s.sid = a.subject WHERE a.journey = 're'"))
    eq({u: now[u] for u in old}, first, "re: a reload re-draws nobody")
    eq({u: now[u] for u in new}, {u: variant_of("re/nudge/" + u, NEW) for u in new},
       "re: newcomers draw among the variants of the reloaded config")
    second = env.sql("SELECT s.id, o.variant, o.status, o.reason FROM outbox o JOIN subjects s "
                     "ON s.sid = o.subject WHERE o.journey = 're' AND o.created = "
                     "strftime('%s', '2026-03-02T09:00:00Z')")
    eq(sorted((u, v, st, r) for u, v, st, r in second if u in first),
       sorted((u, v, 5 if v == "a" else 2, "variant removed" if v == "a" else None)
              for u, v in first.items()),
       "re: the repeat keeps each subject's variant; a removed one's action is held")

    # The report: per variant and held out, against the held-out group.
    out = env.ctl("report", "--now", "2026-03-03T09:00:00Z").stdout.splitlines()
    at = [i for i, l in enumerate(out) if l.startswith("  holdout tip (20%)")][0]
    x0, n0 = len(held & paid), len(held)
    for k, g in enumerate(("short", "story")):
        n1, x1 = len(groups[g]), len(groups[g] & paid)
        d, lo, hi, p = lift(x1, n1, x0, n0)
        check(min(x1, n1 - x1) >= 10 and p < 0.5, "%s: a data set large enough" % g)
        row = out[at + 2 + k].split()
        eq(row[:3], [g, str(n1), str(x1)], "text: %s's subjects and reached" % g)
        near(row[3], 100 * x1 / n1, 1, "text: %s's conversion" % g)
        near(row[4], 100 * d, 1, "text: %s's lift in points" % g)
        near(row[5], 100 * lo, 1, "text: %s's interval, low" % g)
        near(row[7], 100 * hi, 1, "text: %s's interval, high" % g)
        near_p(row[8:], p, "text: %s's p-value" % g)
    eq(out[at + 4].split(), ["held", "out", str(n0), str(x0), "%.1f%%" % (100 * x0 / n0),
                             "reference"], "text: held out is the reference")

    # Without a holdout: against the first variant.
    at = [i for i, l in enumerate(out) if l.startswith("  variants hint")][0]
    plain = {u for u in ab if abv[u] == "plain"}
    bold = set(ab) - plain
    eq(out[at + 2].split()[:3] + out[at + 2].split()[-1:],
       ["plain", str(len(plain)), str(len(plain & ab_go)), "reference"],
       "text: no holdout: the first variant is the reference")
    d, lo, hi, p = lift(len(bold & ab_go), len(bold), len(plain & ab_go), len(plain))
    row = out[at + 3].split()
    eq(row[:3], ["bold", str(len(bold)), str(len(bold & ab_go))], "text: bold's numbers")
    near(row[4], 100 * d, 1, "text: bold's lift against plain")
    near(row[5], 100 * lo, 1, "text: bold's interval, low")
    near(row[7], 100 * hi, 1, "text: bold's interval, high")
    near_p(row[8:], p, "text: bold's p-value")

    # The page: a row per variant, each one's interval in the chart.
    page = env.ctl("report", "--html", "-", "--now", "2026-03-03T09:00:00Z").stdout
    for g in ("short", "story"):
        n1, x1 = len(groups[g]), len(groups[g] & paid)
        check("<td>%s</td>" % g in page or ">%s<" % g in page, "html: a row for %s" % g)
    desc = [d for d in re.findall(r"<desc[^>]*>([^<]*)</desc>", page) if d.startswith("short: ")]
    check(len(desc) == 1, "html: one chart for the experiment", desc)
    for g in ("short", "story", "held out"):
        n1, x1 = len(groups[g]), len(groups[g] & paid)
        p1 = x1 / n1
        half = Z95 * math.sqrt(p1 * (1 - p1) / n1)
        m = re.search(re.escape(g) + r": ([0-9.]+)% \(([0-9.]+)\u2013([0-9.]+)%\)", desc[0])
        check(m is not None, "html: the chart gives %s's conversion and interval" % g, desc)
        for text, value in zip(m.groups(), (p1, p1 - half, p1 + half)):
            near(text, 100 * value, 1, "html: %s's chart %s" % (g, text))
done()

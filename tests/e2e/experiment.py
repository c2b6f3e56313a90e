"""The report's experiments (SPEC §15): per rule with a holdout, each group's
subjects, how many reached the next stage, the conversion with its 95% Wald
interval, and the lift against the held-out group (difference in percentage
points, its 95% Wald interval, the pooled two-proportion z-test's two-sided
p-value), in text and HTML; a sentence when a group is too small. The
numbers are worked out here, from the data this test made, with Python's
math module, and compared with what journeyctl prints."""
import html.parser
import re
from jdtest import Env, track, eq, check, done, holdout_bucket, wald, lift, near

CONF = """
plugins = { note = { module = "log"; }; };
journeys = (
  { name = "shop"; entry = "count('signup') >= 1";
    stages = [ "trial", "paid" ];
    rules = (
      { name = "pay"; stage = "trial"; when = "count('pay') >= 1"; goto = "paid"; },
      { name = "tip"; stage = "trial"; when = "true"; holdout = 30;
        action = { plugin = "note"; }; }
    ); },
  { name = "tiny"; entry = "count('hello') >= 1";
    stages = [ "a", "b" ];
    rules = (
      { name = "go"; stage = "a"; when = "count('go') >= 1"; goto = "b"; },
      { name = "hint"; stage = "a"; when = "true"; holdout = 50;
        action = { plugin = "note"; }; }
    ); }
);
"""
class Tables(html.parser.HTMLParser):
    """The cells of every table row, and the text of every <desc>."""

    def __init__(self):
        super().__init__()
        self.rows, self.descs, self.cell, self.desc = [], [], None, None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th") and self.rows:
            self.cell = ""
        elif tag == "desc":
            self.desc = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append(self.cell.strip())
            self.cell = None
        elif tag == "desc":
            self.descs.append(self.desc)
            self.desc = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data
        if self.desc is not None:
            self.desc += data


users = ["s%03d" % i for i in range(800)]
held = {u for u in users if holdout_bucket("shop/tip/" + u) < 30}
treated = set(users) - held
# Who pays: 40% of the treated, 28% of the held out, by a hash of the id
# unrelated to the holdout's.
paid = {u for u in users
        if (int(u[1:]) * 37 + 11) % 100 < (28 if u in held else 40)}
tiny = ["t%02d" % i for i in range(12)]
tiny_go = set(tiny[::2])

with Env() as env:
    env.write_conf(CONF)
    lines = [track(u, "signup", "2026-03-01T08:00:00Z") for u in users]
    lines += [track(u, "pay", "2026-03-02T08:00:00Z") for u in sorted(paid)]
    lines += [track(u, "hello", "2026-03-01T08:00:00Z") for u in tiny]
    lines += [track(u, "go", "2026-03-02T08:00:00Z") for u in sorted(tiny_go)]
    env.import_lines(lines)
    for d in (1, 2, 3):
        env.once("2026-03-0%dT09:00:00Z" % d)
    rows = env.sql("SELECT s.id FROM outbox o JOIN subjects s ON s.sid = o.subject "
                   "WHERE o.rule = 'tip' AND o.status = 5 AND o.reason = 'holdout'")
    eq({u for (u,) in rows}, held, "the held-out subjects are those of the hash")

    nt, xt = len(treated), len(treated & paid)
    nh, xh = len(held), len(held & paid)
    d, lo, hi, p = lift(xt, nt, xh, nh)
    check(min(xt, nt - xt, xh, nh - xh) >= 10 and 0.001 < p < 0.2,
          "the data set is large enough to compare, and p is printable (%.4f)" % p)

    out = env.ctl("report", "--now", "2026-03-04T09:00:00Z").stdout.splitlines()
    at = out.index("  holdout tip (30%%): treated %d, %d reached the next stage (%.1f%%); "
                   "held out %d, %d (%.1f%%)" % (nt, xt, 100 * xt / nt, nh, xh,
                                                  100 * xh / nh))
    eq(out[at + 1].split(), ["group", "subjects", "reached", "conversion", "lift",
                             "(pp)", "95%", "CI", "(pp)", "p-value"], "text: the groups' header")
    row = out[at + 2].split()
    eq(row[:3], ["treated", str(nt), str(xt)], "text: treated, its subjects and reached")
    near(row[3], 100 * xt / nt, 1, "text: treated's conversion")
    near(row[4], 100 * d, 1, "text: the lift in percentage points")
    eq(row[6], "to", "text: the interval")
    near(row[5], 100 * lo, 1, "text: the interval's low end")
    near(row[7], 100 * hi, 1, "text: the interval's high end")
    near(row[8], p, 3, "text: the p-value")
    check(row[4].startswith("+") and row[5].startswith("+"), "text: signed differences")
    eq(out[at + 3].split(), ["held", "out", str(nh), str(xh), "%.1f%%" % (100 * xh / nh),
                             "reference"], "text: the held-out group is the reference")

    # The small experiment: every number still, and a sentence that they
    # are rough (SPEC §15 gives no minimum size).
    th = {u for u in tiny if holdout_bucket("tiny/hint/" + u) < 50}
    tt = set(tiny) - th
    check(th and tt and 0 < len(tiny_go) < len(tiny), "both tiny groups have subjects, "
          "and the pooled variance is not 0", (len(th), len(tt)))
    sd, slo, shi, sp = lift(len(tt & tiny_go), len(tt), len(th & tiny_go), len(th))
    at = [i for i, l in enumerate(out) if l.startswith("  holdout hint (50%)")][0]
    row = out[at + 2].split()
    eq(row[:4], ["treated", str(len(tt)), str(len(tt & tiny_go)),
                 "%.1f%%" % (100 * len(tt & tiny_go) / len(tt))],
       "text: a small group's numbers")
    near(row[4], 100 * sd, 1, "text: a small group's lift")
    near(row[5], 100 * slo, 1, "text: a small group's interval, low")
    near(row[7], 100 * shi, 1, "text: a small group's interval, high")
    near(row[8], sp, 3, "text: a small group's p-value")
    eq(out[at + 4], "    Few subjects: the interval and p-value of treated against held "
       "out are rough (a normal approximation, which wants at least 10 who reached "
       "the next stage and 10 who did not in each group).",
       "text: the sentence when the sample is small")

    # The page: the same numbers in its table, each group's interval in
    # its chart's description; and --html - writes it to standard output.
    page = env.ctl("report", "--html", "-", "--now", "2026-03-04T09:00:00Z").stdout
    check(page.startswith("<!DOCTYPE html>") and "report at" not in page,
          "--html -: the page on standard output, without the text")
    eq(page.count("<svg"), 2 * 2 + 2, "html: funnel and times per journey, a chart per experiment")
    t = Tables()
    t.feed(page)
    # The first table with a treated row is the shop's.
    r = [r for r in t.rows if len(r) == 7 and r[0] == "treated"][0]
    eq(r[1:3], [str(nt), str(xt)], "html: treated's subjects and reached")
    conv = re.fullmatch(r"([0-9.]+)% \(([0-9.]+)\u2013([0-9.]+)%\)", r[3])
    check(conv is not None, "html: a conversion with its interval", r[3])
    for text, value, what in zip(conv.groups(), wald(xt, nt), ("conversion", "low", "high")):
        near(text, 100 * value, 1, "html: treated's %s" % what)
    near(r[4], 100 * d, 1, "html: the lift")
    m = re.fullmatch(r"([-+][0-9.]+) to ([-+][0-9.]+)", r[5])
    near(m.group(1), 100 * lo, 1, "html: the lift's interval, low")
    near(m.group(2), 100 * hi, 1, "html: the lift's interval, high")
    near(r[6], p, 3, "html: the p-value")
    desc = [x for x in t.descs if x.startswith("treated: ")][0]
    m = re.fullmatch(r"treated: ([0-9.]+)% \(([0-9.]+)\u2013([0-9.]+)%\); "
                     r"held out: ([0-9.]+)% \(([0-9.]+)\u2013([0-9.]+)%\)\.", desc)
    check(m is not None, "html: the chart describes each group's interval", desc)
    for text, value in zip(m.groups(), wald(xt, nt) + wald(xh, nh)):
        near(text, 100 * value, 1, "html: chart interval %s" % text)
    check("Few subjects: the interval and p-value of treated against held out are rough"
          in page, "html: the sentence for the small experiment")
    for bad in ("<script", "http://", "https://", "src=", "url("):
        check(bad not in page, "html: self-contained, no %r" % bad)
done()

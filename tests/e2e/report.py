"""journeyctl report on a known data set: stages now, ever reached,
conversion, median time to the next stage, stalled (with the `stalled` rule
end to end), holdout numbers; and the HTML page is self-contained."""
import re
from jdtest import Env, track, eq, check, done, holdout_bucket

CONF = """
plugins = { note = { module = "log"; }; };
journeys = (
  { name = "shop"; entry = "count('signup') >= 1";
    stages = ( { name = "visitor"; expect = "3d"; }, "trial", "paid", "fan" );
    rules = (
      { name = "try"; stage = "visitor"; when = "count('trial') >= 1"; goto = "trial"; },
      { name = "pay"; stage = "trial"; when = "count('pay') >= 1"; goto = "paid"; },
      { name = "love"; stage = "paid"; when = "count('review') >= 1"; goto = "fan"; },
      { name = "tip"; stage = "trial"; when = "true"; holdout = 50;
        action = { plugin = "note"; }; },
      { name = "stuck"; when = "stalled"; action = { plugin = "note"; }; }
    ); }
);
"""


def at(d):
    return "2026-03-%02dT09:00:00Z" % d


def ev(u, e, d):
    return track(u, e, "2026-03-%02dT08:00:00Z" % d)


users = ["u%d" % i for i in range(1, 11)]
with Env() as env:
    env.write_conf(CONF)
    lines = [ev(u, "signup", 1) for u in users]
    lines += [ev(u, "trial", 2) for u in users[:6]]       # u1..u6: trial on day 2
    lines += [ev(u, "pay", 4) for u in users[:3]]         # u1..u3: paid on day 4
    lines += [ev("u1", "review", 5)]                      # u1: fan on day 5
    lines += [ev("u9", "trial", 3), ev("u9", "pay", 3)]   # u9: two stages on day 3
    env.import_lines(lines)
    for d in range(1, 7):
        env.once(at(d))

    # stalled, end to end: 'visitor' expects 3 days; the rule fires once
    # stage_age exceeds it (day 5, 09:00), for those still there.
    rows = env.sql("SELECT s.id, strftime('%Y-%m-%dT%H:%M:%SZ', o.created, 'unixepoch') "
                   "FROM outbox o JOIN subjects s ON s.sid = o.subject "
                   "WHERE o.rule = 'stuck' ORDER BY s.id")
    eq(rows, [("u10", at(5)), ("u7", at(5)), ("u8", at(5))],
       "stalled: fires after expect, for those still at the stage")

    r = env.ctl("report", "--now", at(6))
    lines = r.stdout.splitlines()
    eq(lines[:3], ["report at " + at(6), "", "journey shop (users)"], "report: its time, the journey")
    table = [l.split() for l in lines[4:8]]
    eq(table, [
        ["visitor", "3", "10", "70.0%", "1d", "0h", "3"],   # 7 of 10 went on; median 1d
        ["trial", "3", "7", "57.1%", "2d", "0h", "-"],      # u1-3 after 2d, u9 at once
        ["paid", "3", "4", "25.0%", "1d", "0h", "-"],
        ["fan", "1", "1", "-", "-", "-"],
    ], "report: now, reached, to next, median, stalled per stage")
    eq(lines[3].split(), ["stage", "now", "reached", "to", "next", "median", "stalled"],
       "report: the header")

    held = {u for u in users[:6] if holdout_bucket("shop/tip/" + u) < 50}
    treated = set(users[:6]) - held
    paid = set(users[:3])
    def pct(a, b):
        return "-" if b == 0 else "%.1f%%" % (100.0 * a / b)
    want = ("  holdout tip (50%%): treated %d, %d reached the next stage (%s); "
            "held out %d, %d (%s)" % (len(treated), len(treated & paid),
                                      pct(len(treated & paid), len(treated)),
                                      len(held), len(held & paid),
                                      pct(len(held & paid), len(held))))
    eq(lines[8], want, "report: holdout, treated against held out")
    check(0 < len(held) < 6, "holdout: the data set has both groups (%d held)" % len(held))

    # A day later, more are stalled; without --now it is the real clock.
    r = env.ctl("report", "--now", at(3))
    eq(r.stdout.splitlines()[4].split()[-1], "0", "report: stalled depends on now")

    page = env.path("report.html")
    env.ctl("report", "--html", page, "--now", at(6))
    html = open(page).read()
    check(html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>"),
          "html: a whole page")
    for bad in ("<script", "http://", "https://", "src=", "@import", "url("):
        check(bad not in html, "html: self-contained, no %r" % bad)
    check(html.count("<svg") == 3 and 'role="img"' in html,
          "html: three inline SVG charts (funnel, times, the holdout's conversions)")
    check("<title id=\"f0-t\">Funnel</title>" in html and "visitor: 10 reached, 3 now" in html,
          "html: the charts have a title and a text description")
    cells = re.findall(r"<tr><th scope=\"row\">visitor</th>(.*?)</tr>", html)[0]
    eq(re.findall(r"<td[^>]*>([^<]*)", cells), ["3", "10", "70.0%", "1d 0h", "3 "],
       "html: the table has the same numbers")
    check("<h3>Experiment: rule tip <small>(50% held out)</small></h3>" in html,
          "html: the holdout's section")
    rows = {r[0]: re.findall(r"<td[^>]*>([^<]*)", r[1]) for r in
            re.findall(r"<tr><th scope=\"row\">(treated|held out)</th>(.*?)</tr>", html)}
    eq([rows["treated"][:2], rows["held out"][:2]],
       [[str(len(treated)), str(len(treated & paid))], [str(len(held)), str(len(held & paid))]],
       "html: the holdout table, treated and held out")
done()

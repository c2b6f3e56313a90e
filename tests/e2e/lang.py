"""The rule language of SPEC §14 end to end: each form on small data, with a
subject just inside its condition and one just outside, run by the daemon;
then explain --now at a past date, which must tell the stage, the events
and the firings of that date."""
from jdtest import Env, track, identify, group, eq, check, done

NOW = "2026-03-01T09:00:00Z"

CONF = """
plugins = { note = { module = "log"; }; };
segments = {
  paying = "attr('plan') in ('pro', 'team')";
  vip = "segment('paying') and count('order') >= 2";
};
journeys = (
  { name = "lang";
    entry = "count('signup') >= 1";
    stages = [ "in" ];
    rules = (
      { name = "where"; when = "count('order' where prop('total') >= 100 and prop('currency') == 'EUR', 30d) >= 1";
        action = { plugin = "note"; }; },
      { name = "coupon"; when = "sum('purchase' where not (prop('coupon') == 'STAFF'), 'total', 90d) >= 50";
        action = { plugin = "note"; }; },
      { name = "pricing"; when = "since('page' where prop('name') == 'Pricing') <= 1d";
        action = { plugin = "note"; }; },
      { name = "path"; when = "attr('address.city') == 'Berlin' and attr('tags[1]') == 'b'";
        action = { plugin = "note"; }; },
      { name = "ratio"; when = "account.active_users(7d) / account.users() >= 0.5";
        action = { plugin = "note"; }; },
      { name = "domain"; when = "segment('paying') and ends_with(attr('email'), account.attr('domain'))";
        action = { plugin = "note"; }; },
      { name = "trial"; when = "time(attr('trial_ends_at')) - now <= 3d and time(attr('trial_ends_at')) >= now";
        action = { plugin = "note"; }; },
      { name = "vip"; when = "segment('vip')"; action = { plugin = "note"; }; },
      { name = "old"; when = "since_first('signup') >= 30d"; action = { plugin = "note"; }; },
      { name = "mod"; when = "attr('n') % 7 == 3"; action = { plugin = "note"; }; },
      { name = "typed"; when = "attr('score') >= 100"; action = { plugin = "note"; }; },
      { name = "joined"; when = "since_joined() <= 7d and account.attr('plan') == 'pro'";
        action = { plugin = "note"; }; },
      { name = "days"; when = "days('visit', 30d) >= 2 and active_days(3d) >= 2";
        action = { plugin = "note"; }; },
      { name = "text"; when = "contains(lower(attr('title')), 'vp') and not starts_with(attr('title'), 'x')";
        action = { plugin = "note"; }; }
    ); },
  { name = "steps";
    entry = "count('join') >= 1";
    stages = [ "new", "rider", "regular" ];
    rules = (
      { name = "first"; stage = "new"; when = "count('ride') >= 1"; goto = "rider"; },
      { name = "hello"; stage = "rider"; when = "stage_age >= 1d and not (attr('plan') == 'pass')";
        action = { plugin = "note"; }; },
      { name = "regular"; stage = "rider"; when = "count('ride', 30d) >= 3"; goto = "regular"; }
    ); }
);
"""

RECENT = "2026-02-20T09:00:00Z"


def user(name, traits=None, signup=RECENT):
    out = [track(name, "signup", signup)]
    if traits:
        out.append(identify(name, traits))
    return out


def order(name, ts, **props):
    return track(name, "order", ts, props=props)


with Env() as env:
    env.write_conf(CONF)
    lines = []
    # where: exactly 30 days ago is in the window, a second more is not;
    # 99.99, "100" (a string) and 'eur' are not 100 EUR.
    lines += user("where_in") + [order("where_in", "2026-01-30T09:00:00Z", total=100, currency="EUR")]
    lines += user("where_out") + [
        order("where_out", "2026-01-30T08:59:59Z", total=100, currency="EUR"),
        order("where_out", "2026-02-28T09:00:00Z", total=99.99, currency="EUR"),
        order("where_out", "2026-02-28T09:00:00Z", total="100", currency="EUR"),
        order("where_out", "2026-02-28T09:00:00Z", total=100, currency="eur")]
    # coupon: orders without a coupon count; STAFF ones do not.
    lines += user("coupon_in") + [track("coupon_in", "purchase", RECENT, props={"total": 50})]
    lines += user("coupon_out") + [
        track("coupon_out", "purchase", RECENT, props={"total": 50, "coupon": "STAFF"}),
        track("coupon_out", "purchase", RECENT, props={"total": 49.5, "coupon": "X"})]
    # pricing: a day ago exactly, and a second more.
    lines += user("pricing_in") + [track("pricing_in", "page", "2026-02-28T09:00:00Z", props={"name": "Pricing"})]
    lines += user("pricing_out") + [track("pricing_out", "page", "2026-02-28T08:59:59Z", props={"name": "Pricing"}),
                                    track("pricing_out", "page", NOW, props={"name": "pricing"})]
    # path
    lines += user("path_in", {"address": {"city": "Berlin"}, "tags": ["a", "b"]})
    lines += user("path_out", {"address": {"city": "Berlin"}, "tags": ["b", "a"]})
    # ratio: 1 of 2 users active in 7 days is 0.5; 1 of 3 is not.
    lines += user("ratio_in") + [group("ratio_in", "half"), group("ratio_in2", "half"),
                                 track("ratio_in", "login", "2026-02-22T09:00:00Z")]
    lines += user("ratio_out") + [group("ratio_out", "third"), group("ratio_out2", "third"),
                                  group("ratio_out3", "third"),
                                  track("ratio_out", "login", "2026-02-22T09:00:00Z"),
                                  track("ratio_out2", "login", "2026-02-22T08:59:59Z")]
    # domain: the account's domain, case-sensitive.
    lines += user("domain_in", {"plan": "team", "email": "a@acme.io"}) + [
        group("domain_in", "acme", {"domain": "acme.io"})]
    lines += user("domain_out", {"plan": "team", "email": "a@ACME.io"}) + [
        group("domain_out", "acme")]
    # trial: ends in 3 days exactly (written with +0100), or a second more.
    lines += user("trial_in", {"trial_ends_at": "2026-03-04T10:00:00+0100"})
    lines += user("trial_out", {"trial_ends_at": "2026-03-04T09:00:01Z"})
    # vip: a segment that uses another.
    lines += user("vip_in", {"plan": "pro"}) + [order("vip_in", RECENT), order("vip_in", "2026-02-21T09:00:00Z")]
    lines += user("vip_out", {"plan": "basic"}) + [order("vip_out", RECENT), order("vip_out", "2026-02-21T09:00:00Z")]
    # old: the first signup 30 days ago exactly, or a second later.
    lines += user("old_in", signup="2026-01-30T09:00:00Z")
    lines += user("old_out", signup="2026-01-30T09:00:01Z")
    # mod: of the truncated integers; 10.5 % 7 is 3.
    lines += user("mod_in", {"n": 10.5})
    lines += user("mod_out", {"n": 11})
    # typed: the number 100, not the string "100".
    lines += user("typed_in", {"score": 100})
    lines += user("typed_out", {"score": "100"})
    # joined: newly in a paying account, after any other account.
    lines += user("joined_in") + [group("joined_in", "paid", {"plan": "pro"}, ts="2026-02-22T09:00:00Z")]
    lines += user("joined_back") + [group("joined_back", "paid", ts="2026-01-10T09:00:00Z"),
                                    group("joined_back", "free", ts="2026-01-20T09:00:00Z"),
                                    group("joined_back", "paid", ts="2026-02-26T09:00:00Z")]
    lines += user("joined_out") + [group("joined_out", "free", ts="2026-01-10T09:00:00Z"),
                                   group("joined_out", "paid", ts="2026-02-22T08:59:59Z")]
    lines += user("joined_long") + [group("joined_long", "paid", ts="2026-01-10T09:00:00Z"),
                                    group("joined_long", "paid", ts="2026-02-27T09:00:00Z")]
    lines += user("joined_later") + [group("joined_later", "paid", ts="2026-03-01T09:00:01Z")]
    # days: the same two visits, an hour apart across midnight UTC+14 (two
    # days in Kiritimati), not across it in Pago Pago (UTC-11, one day).
    for name, zone in (("days_in", "Pacific/Kiritimati"), ("days_out", "Pacific/Pago_Pago")):
        lines += user(name, {"timezone": zone}) + [
            track(name, "visit", "2026-02-27T09:30:00Z"), track(name, "visit", "2026-02-27T10:30:00Z")]
    # text
    lines += user("text_in", {"title": "SVP Sales"})
    lines += user("text_out", {"title": "xVP"})
    env.import_lines(lines)
    env.once(NOW)

    fired = {}
    for rule, ident in env.sql("SELECT h.rule, s.id FROM history h JOIN subjects s ON s.sid = h.subject "
                               "WHERE h.journey = 'lang' AND h.what = 'action' ORDER BY s.id"):
        fired.setdefault(rule, []).append(ident)
    want = {
        "where": ["where_in"], "coupon": ["coupon_in"], "pricing": ["pricing_in"],
        "path": ["path_in"], "ratio": ["ratio_in"], "domain": ["domain_in"],
        "trial": ["trial_in"], "vip": ["vip_in"], "old": ["old_in"], "mod": ["mod_in"],
        "typed": ["typed_in"], "text": ["text_in"], "joined": ["joined_back", "joined_in"],
        "days": ["days_in"],
    }
    for rule in want:
        eq(fired.get(rule, []), want[rule], "rule %s fires just inside its condition, not just outside" % rule)

    # --check refuses a stage that is no stage of the journey, and a cycle.
    env.write_conf(CONF.replace("attr('n') % 7 == 3", "stage('steps') == 'reguler'"))
    r = env.jd("--check", check_rc=1)
    check(":30: rule \"mod\": journey 'steps' has no stage 'reguler'" in r.stdout + r.stderr,
          "--check names a stage that is not there, at its line", r.stdout + r.stderr)
    env.write_conf(CONF.replace("segment('paying') and count", "segment('vip') and count"))
    r = env.jd("--check", check_rc=1)
    check(":7: segment 'vip': segment 'vip' uses itself (vip -> vip)" in r.stdout + r.stderr,
          "--check names a segment cycle at its line", r.stdout + r.stderr)
    env.write_conf(CONF)

    # explain --now at a past date: the stage, events and firings of then.
    env.import_lines([identify("hist", {"plan": "basic"}),
                      identify("hist", {"plan": "pass"}, ts="2026-02-20T09:00:00Z"),
                      track("hist", "join", "2026-02-01T09:00:00Z"),
                      track("hist", "ride", "2026-02-09T09:00:00Z"),
                      track("hist", "ride", "2026-02-20T09:00:00Z"),
                      track("hist", "ride", "2026-02-25T09:00:00Z")])
    env.once("2026-02-10T09:00:00Z")
    env.once("2026-02-12T09:00:00Z")
    env.once(NOW)
    eq(env.stage("hist", "steps"), ("regular", "completed"), "hist is regular now")
    r = env.ctl("explain", "hist", "--now", "2026-02-14T20:00:00Z")
    out = r.stdout
    check("journey steps: at rider (active)" in out, "explain --now tells the stage of then", out)
    check("stage_age = 4d 11h (needs >= 1d): yes" in out, "a duration is shown as a duration", out)
    check("count('ride', 30d) = 1 (needs >= 3): no" in out, "only the events up to then count", out)
    check("rule hello (action note): holds, but will not fire again (once, already fired at "
          "2026-02-12T09:00:00Z)" in out, "explain says a once rule already fired", out)
    check("    not (attr('plan') == 'pass'): yes\n      attr('plan') = 'basic' (needs == 'pass'): no" in out,
          "a not is shown as written, with the trait as it was then", out)
    r = env.ctl("explain", "hist", "--now", "2026-02-11T09:00:00Z")
    check("rule hello (action note): holds\n    stage_age = 1d (needs >= 1d): yes" in r.stdout,
          "before it fired, hello holds and may fire", r.stdout)
    r = env.ctl("explain", "hist", "--now", "2026-02-05T09:00:00Z")
    check("journey steps: not in it" in r.stdout, "before the first tick it was in no journey", r.stdout)
    check("  rule hello (action note): not evaluated, not in the journey\n" in r.stdout,
          "explain names every rule, also of a journey the subject is not in, and why "
          "it does not apply", r.stdout)
    r = env.ctl("explain", "hist", "--now", "2026-02-25T09:00:00Z")
    check("attr('plan') = 'pass' (needs == 'pass'): yes" in r.stdout, "the trait as it was set later", r.stdout)
    r = env.ctl("explain", "hist")
    check("journey steps: at regular (completed)" in r.stdout, "without --now, today's stage", r.stdout)
    r = env.ctl("explain", "typed_out", "--now", NOW)
    check("attr('score') = '100' (needs >= 100): no" in r.stdout, "a string trait is shown as a string", r.stdout)
done()

"""journeyd --check warns about templates' placeholders (SPEC 14.5), on
stderr as FILE:LINE: warning: message, with exit status 0: {{id}} is
ambiguous (the action's id), and a trait whose first key no subject has
gets the nearest key the store has seen. The store is opened read-only, and
only when it exists and keeps its trait keys; --check starts no plugin."""
import os
import sqlite3
from jdtest import Env, track, eq, check, done

TXT = """Hello {{first_name}},
your id is {{userId}}.
{{address.city}} {{account.name}} {{subject_id}} {{action_id}} {{journey}}
"""

with Env() as env:
    tpl = env.path("tpl")
    os.mkdir(tpl)
    for name, text in (("welcome.subject", "Welcome {{first_name}}\n"),
                       ("welcome.txt", TXT),
                       ("welcome.html", "<p>Hi {{first_name}}</p>\n<p>{{ id }}</p>\n")):
        with open(os.path.join(tpl, name), "w") as f:
            f.write(text)
    env.write_conf("""plugins = {
  mail = { module = "email"; maildir = "%s"; from = "team@example.com"; templates = "%s"; };
  note = { module = "log"; };
};
journeys = ( { name = "j"; entry = "count('signup') >= 1"; stages = [ "in" ];
  rules = (
    { name = "welcome"; when = "true"; action = { plugin = "mail"; template = "welcome"; }; },
    { name = "log"; when = "true";
      action = { plugin = "note";
                 message = "Hi {{first_nmae}} ({{id}})"; }; }
  ); } );
""" % (env.path("mail"), tpl))
    html = os.path.join(tpl, "welcome.html")
    txt = os.path.join(tpl, "welcome.txt")
    ambiguous = ("warning: {{id}} is the action's id, not the subject's: write "
                 "{{action_id}}, or {{subject_id}} for the subject's id")

    # No database yet: only {{id}} is warned about; nothing is created.
    r = env.jd("--check")
    eq(r.stdout, "", "--check prints nothing on stdout")
    eq(sorted(r.stderr.splitlines()),
       sorted(["%s:2: %s" % (html, ambiguous), "%s:12: %s" % (env.conf, ambiguous)]),
       "no store: {{id}} in a file and in the config, at their lines")
    check(not os.path.exists(env.db), "--check creates no database")
    check(not os.path.exists(env.path("mail")), "--check makes no Maildir (no init())")

    # A store without trait keys: nothing to compare with.
    env.import_lines([track("u1", "signup", "2026-03-01T08:00:00Z")])
    r = env.jd("--check")
    check("no subject has" not in r.stderr, "a store without trait_keys: no trait warning", r.stderr)

    # The keys the store has seen (table trait_keys, kept by ingest).
    c = sqlite3.connect(env.db)
    c.execute("CREATE TABLE IF NOT EXISTS trait_keys (key TEXT PRIMARY KEY)")
    c.executemany("INSERT OR IGNORE INTO trait_keys VALUES (?)",
                  [(k,) for k in ("first_name", "user_id", "address", "name", "email")])
    c.commit()
    c.close()
    r = env.jd("--check")
    eq(sorted(r.stderr.splitlines()), sorted([
        "%s:2: %s" % (html, ambiguous),
        "%s:12: %s" % (env.conf, ambiguous),
        '%s:2: warning: {{userId}}: no subject has a trait "userId"; '
        'did you mean "user_id"?' % txt,
        '%s:12: warning: {{first_nmae}}: no subject has a trait "first_nmae"; '
        'did you mean "first_name"?' % env.conf]),
       "an unknown first key is warned about, with the nearest known key")

    # An error is still an error (exit 1). Far from every key: no suggestion.
    with open(env.conf) as f:
        text = f.read()
    env.write_conf(text.split("\n", 2)[2].replace("{{first_nmae}}", "{{zzzzzz}}")
                   .replace('"true"; action = { plugin = "mail"', '"true"; bogus = 1; action = { plugin = "mail"'))
    r = env.jd("--check", check_rc=1)
    check("unknown setting 'bogus'" in r.stderr, "an error is still an error", r.stderr)
    env.write_conf(text.split("\n", 2)[2].replace("{{first_nmae}}", "{{zzzzzz}}"))
    r = env.jd("--check")
    check('%s:12: warning: {{zzzzzz}}: no subject has a trait "zzzzzz"\n' % env.conf in r.stderr,
          "no near key: no suggestion", r.stderr)
done()

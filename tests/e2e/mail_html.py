"""Mail's HTML part escapes what it substitutes (SPEC 14.5): a customer who
signs up named <a href="http://phish...">Click to verify</a> gets a mail
whose HTML part shows that text and holds no live link but the template's
own; the text part keeps the name as written; no header takes a line break
from the data."""
import email
import email.policy
import os
from jdtest import Env, track, identify, eq, check, done

NAME = '<a href="http://phish.example/login">Click to verify</a>'

with Env() as env:
    tpl, maildir = env.path("tpl"), env.path("mail")
    os.mkdir(tpl)
    for name, text in (("welcome.subject", "Welcome, {{first_name}}\n"),
                       ("welcome.txt", "Hi {{first_name}}\n"),
                       ("welcome.html", '<p>Hi {{first_name}}!</p>\n'
                        '<p><a href="https://example.com/start?u={{subject_id}}">Start</a></p>\n')):
        with open(os.path.join(tpl, name), "w") as f:
            f.write(text)
    env.write_conf("""plugins = {
  mail = { module = "email"; maildir = "%s"; from = "Team <team@example.com>"; templates = "%s"; };
};
journeys = ( { name = "j"; entry = "count('signup') >= 1"; stages = [ "in" ];
  rules = ( { name = "welcome"; when = "true"; action = { plugin = "mail"; template = "welcome"; }; } ); } );
""" % (maildir, tpl))
    env.import_lines([identify("u1\"><x", {"email": "eve@example.com", "first_name": NAME}),
                      track("u1\"><x", "signup", "2026-03-01T08:00:00Z"),
                      identify("u2", {"email": "bob@example.com",
                                      "first_name": "Bob\r\nBcc: all@example.com"}),
                      track("u2", "signup", "2026-03-01T08:00:00Z")])
    env.once("2026-03-01T09:00:00Z")
    msgs = {}
    for f in os.listdir(os.path.join(maildir, "new")):
        with open(os.path.join(maildir, "new", f), "rb") as fh:
            m = email.message_from_binary_file(fh, policy=email.policy.default)
        msgs[str(m["To"])] = m
    eq(sorted(msgs), ["bob@example.com", "eve@example.com"], "two mails delivered")

    m = msgs["eve@example.com"]
    html = m.get_body(("html",)).get_content()
    text = m.get_body(("plain",)).get_content()
    check("<a href=\"http://phish" not in html, "no live link from the data in the HTML part", html)
    check("Hi &lt;a href=&quot;http://phish.example/login&quot;&gt;Click to verify&lt;/a&gt;!" in html,
          "the name is shown as text, escaped", html)
    check('<a href="https://example.com/start?u=u1&quot;&gt;&lt;x">Start</a>' in html,
          "the template's own link stays, its substituted value escaped", html)
    eq(html.count("<a "), 1, "one link in the HTML part: the template's")
    check(NAME in text, "the text part keeps the name as written", text)

    m = msgs["bob@example.com"]
    check(m["Bcc"] is None, "no header from a line break in the data")
    check("\n" not in str(m["Subject"]) and "\r" not in str(m["Subject"]),
          "the subject is one line", str(m["Subject"]))
done()

#!/usr/bin/env python3
"""Summaries for the demo: the mails in a Maildir and the stand-in's calls.

  summary.py mail MAILDIR [SEEN]   From/To/Subject of the mails not listed in
                                   the file SEEN (then SEEN lists them all)
  summary.py http LOG [SKIP]       the calls in LOG after the first SKIP lines
"""

import collections
import email.header
import email.parser
import json
import os
import sys

SHOW = 12


def header(msg, name):
    value = msg.get(name, "")
    parts = email.header.decode_header(value)
    out = []
    for text, charset in parts:
        if isinstance(text, bytes):
            text = text.decode(charset or "utf-8", "replace")
        out.append(text)
    return "".join(out).strip()


def mail(maildir, seen_path=None):
    seen = set()
    if seen_path and os.path.exists(seen_path):
        with open(seen_path) as f:
            seen = set(line.strip() for line in f)
    files = []
    for sub in ("new", "cur"):
        d = os.path.join(maildir, sub)
        if os.path.isdir(d):
            files += [os.path.join(sub, n) for n in sorted(os.listdir(d))]
    fresh = [p for p in files if os.path.basename(p).split(":")[0]
             not in seen]
    parser = email.parser.BytesHeaderParser()
    rows = []
    for p in fresh:
        with open(os.path.join(maildir, p), "rb") as f:
            msg = parser.parse(f)
        rows.append((header(msg, "From"), header(msg, "To"),
                     header(msg, "Subject")))
    if seen_path:
        with open(seen_path, "w") as f:
            for p in files:
                f.write(os.path.basename(p).split(":")[0] + "\n")
    print("  %d new mail(s) in %s" % (len(rows), maildir))
    if not rows:
        return
    by_from = collections.Counter(r[0] for r in rows)
    for sender, n in by_from.most_common():
        print("    %4d from %s" % (n, sender))
    print()
    print("    %-28s %-34s %s" % ("From", "To", "Subject"))
    for r in rows[:SHOW]:
        print("    %-28.28s %-34.34s %s" % r)
    if len(rows) > SHOW:
        print("    ... and %d more (ls %s/new)" % (len(rows) - SHOW, maildir))


def http(log, skip=0):
    calls = []
    if os.path.exists(log):
        with open(log, encoding="utf-8") as f:
            calls = [json.loads(line) for line in f][skip:]
    print("  %d call(s) to the local CRM / webhook stand-in" % len(calls))
    for c in calls[:SHOW]:
        body = c.get("body")
        if c["path"].startswith("/crm/"):
            props = body.get("properties", {}) if isinstance(body, dict) else {}
            print("    CRM task %s  [%s, due %s] %s" % (
                c["reply"].get("id"), props.get("hs_task_priority"),
                props.get("hs_timestamp"), props.get("hs_task_subject")))
        else:
            subj = body.get("subject", {}) if isinstance(body, dict) else {}
            print("    webhook %s  %s/%s rule %s for %s %s%s" % (
                c["path"], body.get("journey") if isinstance(body, dict) else "",
                body.get("stage") if isinstance(body, dict) else "",
                body.get("rule") if isinstance(body, dict) else "",
                subj.get("kind"), subj.get("id"),
                "  (signed)" if c.get("signed") else ""))
    if len(calls) > SHOW:
        print("    ... and %d more (%s)" % (len(calls) - SHOW, log))


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "mail":
        mail(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
    elif len(sys.argv) >= 3 and sys.argv[1] == "http":
        http(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 0)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()

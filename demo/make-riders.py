#!/usr/bin/env python3
"""Generate demo/riders.jsonl, the demo's sample data set.

Standard library only and deterministic (fixed seed): running it again gives
the same file byte for byte. The lines follow the Segment tracking spec that
`journeyctl import` reads (SPEC section 4). The demo runs the daemon at
2026-03-01T09:00:00Z; the data is shaped so that at that moment:

  riders (journey "rider", event "signup" and "ride"):
    - some signed up and never rode (a few only yesterday: no nudge yet),
    - some rode a few times (first_ride),
    - some ride often: 8 or more rides in the 30 days before now (frequent),
      and of those some 12 or more (they get the pass offer),
    - some are pass members (plan = 'pass', set by a later identify),
    - a few rode a lot, but only before the 30-day window,
    - two are unsubscribed (their mails are held), one asked to be deleted,
    - a few lines appear twice (imports are idempotent: counted once);
  B2B accounts (journeys "account" and "seat"): group lines with name, plan,
    seats, status, days_to_renewal, renewed; their users log in and create
    reports;
  Glow users (journeys "glow" -> "glow_mother" -> "glow_baby"): some trying
    to conceive, some pregnant (one opted out of Glow Mother), one with a
    birth already recorded.

Usage: python3 demo/make-riders.py [OUT]   (default: demo/riders.jsonl next
to this script)
"""

import datetime
import json
import os
import random
import sys

NOW = datetime.datetime(2026, 3, 1, 9, 0, 0, tzinfo=datetime.timezone.utc)
START = datetime.datetime(2026, 1, 1, 0, 0, 0, tzinfo=datetime.timezone.utc)
WINDOW_START = NOW - datetime.timedelta(days=30)

FIRST_NAMES = [
    "Ann", "Ben", "Chloe", "Dmitri", "Elif", "Farid", "Greta", "Hiro",
    "Ines", "Jonas", "Kemal", "Lena", "Mateo", "Nora", "Olu", "Priya",
    "Quentin", "Rosa", "Sven", "Tariq", "Uma", "Viktor", "Wen", "Xenia",
    "Yusuf", "Zoe",
]
TIMEZONES = ["Europe/London", "America/New_York", "Asia/Tokyo",
             "Europe/Berlin"]

rng = random.Random(20260301)
lines = []
message_seq = 0


def iso(t):
    """ISO 8601 in UTC with a Z."""
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def emit(kind, user_id, when, **fields):
    """Append one Segment message with a fresh messageId; return it."""
    global message_seq
    message_seq += 1
    msg = {"type": kind, "userId": user_id}
    msg.update(fields)
    msg["timestamp"] = iso(when)
    msg["messageId"] = "demo-%06d" % message_seq
    lines.append(msg)
    return msg


def between(a, b):
    """A random moment in [a, b), to the second."""
    span = int((b - a).total_seconds())
    return a + datetime.timedelta(seconds=rng.randrange(max(span, 1)))


def rides(user_id, n, a, b):
    """n rides between a and b."""
    for when in sorted(between(a, b) for _ in range(n)):
        emit("track", user_id, when, event="ride",
             properties={"fare": round(rng.uniform(6, 38), 2),
                         "city": rng.choice(["Berlin", "Hamburg", "Munich"])})


def rider(i, kind):
    """One rider of the given kind; returns the user id."""
    user_id = "rider-%03d" % i
    name = FIRST_NAMES[i % len(FIRST_NAMES)]
    if kind == "new_recent":
        signup = between(NOW - datetime.timedelta(hours=40),
                         NOW - datetime.timedelta(hours=2))
    elif kind in ("lapsed",):
        signup = between(START, START + datetime.timedelta(days=10))
    else:
        signup = between(START, NOW - datetime.timedelta(days=3))
    traits = {"email": "%s.%03d@example.com" % (name.lower(), i),
              "first_name": name, "plan": "basic"}
    if rng.random() < 0.25:
        traits["timezone"] = rng.choice(TIMEZONES)
    emit("identify", user_id, signup, traits=traits)
    emit("track", user_id, signup, event="signup",
         properties={"channel": rng.choice(["app", "web", "referral"])})
    after = max(signup + datetime.timedelta(hours=1), WINDOW_START)
    if kind == "few":
        rides(user_id, rng.randint(1, 7), signup + datetime.timedelta(hours=1),
              NOW)
    elif kind == "frequent":
        rides(user_id, rng.randint(8, 11), after, NOW)
    elif kind == "heavy":
        rides(user_id, rng.randint(12, 24), after, NOW)
        rides(user_id, rng.randint(0, 6), signup, after)
    elif kind == "pass":
        rides(user_id, rng.randint(4, 20), signup + datetime.timedelta(hours=1),
              NOW)
        # Bought the pass later: a second identify, the last value wins.
        emit("identify", user_id,
             between(signup + datetime.timedelta(days=1), NOW),
             traits={"plan": "pass"})
    elif kind == "lapsed":
        rides(user_id, rng.randint(9, 15), signup + datetime.timedelta(hours=1),
              WINDOW_START - datetime.timedelta(days=2))
    return user_id


def make_riders():
    kinds = (["new"] * 55 + ["new_recent"] * 5 + ["few"] * 95 +
             ["frequent"] * 60 + ["heavy"] * 40 + ["pass"] * 37 +
             ["lapsed"] * 8)
    rng.shuffle(kinds)
    ids = {}
    for i, kind in enumerate(kinds, start=1):
        ids.setdefault(kind, []).append(rider(i, kind))
    # Two riders said "no more mail"; one asked to be deleted.
    for user_id in (ids["new"][0], ids["heavy"][0]):
        emit("identify", user_id, NOW - datetime.timedelta(days=1),
             traits={"unsubscribed": True})
    emit("identify", ids["few"][0], NOW - datetime.timedelta(days=2),
         traits={"deleted": True})


ACCOUNTS = [
    # id, traits, users, of whom active in the last 7 days
    ("acme", {"name": "Acme Inc", "plan": "enterprise", "seats": 25,
              "status": "customer", "days_to_renewal": 200}, 12, 8),
    ("globex", {"name": "Globex", "plan": "team", "seats": 10,
                "status": "customer", "days_to_renewal": 300}, 4, 1),
    ("umbrella", {"name": "Umbrella Corp", "plan": "team", "seats": 5,
                  "status": "customer", "days_to_renewal": 30,
                  "renewed": True}, 5, 5),
    ("initech", {"name": "Initech", "plan": "free", "seats": 3,
                 "status": "trial"}, 3, 2),
    ("hooli", {"name": "Hooli", "plan": "enterprise", "seats": 50,
               "status": "customer", "days_to_renewal": 350}, 1, 0),
]


def make_accounts():
    for account, traits, nusers, nactive in ACCOUNTS:
        for n in range(1, nusers + 1):
            user_id = "%s-u%02d" % (account, n)
            name = FIRST_NAMES[(n * 7 + len(account)) % len(FIRST_NAMES)]
            joined = between(START, NOW - datetime.timedelta(days=20))
            emit("identify", user_id, joined,
                 traits={"email": "%s@%s.example" % (name.lower() + str(n),
                                                      account),
                         "first_name": name,
                         "role": "admin" if n == 1 else "member"})
            emit("group", user_id, joined, groupId=account, traits=traits)
            last = (NOW - datetime.timedelta(days=6) if n <= nactive
                    else NOW - datetime.timedelta(days=12))
            for when in sorted(between(joined, last)
                               for _ in range(rng.randint(1, 4))):
                emit("track", user_id, when, event="login")
            emit("track", user_id, last, event="login")
            if n <= nactive:
                for when in sorted(between(last, NOW)
                                   for _ in range(rng.randint(1, 7))):
                    emit("track", user_id, when, event="report_created",
                         properties={"pages": rng.randint(1, 30)})


GLOW = [
    # id, pregnant, opted out of Glow Mother, birth recorded
    ("glow-01", False, False, False),
    ("glow-02", False, False, False),
    ("glow-03", False, False, False),
    ("glow-04", True, False, False),
    ("glow-05", True, False, False),
    ("glow-06", True, True, False),
    ("glow-07", True, False, True),
]


def make_glow():
    for i, (user_id, pregnant, opt_out, birth) in enumerate(GLOW):
        name = ["Maya", "Leila", "Sofia", "Hana", "Amara", "Freya",
                "Ivy"][i]
        start = between(START, START + datetime.timedelta(days=20))
        emit("identify", user_id, start,
             traits={"email": "%s@glow.example" % name.lower(),
                     "first_name": name, "pregnant": False,
                     "timezone": "Europe/Berlin"})
        emit("track", user_id, start, event="glow_signup")
        for when in sorted(between(start, NOW) for _ in range(5)):
            emit("track", user_id, when, event="cycle_logged")
        if pregnant:
            traits = {"pregnant": True}
            if opt_out:
                traits["opt_out_mother"] = True
            emit("identify", user_id,
                 between(NOW - datetime.timedelta(days=10), NOW),
                 traits=traits)
        if birth:
            emit("track", user_id, NOW - datetime.timedelta(days=1),
                 event="birth", properties={"weight_g": 3400})


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here,
                                                             "riders.jsonl")
    make_riders()
    make_accounts()
    make_glow()
    # A few events delivered twice, as pipelines do: imported once.
    for msg in rng.sample([m for m in lines if m["type"] == "track"], 5):
        lines.append(msg)
    with open(out, "w", encoding="utf-8", newline="\n") as f:
        for msg in lines:
            f.write(json.dumps(msg, separators=(",", ":"),
                               ensure_ascii=False))
            f.write("\n")
    print("%s: %d lines" % (out, len(lines)), file=sys.stderr)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""bench/gen-jsonl.py N: the data of bench/gen-data.sql as JSON lines for
`journeyctl import` (the same users, traits and events, by the same
formulas), so that bench/tick --verify can check that the SQL generator
writes the rows the importer writes."""
import json
import sys
import time

NOW = 1772355600        # 2026-03-01T09:00:00Z
DAY = 86400


def iso(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def main():
    n = int(sys.argv[1])
    out = sys.stdout
    for i in range(1, n + 1):
        h = (i * 2654435761) % 4294967296
        rides = 0 if (h >> 8) % 1000 == 0 else 1 + h % 9
        signup = NOW - (30 + (h >> 4) % 30) * DAY - (h >> 16) % DAY
        span = 3 + (h >> 24) % 50
        last = NOW - ((h >> 7) % 3) * DAY - 3600 * (h % 12)
        if (h >> 12) % 1000 == 0:
            plan = "pass"
        elif (h >> 12) % 100 < 30:
            plan = "basic"
        else:
            plan = None
        traits = {"first_name": "U%d" % i}
        if plan is not None:
            traits["plan"] = plan
        if (h >> 20) % 1000 == 0:
            traits["deleted"] = True
        user = "u%07d" % i
        out.write(json.dumps({"type": "identify", "userId": user,
                              "messageId": "i%07d" % i, "traits": traits,
                              "timestamp": iso(signup)}) + "\n")
        for k in range(10):
            if k == 0:
                name, ts = "signup", signup
            elif k <= rides:
                name = "ride"
                ts = max(signup + 3600,
                         last - (k - 1) * span * DAY // max(rides - 1, 1))
            else:
                name, ts = "app_open", signup + k * 3 * DAY
            line = {"type": "track", "userId": user, "event": name,
                    "messageId": "e%09d" % (i * 10 + k), "timestamp": iso(ts)}
            if name == "ride":
                line["properties"] = {
                    "fare": 0 if (h + k) % 20 == 0 else 5 + (h + k * 7) % 20}
            out.write(json.dumps(line) + "\n")


main()

-- bench/next-day.sql: a day of new data for the second tick: every 100th
-- user takes 8 rides (fare 10) on 2026-03-01 (as an import of those track
-- lines would write them), so that the next tick has transitions to make.
PRAGMA synchronous = OFF;
BEGIN;
INSERT INTO events (subject, name, ts, props, msg)
SELECT s.sid, 'ride', 1772355600 + 3600 + k * 3600, json_object('fare', 10),
    printf('m:n%07d-%d', s.sid, k)
FROM subjects s, (SELECT value AS k FROM generate_series(0, 7))
WHERE s.sid % 100 = 7
ORDER BY s.sid, k;
COMMIT;

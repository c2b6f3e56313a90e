-- bench/limit-lang.sql: the limit of bench/tick-lang.conf.in. The stages
-- its rider journey settles on at 2026-03-01T09:00:00Z, computed for every
-- subject by one hand-written statement with correlated reads over the
-- events index (paid rides by their fare, distinct days of riding in 30
-- days: every subject of the bench is in UTC), written to a scratch table.
PRAGMA cache_size = -16384;
PRAGMA temp_store = MEMORY;
DROP TABLE IF EXISTS limit_stage;
CREATE TABLE limit_stage (sid INTEGER PRIMARY KEY, stage TEXT NOT NULL);
.timer on
INSERT INTO limit_stage (sid, stage)
SELECT sid, CASE
    WHEN paid = 0 THEN 'new'
    WHEN plan = 'pass' THEN 'pass_member'
    WHEN days30 >= 6 THEN 'frequent'
    ELSE 'first_ride' END
FROM (SELECT s.sid, s.traits ->> '$.plan' AS plan,
        (SELECT count(*) FROM events e WHERE e.subject = s.sid
          AND e.name = 'ride' AND e.ts <= 1772355600
          AND e.props ->> '$.fare' > 0) AS paid,
        (SELECT count(DISTINCT e.ts / 86400) FROM events e
          WHERE e.subject = s.sid AND e.name = 'ride'
          AND e.ts <= 1772355600
          AND e.ts >= 1772355600 - 30 * 86400) AS days30
      FROM subjects s
      WHERE s.kind = 0
        AND (SELECT count(*) FROM events e WHERE e.subject = s.sid
          AND e.name = 'signup' AND e.ts <= 1772355600) >= 1
        AND NOT coalesce(s.traits ->> '$.deleted' = 1, 0));
.timer off

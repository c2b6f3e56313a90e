-- bench/gen-data.sql: N users with 10 events each, written straight into a
-- journeyd database (the schema journeyd made), as the importer would write
-- them. bench/tick replaces @N@ with N.
--
-- The rows are those `journeyctl import` writes for these lines:
--   {"type":"identify","userId":"u0000042","messageId":"i0000042",
--    "traits":{"first_name":"U42","plan":"basic"},"timestamp":...}
--   {"type":"track","userId":"u0000042","event":"signup"|"ride"|"app_open",
--    "messageId":"e000000421","timestamp":...}
-- with "properties":{"fare":F} on each ride, that is: subjects (kind 0,
-- id, traits, created = the first line's time), messages ("m:" +
-- messageId of each identify line) and events (subject, name, ts, props:
-- the ride's fare or NULL, msg "m:" + messageId). bench/gen-jsonl.py writes the
-- same data as JSON lines; bench/tick --verify checks that both agree.
--
-- User i (deterministic, from a multiplicative hash h of i):
--   signup 30 to 60 days before 2026-03-01T09:00:00Z;
--   r rides, 1 to 9 (0 for about 0.1%), evenly spread over a span of 3 to
--   52 days ending 0 to 2 days before now, each with a fare of 5 to 24
--   (0, a free ride, for about 5%); 9 - r app_open events;
--   plan 'basic' for ~30%, 'pass' for ~0.1%; deleted for ~0.1%.
PRAGMA synchronous = OFF;
PRAGMA cache_size = -262144;
PRAGMA temp_store = MEMORY;
BEGIN;
CREATE TEMP TABLE gen AS
SELECT i, h,
    CASE WHEN (h >> 8) % 1000 = 0 THEN 0 ELSE 1 + h % 9 END AS rides,
    1772355600 - (30 + (h >> 4) % 30) * 86400 - (h >> 16) % 86400 AS signup,
    3 + (h >> 24) % 50 AS span,
    1772355600 - ((h >> 7) % 3) * 86400 - 3600 * (h % 12) AS last,
    CASE WHEN (h >> 12) % 1000 = 0 THEN 'pass'
         WHEN (h >> 12) % 100 < 30 THEN 'basic' END AS plan,
    (h >> 20) % 1000 = 0 AS deleted
FROM (SELECT value AS i, (value * 2654435761) % 4294967296 AS h
      FROM generate_series(1, @N@));

INSERT INTO subjects (sid, kind, id, traits, created)
SELECT i, 0, printf('u%07d', i),
    -- json_patch drops the nulls, as the importer's merge does.
    json_patch('{}', json_object('first_name', 'U' || i, 'plan', plan,
        'deleted', CASE WHEN deleted THEN json('true') END)),
    signup
FROM gen ORDER BY i;
INSERT INTO messages (msg) SELECT printf('m:i%07d', i) FROM gen ORDER BY 1;

INSERT INTO events (subject, name, ts, props, msg)
SELECT i,
    CASE WHEN k = 0 THEN 'signup' WHEN k <= rides THEN 'ride'
         ELSE 'app_open' END,
    CASE WHEN k = 0 THEN signup
         WHEN k <= rides THEN max(signup + 3600,
             last - (k - 1) * span * 86400 / max(rides - 1, 1))
         ELSE signup + k * 3 * 86400 END,
    CASE WHEN k >= 1 AND k <= rides THEN json_object('fare',
        CASE WHEN (h + k) % 20 = 0 THEN 0 ELSE 5 + (h + k * 7) % 20 END)
    END,
    printf('m:e%09d', i * 10 + k)
FROM gen, (SELECT value AS k FROM generate_series(0, 9))
ORDER BY i, k;
COMMIT;
PRAGMA wal_checkpoint(TRUNCATE);

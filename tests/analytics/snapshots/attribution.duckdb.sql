SELECT * FROM (
SELECT 'order' AS kind, person_id, timestamp AS ts, message_id AS label,
    CAST(coalesce(revenue_fen, 0) AS BIGINT) AS revenue_fen
FROM events
WHERE event = 'Order Completed' AND person_id IS NOT NULL
    AND timestamp >= TIMESTAMPTZ '2026-03-08 16:00:00.000000+00' AND timestamp < TIMESTAMPTZ '2026-03-15 16:00:00.000000+00'
UNION ALL
SELECT 'touch' AS kind, person_id, timestamp AS ts, channel AS label,
    CAST(0 AS BIGINT) AS revenue_fen
FROM events
WHERE channel IS NOT NULL AND channel <> '' AND person_id IS NOT NULL
    AND timestamp >= TIMESTAMPTZ '2026-02-06 16:00:00.000000+00' AND timestamp < TIMESTAMPTZ '2026-03-15 16:00:00.000000+00'
) AS paths
ORDER BY person_id, ts, kind, label

SELECT * FROM (
SELECT 'current' AS period, '*' AS buyer_type, '*' AS referral,
    CAST(count(DISTINCT person_id) AS BIGINT) AS persons,
    CAST(0 AS BIGINT) AS orders, CAST(0 AS BIGINT) AS gmv_fen
FROM events WHERE person_id IS NOT NULL AND timestamp >= TIMESTAMPTZ '2026-03-08 16:00:00.000000+00' AND timestamp < TIMESTAMPTZ '2026-03-15 16:00:00.000000+00'
UNION ALL
SELECT 'current' AS period, buyer_type, referral, CAST(count(*) AS BIGINT) AS persons,
    CAST(sum(n_orders) AS BIGINT) AS orders, CAST(sum(fen) AS BIGINT) AS gmv_fen
FROM (
    SELECT person_id,
        CASE WHEN person_id IN (SELECT person_id FROM events
            WHERE event = 'Order Completed' AND timestamp < TIMESTAMPTZ '2026-03-08 16:00:00.000000+00') THEN 'repeat' ELSE 'new' END
            AS buyer_type,
        CASE WHEN person_id IN (SELECT person_id FROM events
            WHERE event = 'Referral Accepted' AND timestamp < TIMESTAMPTZ '2026-03-15 16:00:00.000000+00') THEN 'referred' ELSE 'organic' END
            AS referral,
        count(*) AS n_orders, sum(coalesce(revenue_fen, 0)) AS fen
    FROM events
    WHERE event = 'Order Completed' AND person_id IS NOT NULL AND timestamp >= TIMESTAMPTZ '2026-03-08 16:00:00.000000+00' AND timestamp < TIMESTAMPTZ '2026-03-15 16:00:00.000000+00'
    GROUP BY person_id
) AS buyers
GROUP BY buyer_type, referral
UNION ALL
SELECT 'previous' AS period, '*' AS buyer_type, '*' AS referral,
    CAST(count(DISTINCT person_id) AS BIGINT) AS persons,
    CAST(0 AS BIGINT) AS orders, CAST(0 AS BIGINT) AS gmv_fen
FROM events WHERE person_id IS NOT NULL AND timestamp >= TIMESTAMPTZ '2026-03-01 16:00:00.000000+00' AND timestamp < TIMESTAMPTZ '2026-03-08 16:00:00.000000+00'
UNION ALL
SELECT 'previous' AS period, buyer_type, referral, CAST(count(*) AS BIGINT) AS persons,
    CAST(sum(n_orders) AS BIGINT) AS orders, CAST(sum(fen) AS BIGINT) AS gmv_fen
FROM (
    SELECT person_id,
        CASE WHEN person_id IN (SELECT person_id FROM events
            WHERE event = 'Order Completed' AND timestamp < TIMESTAMPTZ '2026-03-01 16:00:00.000000+00') THEN 'repeat' ELSE 'new' END
            AS buyer_type,
        CASE WHEN person_id IN (SELECT person_id FROM events
            WHERE event = 'Referral Accepted' AND timestamp < TIMESTAMPTZ '2026-03-08 16:00:00.000000+00') THEN 'referred' ELSE 'organic' END
            AS referral,
        count(*) AS n_orders, sum(coalesce(revenue_fen, 0)) AS fen
    FROM events
    WHERE event = 'Order Completed' AND person_id IS NOT NULL AND timestamp >= TIMESTAMPTZ '2026-03-01 16:00:00.000000+00' AND timestamp < TIMESTAMPTZ '2026-03-08 16:00:00.000000+00'
    GROUP BY person_id
) AS buyers
GROUP BY buyer_type, referral
) AS parts
ORDER BY period, buyer_type, referral

SELECT person_id, CAST(datediff('day', DATE '1970-01-01', CAST(timezone('Asia/Shanghai', timestamp) AS DATE)) AS BIGINT) AS day, CAST(count(*) AS BIGINT) AS orders, CAST(sum(coalesce(revenue_fen, 0)) AS BIGINT) AS revenue_fen, CAST(max(epoch_us(timestamp)) AS BIGINT) AS last_us
FROM events
WHERE event = 'Order Completed' AND person_id IS NOT NULL AND timestamp < TIMESTAMPTZ '2026-11-28 16:00:00.000000+00'
GROUP BY person_id, day
ORDER BY person_id, day

WITH firsts AS (
    SELECT person_id, min(timestamp) AS first_order FROM events
    WHERE event = 'Order Completed' AND person_id IS NOT NULL GROUP BY person_id
), new_buyers AS (
    SELECT person_id, first_order FROM firsts
    WHERE first_order >= toDateTime64('2026-03-08 16:00:00.000000', 6, 'UTC') AND first_order < toDateTime64('2026-03-15 16:00:00.000000', 6, 'UTC')
), touches AS (
    SELECT t.person_id AS person_id, t.timestamp AS ts, t.channel AS channel
    FROM events AS t JOIN new_buyers AS n ON n.person_id = t.person_id
    WHERE t.channel IS NOT NULL AND t.channel <> '' AND t.timestamp <= n.first_order
), first_touch AS (
    SELECT person_id, min(ts) AS ts FROM touches GROUP BY person_id
), acquired AS (
    SELECT t.person_id AS person_id, min(t.channel) AS channel
    FROM touches AS t JOIN first_touch AS f ON f.person_id = t.person_id AND f.ts = t.ts
    GROUP BY t.person_id
)
SELECT * FROM (
    SELECT channel, CAST(count(*) AS BIGINT) AS new_buyers FROM acquired GROUP BY channel
    UNION ALL
    SELECT '(direct)' AS channel, CAST(count(*) AS BIGINT) AS new_buyers FROM new_buyers
    WHERE person_id NOT IN (SELECT person_id FROM acquired)
) AS counted
WHERE new_buyers > 0
ORDER BY channel

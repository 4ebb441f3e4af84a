WITH first_seen AS (
    SELECT person_id, min(timestamp) AS first_at FROM events
    WHERE person_id IS NOT NULL AND timestamp < toDateTime64('2026-03-15 16:00:00.000000', 6, 'UTC') GROUP BY person_id
), newcomers AS (
    SELECT person_id FROM first_seen WHERE first_at >= toDateTime64('2026-03-08 16:00:00.000000', 6, 'UTC')
), active AS (
    SELECT DISTINCT person_id FROM events WHERE person_id IS NOT NULL AND timestamp >= toDateTime64('2026-03-08 16:00:00.000000', 6, 'UTC') AND timestamp < toDateTime64('2026-03-15 16:00:00.000000', 6, 'UTC')
), active_before AS (
    SELECT DISTINCT person_id FROM events
    WHERE person_id IS NOT NULL AND timestamp >= toDateTime64('2026-03-01 16:00:00.000000', 6, 'UTC') AND timestamp < toDateTime64('2026-03-08 16:00:00.000000', 6, 'UTC')
), buyers AS (
    SELECT person_id, count(*) AS n, sum(coalesce(revenue_fen, 0)) AS fen FROM events
    WHERE event = 'Order Completed' AND person_id IS NOT NULL AND timestamp >= toDateTime64('2026-03-08 16:00:00.000000', 6, 'UTC') AND timestamp < toDateTime64('2026-03-15 16:00:00.000000', 6, 'UTC') GROUP BY person_id
), referred AS (
    SELECT DISTINCT person_id FROM events
    WHERE event = 'Referral Accepted' AND timestamp < toDateTime64('2026-03-15 16:00:00.000000', 6, 'UTC')
), touched AS (
    SELECT person_id, timestamp AS ts, channel FROM events
    WHERE channel IS NOT NULL AND channel <> '' AND timestamp < toDateTime64('2026-03-15 16:00:00.000000', 6, 'UTC')
        AND person_id IN (SELECT person_id FROM newcomers)
), first_touch AS (
    SELECT person_id, min(ts) AS ts FROM touched GROUP BY person_id
), acquired AS (
    SELECT t.person_id AS person_id, min(t.channel) AS channel
    FROM touched AS t JOIN first_touch AS f ON f.person_id = t.person_id AND f.ts = t.ts
    GROUP BY t.person_id
), counts AS (
    SELECT 'active' AS metric, '' AS label, count(*) AS value FROM active
    UNION ALL SELECT 'new', '', count(*) FROM newcomers
    UNION ALL SELECT 'activated', '', count(*) FROM newcomers WHERE person_id IN (
        SELECT person_id FROM events WHERE event IN ('Product Added', 'Order Completed') AND timestamp >= toDateTime64('2026-03-08 16:00:00.000000', 6, 'UTC') AND timestamp < toDateTime64('2026-03-15 16:00:00.000000', 6, 'UTC'))
    UNION ALL SELECT 'returning', '', count(*) FROM active
        WHERE person_id NOT IN (SELECT person_id FROM newcomers)
    UNION ALL SELECT 'active_before', '', count(*) FROM active_before
    UNION ALL SELECT 'retained', '', count(*) FROM active_before
        WHERE person_id IN (SELECT person_id FROM active)
    UNION ALL SELECT 'buyers', '', count(*) FROM buyers
    UNION ALL SELECT 'orders', '', coalesce(sum(n), 0) FROM buyers
    UNION ALL SELECT 'gmv_fen', '', coalesce(sum(fen), 0) FROM buyers
    UNION ALL SELECT 'repeat_buyers', '', count(*) FROM buyers WHERE person_id IN (
        SELECT person_id FROM events WHERE event = 'Order Completed' AND timestamp < toDateTime64('2026-03-08 16:00:00.000000', 6, 'UTC'))
    UNION ALL SELECT 'referrers', '', count(DISTINCT person_id) FROM events
        WHERE event = 'Referral Sent' AND timestamp >= toDateTime64('2026-03-08 16:00:00.000000', 6, 'UTC') AND timestamp < toDateTime64('2026-03-15 16:00:00.000000', 6, 'UTC')
    UNION ALL SELECT 'referred', '', count(DISTINCT person_id) FROM events
        WHERE event = 'Referral Accepted' AND timestamp >= toDateTime64('2026-03-08 16:00:00.000000', 6, 'UTC') AND timestamp < toDateTime64('2026-03-15 16:00:00.000000', 6, 'UTC')
    UNION ALL SELECT 'referred_buyers', '', count(*) FROM buyers
        WHERE person_id IN (SELECT person_id FROM referred)
    UNION ALL SELECT 'referred_gmv_fen', '', coalesce(sum(fen), 0) FROM buyers
        WHERE person_id IN (SELECT person_id FROM referred)
    UNION ALL SELECT 'new_by_channel', channel, count(*) FROM acquired GROUP BY channel
    UNION ALL SELECT 'new_by_channel', '(direct)', count(*) FROM newcomers
        WHERE person_id NOT IN (SELECT person_id FROM acquired)
)
SELECT metric, CAST(label AS VARCHAR) AS label, CAST(value AS BIGINT) AS value FROM counts
ORDER BY metric, label

SELECT person_id, CAST(max(epoch_us(timestamp)) AS BIGINT) AS last_us,
  CAST(sum(CASE WHEN type IN ('page', 'screen') THEN 1 ELSE 0 END) AS BIGINT) AS views,
  CAST(sum(CASE WHEN type = 'track' AND event != 'Order Completed' THEN 1 ELSE 0 END) AS BIGINT) AS interactions,
  CAST(sum(CASE WHEN event = 'Order Completed' THEN 1 ELSE 0 END) AS BIGINT) AS orders,
  CAST(sum(CASE WHEN len(list_filter(ids, lambda x: starts_with(x, 'member_id:'))) > 0 THEN 1 ELSE 0 END) AS BIGINT) AS member_events,
  CAST(min(CASE WHEN timestamp >= TIMESTAMPTZ '2026-10-29 16:00:00.000000+00' THEN epoch_us(timestamp) END) AS BIGINT) AS returned_us,
  CAST(max(CASE WHEN timestamp < TIMESTAMPTZ '2026-10-29 16:00:00.000000+00' THEN epoch_us(timestamp) END) AS BIGINT) AS before_us
FROM events WHERE person_id IS NOT NULL AND timestamp < TIMESTAMPTZ '2026-11-28 16:00:00.000000+00'
GROUP BY person_id ORDER BY person_id

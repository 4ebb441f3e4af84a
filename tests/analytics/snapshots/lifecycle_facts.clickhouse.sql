SELECT person_id, CAST(max(toUnixTimestamp64Micro(timestamp)) AS Int64) AS last_us,
  CAST(sum(CASE WHEN type IN ('page', 'screen') THEN 1 ELSE 0 END) AS Int64) AS views,
  CAST(sum(CASE WHEN type = 'track' AND event != 'Order Completed' THEN 1 ELSE 0 END) AS Int64) AS interactions,
  CAST(sum(CASE WHEN event = 'Order Completed' THEN 1 ELSE 0 END) AS Int64) AS orders,
  CAST(sum(CASE WHEN arrayExists(x -> startsWith(x, 'member_id:'), ids) THEN 1 ELSE 0 END) AS Int64) AS member_events,
  CAST(min(CASE WHEN timestamp >= toDateTime64('2026-10-29 16:00:00.000000', 6, 'UTC') THEN toUnixTimestamp64Micro(timestamp) END) AS Nullable(Int64)) AS returned_us,
  CAST(max(CASE WHEN timestamp < toDateTime64('2026-10-29 16:00:00.000000', 6, 'UTC') THEN toUnixTimestamp64Micro(timestamp) END) AS Nullable(Int64)) AS before_us
FROM events WHERE person_id IS NOT NULL AND timestamp < toDateTime64('2026-11-28 16:00:00.000000', 6, 'UTC')
GROUP BY person_id ORDER BY person_id

SELECT person_id, toInt64(dateDiff('day', toDate('1970-01-01'), toDate(timestamp, 'Asia/Shanghai'))) AS day, CAST(count(*) AS Int64) AS orders, CAST(sum(coalesce(revenue_fen, 0)) AS Int64) AS revenue_fen, CAST(max(toUnixTimestamp64Micro(timestamp)) AS Int64) AS last_us
FROM events
WHERE event = 'Order Completed' AND person_id IS NOT NULL AND timestamp < toDateTime64('2026-11-28 16:00:00.000000', 6, 'UTC')
GROUP BY person_id, day
ORDER BY person_id, day

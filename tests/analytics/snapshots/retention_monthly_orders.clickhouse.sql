WITH firsts AS (SELECT person_id, min(timestamp) AS first_at FROM events WHERE event = 'Order Completed' GROUP BY person_id),
cohorts AS (SELECT person_id, first_at, toStartOfMonth(toDate(first_at, 'Asia/Shanghai')) AS cohort FROM firsts WHERE first_at >= toDateTime64('2026-03-02 00:00:00.000000', 6, 'UTC') AND first_at < toDateTime64('2026-04-01 00:00:00.000000', 6, 'UTC')),
back AS (SELECT e.person_id AS person_id, c.cohort AS cohort, dateDiff('month', c.cohort, toStartOfMonth(toDate(e.timestamp, 'Asia/Shanghai'))) AS k FROM events AS e JOIN cohorts AS c ON e.person_id = c.person_id WHERE e.timestamp > c.first_at AND e.event = 'Order Completed'),
flags AS (SELECT cohort, retention(true, ifNull(k = 1, 0), ifNull(k = 2, 0), ifNull(k = 3, 0)) AS r FROM back WHERE k BETWEEN 1 AND 3 GROUP BY person_id, cohort),
returns AS (SELECT cohort, sum(r[2]) AS r1, sum(r[3]) AS r2, sum(r[4]) AS r3 FROM flags GROUP BY cohort),
sizes AS (SELECT cohort, count(*) AS persons FROM cohorts GROUP BY cohort)
SELECT s.cohort AS cohort, s.persons AS persons, coalesce(r.r1, 0) AS r1, coalesce(r.r2, 0) AS r2, coalesce(r.r3, 0) AS r3 FROM sizes AS s LEFT JOIN returns AS r ON r.cohort = s.cohort ORDER BY cohort

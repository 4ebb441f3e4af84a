WITH firsts AS (SELECT person_id, min(timestamp) AS first_at FROM events  GROUP BY person_id),
cohorts AS (SELECT person_id, first_at, toMonday(toDate(first_at, 'Asia/Shanghai')) AS cohort FROM firsts WHERE first_at >= toDateTime64('2026-03-02 00:00:00.000000', 6, 'UTC') AND first_at < toDateTime64('2026-04-01 00:00:00.000000', 6, 'UTC')),
back AS (SELECT e.person_id AS person_id, c.cohort AS cohort, CAST(dateDiff('day', c.cohort, toMonday(toDate(e.timestamp, 'Asia/Shanghai'))) / 7 AS INTEGER) AS k FROM events AS e JOIN cohorts AS c ON e.person_id = c.person_id WHERE e.timestamp > c.first_at AND true),
flags AS (SELECT cohort, retention(true, ifNull(k = 1, 0), ifNull(k = 2, 0), ifNull(k = 3, 0), ifNull(k = 4, 0)) AS r FROM back WHERE k BETWEEN 1 AND 4 GROUP BY person_id, cohort),
returns AS (SELECT cohort, sum(r[2]) AS r1, sum(r[3]) AS r2, sum(r[4]) AS r3, sum(r[5]) AS r4 FROM flags GROUP BY cohort),
sizes AS (SELECT cohort, count(*) AS persons FROM cohorts GROUP BY cohort)
SELECT s.cohort AS cohort, s.persons AS persons, coalesce(r.r1, 0) AS r1, coalesce(r.r2, 0) AS r2, coalesce(r.r3, 0) AS r3, coalesce(r.r4, 0) AS r4 FROM sizes AS s LEFT JOIN returns AS r ON r.cohort = s.cohort ORDER BY cohort

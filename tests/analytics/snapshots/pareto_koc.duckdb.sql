WITH members AS (SELECT DISTINCT person_id, substr(id, 11) AS member_id FROM (SELECT person_id, unnest(ids) AS id FROM events) AS u WHERE starts_with(id, 'member_id:')),
referrals AS (
  SELECT person_id AS invitee, nullif(json_extract_string(properties, '$.referrer_member_id'), '') AS member_id, min(timestamp) AS accepted_at
  FROM events WHERE event = 'Referral Accepted' AND timestamp < TIMESTAMPTZ '2026-11-28 16:00:00.000000+00'
  GROUP BY person_id, member_id),
credited AS (
  SELECT m.person_id AS referrer, r.invitee AS invitee, min(r.accepted_at) AS first_accepted
  FROM referrals AS r INNER JOIN members AS m ON m.member_id = r.member_id
  WHERE m.person_id != r.invitee
  GROUP BY m.person_id, r.invitee),
order_rows AS (
  SELECT person_id AS buyer, timestamp AS ordered_at, coalesce(revenue_fen, 0) AS fen
  FROM events WHERE event = 'Order Completed' AND timestamp < TIMESTAMPTZ '2026-11-28 16:00:00.000000+00'),
joined AS (
  SELECT c.referrer AS referrer, c.invitee AS invitee,
    CASE WHEN o.buyer = c.invitee AND o.ordered_at >= c.first_accepted THEN 1 ELSE 0 END
      AS credit,
    o.fen AS fen
  FROM credited AS c LEFT JOIN order_rows AS o ON o.buyer = c.invitee)
SELECT referrer AS person_id,
  count(DISTINCT invitee) AS referred,
  count(DISTINCT CASE WHEN credit = 1 THEN invitee END) AS referred_buyers,
  sum(credit) AS orders,
  sum(CASE WHEN credit = 1 THEN fen ELSE 0 END) AS gmv_fen
FROM joined
GROUP BY referrer
HAVING sum(credit) > 0
ORDER BY referred_buyers DESC, gmv_fen DESC, person_id
LIMIT 20

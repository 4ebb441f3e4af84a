"""Regressions for what the fuzzer found: each was a 500 (or a 503 for bad input) before.

1. A tag's ``rule`` is a free-form dict validated in the pipeline: a malformed rule raised
   pydantic's ValidationError out of the route (500). Now 400 naming ``rule.…``.
2. Integers past int64 (mall item price, list offsets, …) reached SQLite's driver, which
   raised OverflowError (500); on PostgreSQL the same is a DataError "out of range". Now
   400 for both, answered once in ``siyu.api.limits``; an order's ``amount_fen`` is bounded.
3. Dates before year 1000 were written into ClickHouse SQL as ``289-12-13`` (strftime's
   ``%Y`` does not pad) and chdb refused them: analytics with ``engine=clickhouse`` answered
   503 for a valid ``until``. Segment timestamps had the same formatting. Now padded.

Found by the slow run (50 examples per operation):

4. A second store with a name already taken raised the unique violation (500). Now 409
   naming ``name``; any unique violation a route did not check first is a 409, not a 500.
5. A manual points adjustment took any int: two of 2^62 made a balance past int64 that the
   response could not encode (500). Now at most 10^8 either way, like earning.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient

from siyu.analytics.engine import Dialect as AnalyticsDialect
from siyu.analytics.engine import sql_literal
from siyu.segments.dialects import Dialect, timestamp
from siyu.workspaces.models import WorkspaceCreated
from tests.api.test_identity import admin, send


def test_a_malformed_tag_rule_is_a_400_naming_the_rule(
    client: TestClient, keys: WorkspaceCreated
) -> None:
    h = admin(keys)
    client.post("/api/tags/groups", json={"name": "规则", "kind": "rule"}, headers=h)
    for rule, field in (({}, "rule"), ({"type": "trait", "name": "city"}, "rule.trait.op")):
        made = client.post(
            "/api/tags", json={"group": "规则", "name": "t", "rule": rule}, headers=h
        )
        assert made.status_code == 400, made.text
        assert made.json()["error"]["field"] == field
    good = {"type": "trait", "name": "city", "op": "eq", "value": "杭州"}
    made = client.post("/api/tags", json={"group": "规则", "name": "t", "rule": good}, headers=h)
    assert made.status_code == 201, made.text
    patched = client.patch(f"/api/tags/{made.json()['id']}", json={"rule": {"x": 1}}, headers=h)
    assert patched.status_code == 400 and patched.json()["error"]["field"] == "rule"


def test_integers_past_int64_are_a_400(client: TestClient, keys: WorkspaceCreated) -> None:
    h = admin(keys)
    item = {"name": "袋", "price_points": 125551943038072107565056, "stock": 1}
    made = client.post("/api/loyalty/mall/items", json=item, headers=h)
    assert made.status_code == 400, made.text
    assert made.json()["error"]["field"] == "body"
    page = client.get("/api/layers/rfm", params={"offset": 445695989607715265576960}, headers=h)
    assert page.status_code == 400, page.text
    send(
        client,
        keys,
        [{"type": "identify", "messageId": "i", "userId": "u", "traits": {"member_id": "M1"}}],
    )
    pid = client.get(
        "/api/persons", params={"identifier_type": "member_id", "identifier": "M1"}, headers=h
    ).json()["person_id"]
    order = {"order_id": "o1", "amount_fen": 2**63}
    paid = client.post(
        f"/api/loyalty/members/{pid}/points/orders",
        json=order,
        headers={**h, "Idempotency-Key": "o1"},
    )
    assert paid.status_code == 422 and paid.json()["error"]["field"] == "amount_fen"
    assert client.get("/api/loyalty/mall/items", headers=h).json() == []


def test_dates_before_year_1000_are_written_with_four_digits(
    client: TestClient, keys: WorkspaceCreated
) -> None:
    early = datetime(289, 12, 13, tzinfo=UTC)
    assert "'0289-12-13 00:00:00.000000'" in sql_literal(early, AnalyticsDialect.CLICKHOUSE)
    assert timestamp(early, Dialect.SQLITE) == "'0289-12-13 00:00:00.000000'"
    assert timestamp(early, Dialect.POSTGRESQL) == "TIMESTAMPTZ '0289-12-13 00:00:00.000000+00'"
    ltv = client.get(
        "/api/analytics/ltv",
        params={"until": "0289-12-13", "engine": "clickhouse"},
        headers=admin(keys),
    )
    assert ltv.status_code < 500, ltv.text


def test_a_taken_store_name_is_a_409_naming_the_name(
    client: TestClient, keys: WorkspaceCreated
) -> None:
    h = admin(keys)
    first = client.post("/api/live-codes/stores", json={"name": "湖滨店"}, headers=h)
    again = client.post("/api/live-codes/stores", json={"name": "湖滨店"}, headers=h)
    assert first.status_code == 201 and again.status_code == 409, again.text
    assert again.json()["error"]["field"] == "name"
    assert len(client.get("/api/live-codes/stores", headers=h).json()) == 1


def test_a_points_adjustment_is_bounded(client: TestClient, keys: WorkspaceCreated) -> None:
    h = admin(keys)
    send(
        client,
        keys,
        [{"type": "identify", "messageId": "i", "userId": "u", "traits": {"member_id": "M1"}}],
    )
    pid = client.get(
        "/api/persons", params={"identifier_type": "member_id", "identifier": "M1"}, headers=h
    ).json()["person_id"]
    url = f"/api/loyalty/members/{pid}/points/adjust"
    for n, points in enumerate((2**62, -(10**8) - 1)):
        made = client.post(url, json={"points": points}, headers={**h, "Idempotency-Key": f"a{n}"})
        assert made.status_code == 422 and made.json()["error"]["field"] == "points", made.text
    ok = client.post(url, json={"points": 10**8}, headers={**h, "Idempotency-Key": "ok"})
    assert ok.status_code == 200 and ok.json()["balance"] == 10**8, ok.text

"""The ``Idempotency-Key`` header is declared once: the same limit and error on every route."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from siyu.api.deps import IDEMPOTENCY_KEY_MAX
from siyu.workspaces.models import WorkspaceCreated
from tests.api.test_coupons import members
from tests.api.test_identity import admin

LONG = "k" * (IDEMPOTENCY_KEY_MAX + 1)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/coupons/templates/ct_x/issue", {"person_id": "p"}),
        ("/api/coupons/templates/ct_x/issue-segment", {"segment_id": "s"}),
        ("/api/loyalty/members/p/points/earn", {"points": 1, "reason": "task"}),
        ("/api/loyalty/members/p/check-in", None),
        ("/api/loyalty/mall/items/mi_x/redeem", {"person_id": "p"}),
        ("/api/loyalty/members/p/paid", {"tier": "gold"}),
        ("/api/live-codes/lc_x/scans", {"person_id": "p", "action": "scan"}),
    ],
)
def test_an_overlong_key_is_refused_alike_everywhere(
    client: TestClient, keys: WorkspaceCreated, path: str, body: dict[str, object] | None
) -> None:
    answer = client.post(path, json=body, headers={**admin(keys), "Idempotency-Key": LONG})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == "header.Idempotency-Key"


def test_the_longest_key_works_through_a_mall_coupon(
    client: TestClient, keys: WorkspaceCreated
) -> None:
    # A mall item that is a coupon stores the key twice: ``mall:<key>`` for the coupon issue
    # (a 200-character column) — a key at the limit must fit both.
    (person,) = members(client, keys, 1)
    h = admin(keys)
    template = client.post(
        "/api/coupons/templates",
        json={"name": "10元券", "kind": "amount_off", "amount_off_fen": 1000},
        headers=h,
    ).json()
    item = client.post(
        "/api/loyalty/mall/items",
        json={
            "name": "10元券",
            "kind": "coupon",
            "price_points": 10,
            "coupon_template_id": template["id"],
            "stock": 5,
        },
        headers=h,
    )
    assert item.status_code == 201, item.text
    earn = client.post(
        f"/api/loyalty/members/{person}/points/earn",
        json={"points": 50, "reason": "task"},
        headers={**h, "Idempotency-Key": "e" * IDEMPOTENCY_KEY_MAX},
    )
    assert earn.status_code == 200, earn.text
    key = {**h, "Idempotency-Key": "m" * IDEMPOTENCY_KEY_MAX}
    url = f"/api/loyalty/mall/items/{item.json()['id']}/redeem"
    first = client.post(url, json={"person_id": person}, headers=key)
    assert first.status_code == 200, first.text
    again = client.post(url, json={"person_id": person}, headers=key).json()
    assert again == {**first.json(), "replayed": True}
    assert first.json()["coupon_id"]

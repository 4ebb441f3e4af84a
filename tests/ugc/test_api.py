"""/api/ugc over HTTP: collect (idempotent), list and filter, moderate and reward, metrics,
reward rules, KOC ranking and tagging, errors naming the field, permissions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from siyu.accounts.permissions import Role
from siyu.core.clock import utcnow
from siyu.core.runtime import Runtime
from siyu.workspaces.models import WorkspaceCreated
from tests.accounts.cheap_argon2 import cheap_argon2  # noqa: F401  (autouse)
from tests.api.access_support import add_user, sign_in
from tests.api.conftest import client, keys, runtime  # noqa: F401  (fixtures on both stores)
from tests.api.test_identity import admin, send


def _body(external_id: str, **fields: Any) -> dict[str, Any]:
    return {"platform": "xiaohongshu", "external_id": external_id, "text": "好用",
            "posted_at": utcnow().isoformat(), "author": {"member_id": "M1"}, **fields}  # fmt: skip


def test_collect_moderate_reward_and_rank(
    client: TestClient,  # noqa: F811
    keys: WorkspaceCreated,  # noqa: F811
    runtime: Runtime,  # noqa: F811
) -> None:
    h = admin(keys)
    rule = client.put("/api/ugc/rewards/*", json={"kind": "points", "amount": 20}, headers=h)
    assert rule.status_code == 200, rule.text
    made = client.post("/api/ugc/posts", json=_body("n1", metrics={"views": 10}), headers=h)
    assert made.status_code == 201, made.text
    post = made.json()
    again = client.post("/api/ugc/posts", json=_body("n1"), headers=h)
    assert (again.status_code, again.json()["id"], again.json()["replayed"]) == (
        200, post["id"], True,
    )  # fmt: skip
    keyed = {**_body("x"), "external_id": None, "platform": "mall_review", "rating": 4}
    k1 = client.post("/api/ugc/posts", json=keyed, headers={**h, "Idempotency-Key": "r-1"})
    k2 = client.post("/api/ugc/posts", json=keyed, headers={**h, "Idempotency-Key": "r-1"})
    assert k1.status_code == 201 and k2.json()["id"] == k1.json()["id"]

    pending = client.get("/api/ugc/posts", params={"status": "pending"}, headers=h).json()
    assert pending["total"] == 2
    by_author = client.get("/api/ugc/posts", params={"person_id": post["person_id"]}, headers=h)
    assert by_author.json()["total"] == 2

    for _ in range(2):
        approved = client.post(f"/api/ugc/posts/{post['id']}/approve", headers=h)
        assert approved.status_code == 200, approved.text
    assert approved.json()["reward"]["amount"] == 20
    account = client.get(f"/api/loyalty/members/{post['person_id']}/points", headers=h)
    assert account.json()["balance"] == 20, account.text
    rejected = client.post(f"/api/ugc/posts/{k1.json()['id']}/reject",
                           json={"reason": "无关内容"}, headers=h)  # fmt: skip
    assert rejected.json()["status"] == "rejected" and rejected.json()["reason"] == "无关内容"

    metrics = client.put(f"/api/ugc/posts/{post['id']}/metrics",
                         json={"views": 500, "likes": 20}, headers=h)  # fmt: skip
    assert metrics.json()["metrics"]["views"] == 500
    order = {"revenue_fen": 8800, "ugc_post_id": post["id"]}
    send(client, keys, [{"type": "track", "messageId": "o1", "userId": "buyer",
                         "event": "Order Completed", "properties": order}])  # fmt: skip
    ranking = client.get("/api/ugc/kocs", params={"top": 1}, headers=h)
    assert ranking.status_code == 200, ranking.text
    [top] = ranking.json()["items"]
    assert (top["person_id"], top["orders"], top["gmv_fen"], top["koc"]) == (
        post["person_id"], 1, 8800, True,
    )  # fmt: skip
    tagged = client.post("/api/ugc/kocs/tag", json={"top": 1}, headers=h)
    assert tagged.json()["tagged"] == 1
    holders = client.get(f"/api/persons/{post['person_id']}/tags", headers=h).json()
    assert "koc" in str(holders)

    assert client.delete(f"/api/ugc/posts/{k1.json()['id']}", headers=h).status_code == 204
    assert client.get(f"/api/ugc/posts/{k1.json()['id']}", headers=h).status_code == 404


def test_bad_input_names_the_field(
    client: TestClient,  # noqa: F811
    keys: WorkspaceCreated,  # noqa: F811
) -> None:
    h = admin(keys)
    cases = [
        ({**_body("a"), "platform": "tiktok"}, "platform"),
        ({**_body("b"), "rating": 9}, "rating"),
        ({**_body("c"), "author": {}}, None),
        ({**_body("d"), "author": {"phone": "12"}}, "author.phone"),
        ({**_body("e"), "posted_at": "2026-11-01T10:00:00"}, "posted_at"),
    ]
    for body, field in cases:
        response = client.post("/api/ugc/posts", json=body, headers=h)
        assert 400 <= response.status_code < 500, response.text
        if field:
            assert field in response.text, (field, response.text)
    missing = client.post("/api/ugc/posts/ugc_nope/approve", headers=h)
    assert missing.status_code == 404 and "post_id" in missing.text
    no_reason = client.post("/api/ugc/posts/ugc_nope/reject", json={"reason": ""}, headers=h)
    assert no_reason.status_code == 422
    rule = client.put("/api/ugc/rewards/618", json={"kind": "coupon"}, headers=h)
    assert rule.status_code == 422 and "template" in rule.text
    window = client.get("/api/ugc/kocs", params={"window_days": 0}, headers=h)
    assert window.status_code == 422
    later = (utcnow() - timedelta(days=40)).isoformat()
    backwards = client.get("/api/ugc/kocs", params={"end": later, "start": utcnow().isoformat()},
                           headers=h)  # fmt: skip
    assert backwards.status_code in (400, 422) and "end" in backwards.text


def test_analysts_read_operators_moderate(
    client: TestClient,  # noqa: F811
    keys: WorkspaceCreated,  # noqa: F811
    runtime: Runtime,  # noqa: F811
) -> None:
    add_user(runtime, keys.workspace_id, "ana@brand.cn", Role.analyst)
    add_user(runtime, keys.workspace_id, "op@brand.cn", Role.operator)
    ana, op = sign_in(client, "ana@brand.cn"), sign_in(client, "op@brand.cn")
    assert client.post("/api/ugc/posts", json=_body("p"), headers=ana).status_code == 403
    made = client.post("/api/ugc/posts", json=_body("p"), headers=op)
    assert made.status_code == 201
    assert client.get("/api/ugc/posts", headers=ana).status_code == 200
    done = client.post(f"/api/ugc/posts/{made.json()['id']}/approve", headers=op)
    assert done.json()["moderated_by"]  # the operator's user id

"""NUL characters (U+0000) inside JSON strings: PostgreSQL's text and jsonb cannot hold
them, SQLite can. Found by the slow fuzz run on PostgreSQL (mall items, ad spend: 500).
Every answer is a 2xx or a 4xx naming where, never a 5xx, on both stores."""

from __future__ import annotations

from fastapi.testclient import TestClient

from siyu.workspaces.models import WorkspaceCreated
from tests.api.test_identity import admin

NUL = "杭\u0000州"


def test_nul_in_management_text_is_a_400_never_a_500(
    client: TestClient, keys: WorkspaceCreated
) -> None:
    h = admin(keys)
    for path, body in (
        ("/api/loyalty/mall/items", {"name": NUL, "price_points": 10, "stock": 1}),
        ("/api/tags/groups", {"name": NUL}),
        (
            "/api/segments",
            {"name": NUL, "definition": {"type": "trait", "name": "c", "op": "eq", "value": NUL}},
        ),
    ):
        answer = client.post(path, json=body, headers=h)
        assert answer.status_code == 400, (path, answer.text)
        assert "NUL" in answer.json()["error"]["message"], answer.text
    assert client.get("/api/loyalty/mall/items", headers=h).json() == []


def test_nul_in_collected_events_is_kept_or_refused_never_a_500(
    client: TestClient, keys: WorkspaceCreated
) -> None:
    batch = [
        {"type": "identify", "messageId": "i1", "userId": "u1", "traits": {"city": NUL}},
        {"type": "track", "messageId": "t1", "userId": "u1", "event": NUL,
         "properties": {"note": NUL}},
    ]  # fmt: skip
    answer = client.post("/v1/batch", json={"batch": batch}, auth=(keys.write_key, ""))
    assert answer.status_code < 500, answer.text

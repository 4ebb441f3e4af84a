"""Tags and segments over the management API (SQLite and PostgreSQL operational stores)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from siyu.workspaces.models import WorkspaceCreated
from tests.api.test_identity import admin, person_of, send

RECENT = (datetime.now(UTC) - timedelta(days=2)).isoformat()


def customers(client: TestClient, keys: WorkspaceCreated) -> dict[str, str]:
    """Three members: M1 (杭州, two big orders), M2 (上海, one small order, a cart), M3 (杭州)."""

    def who(n: int, city: str, **traits: Any) -> dict[str, Any]:
        traits = {"member_id": f"M{n}", "city": city, **traits}
        return {"type": "identify", "messageId": f"i{n}", "userId": f"u{n}", "traits": traits}

    def did(message_id: str, n: int, event: str, **properties: Any) -> dict[str, Any]:
        return {"type": "track", "messageId": message_id, "userId": f"u{n}", "event": event,
                "timestamp": RECENT, "properties": properties}  # fmt: skip

    batch = [
        who(1, "杭州", phone="13800138001"),
        who(2, "上海"),
        who(3, "杭州"),
        did("o1", 1, "Order Completed", revenue=150),
        did("o2", 1, "Order Completed", revenue=120),
        did("o3", 2, "Order Completed", revenue=20),
        did("c1", 2, "Add To Cart"),
    ]
    send(client, keys, batch)
    return {m: person_of(client, keys, "member_id", m)["person_id"] for m in ("M1", "M2", "M3")}


BIG_BUYERS = {
    "type": "all",
    "of": [
        {"type": "trait", "name": "city", "op": "eq", "value": "杭州"},
        {
            "type": "event",
            "event": "Order Completed",
            "count": {"op": "gte", "value": 2},
            "window": {"days": 30},
            "where": [{"path": "revenue_fen", "op": "gte", "value": 10000}],
        },
    ],
}


def test_preview_save_refresh_members_changes_export(
    client: TestClient, keys: WorkspaceCreated
) -> None:
    p = customers(client, keys)
    h = admin(keys)
    preview = client.post("/api/segments/preview", json={"definition": BIG_BUYERS}, headers=h)
    assert preview.status_code == 200, preview.text
    assert preview.json() == {"count": 1, "sample": [p["M1"]]}

    created = client.post(
        "/api/segments", json={"name": "杭州大客", "definition": BIG_BUYERS}, headers=h
    )
    assert created.status_code == 201, created.text
    seg = created.json()["id"]
    refreshed = client.post(f"/api/segments/{seg}/refresh", headers=h).json()
    assert (refreshed["members"], refreshed["entered"], refreshed["left"]) == (1, 1, 0)
    assert client.get(f"/api/segments/{seg}/members", headers=h).json()["items"] == [p["M1"]]

    redefined = {"type": "trait", "name": "city", "op": "eq", "value": "杭州"}
    patched = client.patch(f"/api/segments/{seg}", json={"definition": redefined}, headers=h)
    assert patched.status_code == 200, patched.text
    client.post(f"/api/segments/{seg}/refresh", headers=h)
    changes = client.get(f"/api/segments/{seg}/changes", headers=h).json()["items"]
    assert [(c["person_id"], c["change"]) for c in changes] == [
        (p["M1"], "entered"),
        (p["M3"], "entered"),
    ]

    export = client.get(
        f"/api/segments/{seg}/export",
        params={"id_types": ["member_id", "phone"], "clear": "true"},
        headers=h,
    )
    assert export.status_code == 200
    rows = list(csv.reader(io.StringIO(export.text)))
    assert rows[0] == ["person_id", "member_id", "phone"]
    by_person = {r[0]: r[1:] for r in rows[1:]}
    assert by_person[p["M1"]] == ["M1", "138****8001"]  # phone stays masked
    masked = client.get(f"/api/segments/{seg}/export", params={"id_types": "member_id"}, headers=h)
    assert "M1" not in masked.text.split("\n", 1)[1]


def test_sequence_and_in_segment(client: TestClient, keys: WorkspaceCreated) -> None:
    p = customers(client, keys)
    h = admin(keys)
    cart_no_order = {
        "type": "sequence",
        "first": {"event": "Add To Cart"},
        "then": {
            "event": "Order Completed",
            "where": [{"path": "revenue_fen", "op": "gte", "value": 5000}],
        },
        "within_days": 7,
    }
    seg = client.post(
        "/api/segments", json={"name": "弃购", "definition": cart_no_order}, headers=h
    )
    client.post(f"/api/segments/{seg.json()['id']}/refresh", headers=h)
    outer = {"type": "not", "condition": {"type": "segment", "segment_id": seg.json()["id"]}}
    preview = client.post("/api/segments/preview", json={"definition": outer}, headers=h).json()
    assert preview["sample"] == sorted([p["M1"], p["M3"]])


def test_bad_definitions_are_4xx_naming_the_field(
    client: TestClient, keys: WorkspaceCreated
) -> None:
    h = admin(keys)
    bad = {"type": "trait", "name": "city", "op": "in", "value": "杭州"}
    response = client.post("/api/segments/preview", json={"definition": bad}, headers=h)
    assert response.status_code == 422
    assert response.json()["error"]["field"].startswith("definition")
    unknown_tag = {"type": "tag", "tag": "兴趣/茶"}
    response = client.post(
        "/api/segments", json={"name": "x", "definition": unknown_tag}, headers=h
    )
    assert response.status_code == 404 and response.json()["error"]["field"] == "tag"
    nested = {"type": "segment", "segment_id": "seg_nope"}
    self_ref = client.post("/api/segments", json={"name": "y", "definition": nested}, headers=h)
    assert self_ref.status_code == 404 and self_ref.json()["error"]["field"] == "segment_id"


def test_tags_over_the_api(client: TestClient, keys: WorkspaceCreated) -> None:
    p = customers(client, keys)
    h = admin(keys)
    assert client.post("/api/tags/groups", json={"name": "兴趣"}, headers=h).status_code == 201
    tea = client.post("/api/tags", json={"group": "兴趣", "name": "茶"}, headers=h)
    assert tea.status_code == 201
    client.post(
        "/api/tags/groups", json={"name": "消费力", "kind": "rule", "exclusive": True}, headers=h
    )
    rule = {"type": "computed", "name": "total_spend_fen", "op": "gte", "value": 20000}
    made = client.post("/api/tags", json={"group": "消费力", "name": "高", "rule": rule}, headers=h)
    assert made.status_code == 201, made.text
    missing_rule = client.post("/api/tags", json={"group": "消费力", "name": "低"}, headers=h)
    assert missing_rule.status_code == 400 and missing_rule.json()["error"]["field"] == "rule"

    tagged = client.post(
        f"/api/persons/{p['M2']}/tags", json={"tag": "兴趣/茶", "actor": "amy"}, headers=h
    )
    assert tagged.json() == {"gained": 1, "lost": 0}
    csv_text = "type,value\nmember_id,M3\nphone,13800138001\nmember_id,M404\nbogus,1\n"
    report = client.post(
        f"/api/tags/{tea.json()['id']}/import",
        content=csv_text.encode(),
        headers={**h, "content-type": "text/csv"},
    )
    assert report.status_code == 200, report.text
    body = report.json()
    assert (body["rows"], body["persons"], body["gained"]) == (4, 2, 2)
    assert [r["line"] for r in body["unresolved"]] == [4, 5]

    assert client.post("/api/tags/refresh", headers=h).json() == {"gained": 1, "lost": 0}
    held = client.get(f"/api/persons/{p['M1']}/tags", headers=h).json()
    assert [(t["group"], t["tag"], t["source"]) for t in held] == [
        ("兴趣", "茶", "manual"),
        ("消费力", "高", "rule"),
    ]
    history = client.get(f"/api/persons/{p['M2']}/tags/history", headers=h).json()
    assert [(e["change"], e["actor"]) for e in history] == [("gained", "amy")]
    removed = client.delete(f"/api/persons/{p['M2']}/tags/茶", headers=h)
    assert removed.json() == {"gained": 0, "lost": 1}

    note = client.post(f"/api/persons/{p['M1']}/notes", json={"text": "喜欢下午茶"}, headers=h)
    assert note.status_code == 201
    assert [n["text"] for n in client.get(f"/api/persons/{p['M1']}/notes", headers=h).json()] == [
        "喜欢下午茶"
    ]
    empty = client.post(f"/api/persons/{p['M1']}/notes", json={"text": ""}, headers=h)
    assert empty.status_code == 422 and empty.json()["error"]["field"] == "text"

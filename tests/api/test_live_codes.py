"""Live codes over the management API: staff, rotation, scans, QR, stats, credit, 4xx."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from siyu.workspaces.models import WorkspaceCreated
from tests.api.test_identity import admin, person_of, send


def _post(client: TestClient, keys: WorkspaceCreated, url: str, body: Any, **headers: str) -> Any:
    response = client.post(url, json=body, headers={**admin(keys), **headers})
    assert response.status_code == 201, response.text
    return response.json()


def test_code_rotates_credits_and_counts(client: TestClient, keys: WorkspaceCreated) -> None:
    store = _post(client, keys, "/api/live-codes/stores", {"name": "杭州湖滨店"})
    a = _post(
        client,
        keys,
        "/api/live-codes/staff",
        {"name": "小王", "store_id": store["id"], "daily_cap": 1},
    )
    b = _post(client, keys, "/api/live-codes/staff", {"name": "小李", "store_id": store["id"]})
    spec = {
        "name": "门店海报",
        "kind": "poster",
        "channel": "store_poster",
        "scene": "hz-poster-1",
        "staff": [{"staff_id": a["id"]}, {"staff_id": b["id"], "backup": True}],
    }
    code = _post(client, keys, "/api/live-codes", spec, **{"Idempotency-Key": "k1"})
    again = _post(client, keys, "/api/live-codes", spec, **{"Idempotency-Key": "k1"})
    assert again["id"] == code["id"]
    assert code["url"].endswith("scene=hz-poster-1")

    png = client.get(f"/api/live-codes/{code['id']}/qr.png", headers=admin(keys))
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    svg = client.get(f"/api/live-codes/{code['id']}/qr.svg", headers=admin(keys))
    assert svg.status_code == 200 and "<svg" in svg.text

    url = f"/api/live-codes/{code['id']}/scans"
    wm1 = {"identifier_type": "wecom_external_userid", "identifier": "wm1"}
    first = _post(client, keys, url, wm1, **{"Idempotency-Key": "s1"})
    retry = _post(client, keys, url, wm1, **{"Idempotency-Key": "s1"})
    assert retry["id"] == first["id"]
    assert (
        first["staff_id"] == a["id"] and first["new_customer"] and first["store_id"] == store["id"]
    )
    second = _post(client, keys, url, {"identifier_type": "phone", "identifier": "13800138000"})
    assert second["staff_id"] == b["id"]  # a is at the daily cap: the backup takes it

    person = person_of(client, keys, "wecom_external_userid", "wm1")
    assert person["profile"]["first_channel"] == "store_poster"
    send(client, keys, [{"type": "track", "event": "Order Completed", "messageId": "o1",
                         "anonymousId": "x1", "context": {"externalIds": [
                             {"type": "wecom_external_userid", "id": "wm1"}]},
                         "properties": {"revenue_fen": 12_000}}])  # fmt: skip
    stats = client.get(f"/api/live-codes/{code['id']}/stats", headers=admin(keys)).json()
    assert stats == {"code_id": code["id"], "scans": 0, "adds": 2, "customers": 2,
                     "first_orders": 1, "gmv_fen": 12_000}  # fmt: skip
    credit = client.get(
        "/api/live-codes/credit", params={"by": "staff"}, headers=admin(keys)
    ).json()
    assert [(r["name"], r["customers"], r["gmv_fen"]) for r in credit] == [
        ("小王", 1, 12_000),
        ("小李", 1, 0),
    ]
    by_store = client.get(
        "/api/live-codes/credit", params={"by": "store"}, headers=admin(keys)
    ).json()
    assert by_store[0]["customers"] == 2 and by_store[0]["buyers"] == 1


def test_live_code_errors_name_the_field(client: TestClient, keys: WorkspaceCreated) -> None:
    h = admin(keys)
    missing = client.get("/api/live-codes/lc_nope", headers=h)
    assert missing.status_code == 404 and missing.json()["error"]["field"] == "code_id"
    bad = client.post(
        "/api/live-codes", json={"name": "x", "kind": "tv", "channel": "c"}, headers=h
    )
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "kind"
    nostaff = client.post("/api/live-codes", json={"name": "x", "kind": "kol", "channel": "c",
                          "staff": [{"staff_id": "sf_none"}]}, headers=h)  # fmt: skip
    assert nostaff.status_code == 404 and nostaff.json()["error"]["field"] == "staff.0.staff_id"
    ok = {"name": "x", "kind": "kol", "channel": "c", "scene": "dup"}
    assert client.post("/api/live-codes", json=ok, headers=h).status_code == 201
    dup = client.post("/api/live-codes", json=ok, headers=h)
    assert dup.status_code == 409 and dup.json()["error"]["field"] == "scene"
    code = client.get("/api/live-codes", headers=h).json()[0]
    scan = client.post(f"/api/live-codes/{code['id']}/scans",
                       json={"identifier_type": "fax", "identifier": "1"}, headers=h)  # fmt: skip
    assert scan.status_code == 400 and scan.json()["error"]["field"] == "identifier_type"


def test_track_events_with_a_scene_are_credited(client: TestClient, keys: WorkspaceCreated) -> None:
    staff = _post(client, keys, "/api/live-codes/staff", {"name": "小张"})
    spec = {"name": "包裹卡", "kind": "package_insert", "channel": "insert_card",
            "scene": "card-2026", "staff": [{"staff_id": staff["id"]}]}  # fmt: skip
    code = _post(client, keys, "/api/live-codes", spec)
    send(client, keys, [
        {"type": "track", "event": "Live Code Contact Added", "messageId": "w1",
         "timestamp": "2026-11-20T02:00:00Z",
         "context": {"campaign": {"source": "insert_card", "content": "card-2026"},
                     "externalIds": [{"type": "wecom_external_userid", "id": "wmX"}]},
         "anonymousId": "a1"},
        {"type": "track", "event": "Live Code Contact Added", "messageId": "w2",
         "timestamp": "2026-11-20T03:00:00Z",
         "context": {"campaign": {"source": "other", "content": "no-such-scene"}},
         "anonymousId": "a2"},
    ])  # fmt: skip
    body = {"start": "2026-11-20T00:00:00Z", "end": "2026-11-21T00:00:00Z"}
    url = "/api/live-codes/attribute-events"
    first = client.post(url, json=body, headers=admin(keys))
    assert first.status_code == 200, first.text
    assert [(r["staff_id"], r["new_customer"]) for r in first.json()] == [(staff["id"], True)]
    assert client.post(url, json=body, headers=admin(keys)).json()[0]["id"] == first.json()[0]["id"]
    stats = client.get(f"/api/live-codes/{code['id']}/stats", headers=admin(keys)).json()
    assert stats["adds"] == 1 and stats["customers"] == 1
    person = person_of(client, keys, "wecom_external_userid", "wmX")
    assert person["profile"]["first_channel"] == "insert_card"
    owner = client.get(f"/api/live-codes/owners/{person['person_id']}", headers=admin(keys))
    assert owner.json()["staff_id"] == staff["id"]
    bad = client.post(url, json={"start": body["end"], "end": body["start"]}, headers=admin(keys))
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "end"

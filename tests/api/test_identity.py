"""Conflicts and split over the management API (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from siyu import pipeline
from siyu.core.runtime import Runtime
from siyu.workspaces.models import WorkspaceCreated


def send(client: TestClient, keys: WorkspaceCreated, batch: list[dict[str, Any]]) -> None:
    response = client.post("/v1/batch", json={"batch": batch}, auth=(keys.write_key, ""))
    assert response.status_code == 200, response.text
    assert not response.json()["rejected"]


def admin(keys: WorkspaceCreated) -> dict[str, str]:
    return {"Authorization": f"Bearer {keys.secret_key}"}


def person_of(client: TestClient, keys: WorkspaceCreated, kind: str, value: str) -> dict[str, Any]:
    response = client.get(
        "/api/persons", params={"identifier_type": kind, "identifier": value}, headers=admin(keys)
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_shared_tablet_does_not_fuse_members(client: TestClient, keys: WorkspaceCreated) -> None:
    send(
        client,
        keys,
        [
            {
                "type": "identify",
                "messageId": f"t{i}",
                "anonymousId": "family-tablet",
                "userId": f"member-{i}",
                "traits": {"member_id": f"M{i}"},
            }
            for i in range(5)
        ],
    )
    persons = {person_of(client, keys, "member_id", f"M{i}")["person_id"] for i in range(5)}
    assert len(persons) == 5
    conflicts = client.get("/api/identity/conflicts", headers=admin(keys)).json()
    assert conflicts["total"] >= 4
    assert {c["id_type"] for c in conflicts["items"]} <= {"user_id", "member_id"}
    assert all(c["person_id"] != c["other_person_id"] for c in conflicts["items"])


def test_split_undoes_a_wrong_merge_and_moves_events(
    client: TestClient, keys: WorkspaceCreated, runtime: Runtime
) -> None:
    send(
        client,
        keys,
        [
            {
                "type": "track",
                "messageId": "a1",
                "anonymousId": "anon-A",
                "event": "Product Viewed",
            },
            {
                "type": "track",
                "messageId": "b1",
                "anonymousId": "anon-B",
                "event": "Product Viewed",
            },
        ],
    )
    a = person_of(client, keys, "anonymous_id", "anon-A")["person_id"]
    b = person_of(client, keys, "anonymous_id", "anon-B")["person_id"]
    # A wrong alias fuses the two; B's next event lands on the survivor.
    send(
        client,
        keys,
        [
            {
                "type": "alias",
                "messageId": "wrong",
                "userId": "u-shared",
                "previousId": "anon-A",
                "context": {"externalIds": [{"id": "anon-B", "type": "anonymous_id"}]},
            },
            {
                "type": "track",
                "messageId": "b2",
                "anonymousId": "anon-B",
                "event": "Order Completed",
                "properties": {"revenue": "10"},
            },
        ],
    )
    pipeline.flush(runtime=runtime)
    merged = person_of(client, keys, "anonymous_id", "anon-B")
    survivor = merged["person_id"]  # the user_id holder: the strongest identifier survives
    assert person_of(client, keys, "user_id", "u-shared")["person_id"] == survivor
    assert set(merged["merged_person_ids"]) == {a, b}
    split = client.post(
        f"/api/persons/{survivor}/split", json={"absorbed_person_id": b}, headers=admin(keys)
    )
    assert split.status_code == 200, split.text
    assert split.json()["restored_person_id"] == b
    assert person_of(client, keys, "anonymous_id", "anon-B")["person_id"] == b
    assert person_of(client, keys, "anonymous_id", "anon-A")["person_id"] == survivor
    # b2 arrived after the merge, attributed to the survivor; the split gives it back to B.
    b_events = client.get(f"/api/persons/{b}/events", headers=admin(keys)).json()["events"]
    assert {e["message_id"] for e in b_events} == {"b1", "b2"}
    survivor_events = client.get(f"/api/persons/{survivor}/events", headers=admin(keys)).json()[
        "events"
    ]
    assert {e["message_id"] for e in survivor_events} == {"a1", "wrong"}
    profile = client.get(f"/api/persons/{b}", headers=admin(keys)).json()["profile"]
    assert profile["event_counts"]["Product Viewed"] == 1


def test_split_of_persons_never_merged_is_refused(
    client: TestClient, keys: WorkspaceCreated
) -> None:
    send(client, keys, [{"type": "track", "messageId": "x", "anonymousId": "solo", "event": "E"}])
    solo = person_of(client, keys, "anonymous_id", "solo")["person_id"]
    response = client.post(
        f"/api/persons/{solo}/split", json={"absorbed_person_id": "p_other"}, headers=admin(keys)
    )
    assert response.status_code in (400, 404, 409)
    assert response.json()["error"]["field"]
    missing = client.post(f"/api/persons/{solo}/split", json={}, headers=admin(keys))
    assert (missing.status_code, missing.json()["error"]["field"]) == (422, "absorbed_person_id")


def test_rules_can_be_read_and_changed(client: TestClient, keys: WorkspaceCreated) -> None:
    rules = client.get("/api/identity/rules", headers=admin(keys)).json()["rules"]
    phone = next(r for r in rules if r["id_type"] == "phone")
    assert phone["limit"] == 1
    changed = client.put(
        "/api/identity/rules",
        json={"rules": [{"id_type": "phone", "priority": phone["priority"], "limit": 2}]},
        headers=admin(keys),
    )
    assert changed.status_code == 200, changed.text
    assert next(r for r in changed.json()["rules"] if r["id_type"] == "phone")["limit"] == 2
    clash = client.put(
        "/api/identity/rules",
        json={"rules": [{"id_type": "phone", "priority": 1, "limit": 1}]},
        headers=admin(keys),
    )
    assert clash.status_code == 400
    assert clash.json()["error"]["field"].startswith("rules")
    unknown = client.put(
        "/api/identity/rules",
        json={"rules": [{"id_type": "qq", "priority": 99, "limit": 1}]},
        headers=admin(keys),
    )
    assert unknown.status_code == 422

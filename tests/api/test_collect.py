"""The Segment-compatible collection API over HTTP (ASGI), on SQLite and PostgreSQL."""

from __future__ import annotations

import gzip
from typing import Any

import orjson
from fastapi.testclient import TestClient

from siyu import pipeline
from siyu.core.runtime import Runtime
from siyu.workspaces.models import WorkspaceCreated


def track(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "messageId": f"m{i}",
        "anonymousId": "anon-1",
        "event": "Product Viewed",
        "properties": {"sku": "T01"},
        "timestamp": "2026-11-27T10:00:00Z",
        "context": {"externalIds": [{"id": "o1", "type": "mp_openid", "collection": "wx1"}]},
    } | extra


def post(
    client: TestClient, keys: WorkspaceCreated, body: Any, path: str = "/v1/batch", **kw: Any
) -> Any:
    return client.post(path, json=body, auth=(keys.write_key, ""), **kw)


def admin(keys: WorkspaceCreated) -> dict[str, str]:
    return {"Authorization": f"Bearer {keys.secret_key}"}


def test_batch_is_committed_and_a_retry_never_double_counts(
    client: TestClient, keys: WorkspaceCreated, runtime: Runtime
) -> None:
    body = {"batch": [track(1), track(2)], "sentAt": "2026-11-27T10:00:01Z"}
    first = post(client, keys, body)
    assert first.status_code == 200, first.text
    assert (first.json()["accepted"], first.json()["duplicates"]) == (2, 0)
    again = post(client, keys, body)
    assert (again.json()["accepted"], again.json()["duplicates"]) == (0, 2)
    assert pipeline.flush(runtime=runtime) == 2
    person = client.get(
        "/api/persons",
        params={"identifier_type": "mp_openid", "identifier": "wx1:o1"},
        headers=admin(keys),
    )
    assert person.status_code == 200, person.text
    events = client.get(f"/api/persons/{person.json()['person_id']}/events", headers=admin(keys))
    assert sorted(e["message_id"] for e in events.json()["events"]) == ["m1", "m2"]
    # Times leave in the workspace's zone (Asia/Shanghai), as ISO 8601 with the offset.
    assert all(e["timestamp"].endswith("+08:00") for e in events.json()["events"])


def test_events_are_readable_before_the_flush(client: TestClient, keys: WorkspaceCreated) -> None:
    post(client, keys, {"batch": [track(1)]})
    person = client.get(
        "/api/persons",
        params={"identifier_type": "anonymous_id", "identifier": "anon-1"},
        headers=admin(keys),
    )
    events = client.get(f"/api/persons/{person.json()['person_id']}/events", headers=admin(keys))
    assert [e["message_id"] for e in events.json()["events"]] == ["m1"]


def test_gzip_body_and_single_endpoints(client: TestClient, keys: WorkspaceCreated) -> None:
    raw = gzip.compress(orjson.dumps({"batch": [track(1)]}))
    zipped = client.post(
        "/v1/batch",
        content=raw,
        auth=(keys.write_key, ""),
        headers={"content-encoding": "gzip", "content-type": "application/json"},
    )
    assert zipped.json()["accepted"] == 1
    for path, body in [
        ("/v1/track", {"messageId": "t", "anonymousId": "a", "event": "Signed Up"}),
        ("/v1/identify", {"messageId": "i", "userId": "u1", "traits": {"member_id": "M1"}}),
        ("/v1/page", {"messageId": "p", "anonymousId": "a", "name": "首页"}),
        ("/v1/screen", {"messageId": "s", "anonymousId": "a", "name": "我的"}),
        ("/v1/alias", {"messageId": "al", "userId": "u1", "previousId": "a"}),
        ("/v1/group", {"messageId": "g", "userId": "u1", "groupId": "store-9"}),
    ]:
        response = post(client, keys, body, path)
        assert response.status_code == 200, (path, response.text)
        assert response.json()["accepted"] == 1


def test_write_key_in_body_is_accepted(client: TestClient, keys: WorkspaceCreated) -> None:
    response = client.post("/v1/batch", json={"batch": [track(1)], "writeKey": keys.write_key})
    assert response.json()["accepted"] == 1


def test_wrong_or_missing_key_is_401(client: TestClient, keys: WorkspaceCreated) -> None:
    assert (
        client.post("/v1/batch", json={"batch": [track(1)]}, auth=("nope", "")).status_code == 401
    )
    missing = client.post("/v1/batch", json={"batch": [track(1)]})
    assert missing.status_code == 401
    assert missing.json()["error"]["field"] == "authorization"
    assert (
        client.get(
            "/api/persons/p_x", headers={"Authorization": f"Bearer {keys.write_key}"}
        ).status_code
        == 401
    )


def test_one_bad_event_does_not_lose_the_good_ones(
    client: TestClient, keys: WorkspaceCreated
) -> None:
    response = post(
        client, keys, {"batch": [track(1), track(2, event=None), track(3, timestamp="soon")]}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 1
    assert [(r["index"], r["field"]) for r in body["rejected"]] == [
        (1, "batch[1].event"),
        (2, "batch[2].timestamp"),
    ]


def test_all_bad_is_400_naming_the_field(client: TestClient, keys: WorkspaceCreated) -> None:
    response = post(client, keys, {"batch": [track(1, anonymousId=None)]})
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "batch[0].userId"
    single = post(client, keys, {"messageId": "x", "anonymousId": "a"}, "/v1/track")
    assert single.json()["error"]["field"] == "body.event"


def test_malformed_bodies_are_400(client: TestClient, keys: WorkspaceCreated) -> None:
    not_json = client.post("/v1/batch", content=b"{oops", auth=(keys.write_key, ""))
    assert (not_json.status_code, not_json.json()["error"]["field"]) == (400, "body")
    not_list = post(client, keys, {"batch": {"a": 1}})
    assert (not_list.status_code, not_list.json()["error"]["field"]) == (400, "batch")
    bad_gzip = client.post(
        "/v1/batch",
        content=b"plain",
        auth=(keys.write_key, ""),
        headers={"content-encoding": "gzip"},
    )
    assert bad_gzip.status_code == 400


def test_oversized_batch_is_413_even_when_gzipped(
    client: TestClient, keys: WorkspaceCreated
) -> None:
    big = {"batch": [track(i, properties={"pad": "x" * 1000}) for i in range(100)]}
    assert post(client, keys, big).status_code == 413
    bomb = gzip.compress(b'{"batch": [' + b" " * 10_000_000 + b"]}")
    response = client.post(
        "/v1/batch", content=bomb, auth=(keys.write_key, ""), headers={"content-encoding": "gzip"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["limit"] == 64 * 1024


def test_identify_profile_and_phone_lookup(client: TestClient, keys: WorkspaceCreated) -> None:
    post(
        client,
        keys,
        {
            "batch": [
                {
                    "type": "identify",
                    "messageId": "i1",
                    "userId": "u9",
                    "traits": {"phone": "13800138000", "nickname": "阿茶"},
                    "timestamp": "2026-11-27T10:00:00Z",
                },
                {
                    "type": "track",
                    "messageId": "o1",
                    "userId": "u9",
                    "event": "Order Completed",
                    "properties": {"order_id": "A1", "revenue": "29.90"},
                    "timestamp": "2026-11-27T11:00:00Z",
                },
            ]
        },
    )
    found = client.get(
        "/api/persons",
        params={"identifier_type": "phone", "identifier": "+86 138 0013 8000"},
        headers=admin(keys),
    )
    assert found.status_code == 200, found.text
    person = found.json()
    phones = [i for i in person["identifiers"] if i["type"] == "phone"]
    assert phones[0]["masked"] == "138****8000"
    assert "13800138000" not in found.text
    assert person["profile"]["traits"]["nickname"] == "阿茶"
    assert person["profile"]["total_spend_fen"] == 2990
    assert person["profile"]["order_count"] == 1


def test_unknown_person_and_bad_lookup(client: TestClient, keys: WorkspaceCreated) -> None:
    assert client.get("/api/persons/p_missing", headers=admin(keys)).status_code == 404
    bad = client.get(
        "/api/persons", params={"identifier_type": "qq", "identifier": "1"}, headers=admin(keys)
    )
    assert (bad.status_code, bad.json()["error"]["field"]) == (400, "identifier_type")
    missing = client.get("/api/persons", params={"identifier_type": "phone"}, headers=admin(keys))
    assert (missing.status_code, missing.json()["error"]["field"]) == (422, "identifier")

"""Whole flows against a real server process over real HTTP."""

from __future__ import annotations

import httpx

from tests.e2e.conftest import Server


def batch(start: int, n: int) -> dict[str, object]:
    return {
        "batch": [
            {
                "type": "track",
                "messageId": f"e{i}",
                "anonymousId": f"a{i % 7}",
                "event": "Product Viewed",
                "context": {"externalIds": [{"id": f"u{i % 7}", "type": "unionid"}]},
            }
            for i in range(start, start + n)
        ]
    }


def count_events(client: httpx.Client, secret: str) -> int:
    total = 0
    for user in range(7):
        person = client.get(
            "/api/persons",
            params={"identifier_type": "unionid", "identifier": f"u{user}"},
            headers={"Authorization": f"Bearer {secret}"},
        )
        if person.status_code == 404:
            continue
        events = client.get(
            f"/api/persons/{person.json()['person_id']}/events",
            params={"limit": 1000},
            headers={"Authorization": f"Bearer {secret}"},
        )
        total += len(events.json()["events"])
    return total


def test_a_2xx_survives_a_crash(server: tuple[Server, dict[str, str]]) -> None:
    srv, keys = server
    with httpx.Client(base_url=srv.url, auth=(keys["write_key"], ""), timeout=30) as client:
        accepted = sum(
            client.post("/v1/batch", json=batch(i * 50, 50)).json()["accepted"] for i in range(10)
        )
    assert accepted == 500
    srv.kill()  # no graceful shutdown: whatever is still in the inbox must survive
    srv.start()
    with httpx.Client(base_url=srv.url, timeout=30) as client:
        assert count_events(client, keys["secret_key"]) == 500
    with httpx.Client(base_url=srv.url, auth=(keys["write_key"], ""), timeout=30) as client:
        retry = client.post("/v1/batch", json=batch(0, 50)).json()
    assert (retry["accepted"], retry["duplicates"]) == (0, 50)


def test_openapi_is_served(server: tuple[Server, dict[str, str]]) -> None:
    srv, _ = server
    spec = httpx.get(f"{srv.url}/openapi.json").json()
    assert {"/v1/batch", "/api/persons/{person_id}", "/api/identity/conflicts"} <= set(
        spec["paths"]
    )
    assert httpx.get(f"{srv.url}/docs").status_code == 200


def test_docs_page_uses_only_local_assets(server: tuple[Server, dict[str, str]]) -> None:
    srv, _ = server
    html = httpx.get(f"{srv.url}/docs").text
    assert "cdn" not in html.lower()
    assert httpx.get(f"{srv.url}/static/swagger/swagger-ui-bundle.js").status_code == 200


def test_the_server_refreshes_due_segments_by_itself(server: tuple[Server, dict[str, str]]) -> None:
    import time

    srv, keys = server
    admin = {"Authorization": f"Bearer {keys['secret_key']}"}
    with httpx.Client(base_url=srv.url, timeout=30) as client:
        sent = client.post(
            "/v1/batch",
            auth=(keys["write_key"], ""),
            json={
                "batch": [
                    {
                        "type": "identify",
                        "messageId": f"i{i}",
                        "userId": f"u{i}",
                        "traits": {"city": "杭州" if i % 2 else "上海"},
                    }
                    for i in range(6)
                ]
            },
        )
        assert sent.json()["accepted"] == 6
        created = client.post(
            "/api/segments",
            headers=admin,
            json={
                "name": "杭州",
                "definition": {"type": "trait", "name": "city", "op": "eq", "value": "杭州"},
            },
        )
        assert created.status_code == 201, created.text
        segment = created.json()["id"]
        deadline = time.monotonic() + 20
        members: list[str] = []
        while time.monotonic() < deadline and len(members) < 3:
            time.sleep(0.3)
            members = client.get(f"/api/segments/{segment}/members", headers=admin).json()["items"]
    assert len(members) == 3

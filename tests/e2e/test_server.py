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

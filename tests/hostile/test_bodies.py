"""Oversized, deeply nested, wrongly encoded bodies and out-of-range numbers: every answer a
4xx in the one error shape, never a 5xx, and nothing kept (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
from fastapi.testclient import TestClient

from siyu.core.runtime import Runtime
from siyu.workspaces.models import WorkspaceCreated
from tests.api.test_identity import admin

INT64_MAX = 2**63 - 1


def _error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    return error


def _segments(client: TestClient, keys: WorkspaceCreated) -> list[Any]:
    listed = client.get("/api/segments", headers=admin(keys))
    assert listed.status_code == 200
    found: list[Any] = listed.json()
    return found


def test_oversized_bodies_are_413(
    client: TestClient, keys: WorkspaceCreated, runtime: Runtime
) -> None:
    limit = runtime.settings.max_api_body_bytes
    big = b'{"name": "' + b"x" * limit + b'"}'
    headers = {**admin(keys), "content-type": "application/json"}
    declared = client.post("/api/segments", content=big, headers=headers)
    assert _error(declared, 413)["field"] == "body"

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit counts what arrives
        yield b'{"name": "'
        for _ in range(limit // 65536 + 1):
            yield b"x" * 65536
        yield b'"}'

    streamed = client.post("/api/segments", content=chunks(), headers=headers)
    assert _error(streamed, 413)["field"] == "body"
    collect = client.post(
        "/v1/batch",
        content=b"[" + b" " * (runtime.settings.max_batch_bytes + 1) + b"]",
        auth=(keys.write_key, ""),
    )
    assert _error(collect, 413)["field"] == "body"
    assert _segments(client, keys) == []


def _nested_condition(depth: int) -> bytes:
    # Written by hand: the json module itself cannot encode 2,000 levels.
    leaf = b'{"type": "trait", "name": "city", "op": "eq", "value": "x"}'
    return b'{"type": "not", "of": ' * depth + leaf + b"}" * depth


def test_deeply_nested_json_is_refused_not_a_crash(
    client: TestClient, keys: WorkspaceCreated
) -> None:
    h = {**admin(keys), "content-type": "application/json"}
    arrays = b"[" * 100_000 + b"]" * 100_000
    for url in ("/api/segments", "/api/segments/preview", "/api/tags"):
        answer = client.post(url, content=arrays, headers=h)
        assert 400 <= answer.status_code < 500, (url, answer.status_code)
    shallower = b"[" * 20_000 + b"]" * 20_000  # within the test runtime's 64 KiB batch limit
    collect = client.post("/v1/batch", content=shallower, auth=(keys.write_key, ""))
    assert _error(collect, 400)["field"] == "body"
    deep_message = b'{"batch": [{"type": "track", "event": "e", "userId": "u", "properties": '
    deep_message += b'{"a": ' * 5000 + b"1" + b"}" * 5000 + b"}]}"
    assert (
        client.post("/v1/batch", content=deep_message, auth=(keys.write_key, "")).status_code < 500
    )
    for depth in (50, 400, 2000):  # a segment definition nested deeper than any real one
        definition = _nested_condition(depth)
        answer = client.post("/api/segments/preview", content=definition, headers=h)
        assert answer.status_code < 500, (depth, answer.text[:300])
        body = b'{"name": "deep", "definition": ' + definition + b"}"
        made = client.post("/api/segments", content=body, headers=h)
        assert made.status_code < 500, (depth, made.text[:300])


def test_wrongly_encoded_bodies(client: TestClient, keys: WorkspaceCreated) -> None:
    h = admin(keys)
    json_ct = {**h, "content-type": "application/json"}
    invalid_utf8 = b'{"name": "\xff\xfe\xc3\x28", "definition": {"type": "all", "of": []}}'
    latin1 = '{"name": "café", "definition": {"type": "all", "of": []}}'.encode("latin-1")
    for body in (invalid_utf8, latin1, b"\x00\x01\x02", b"", b"{", b"not json"):
        answer = client.post("/api/segments", content=body, headers=json_ct)
        assert 400 <= answer.status_code < 500, (body, answer.text)
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        answer = client.post(
            "/api/segments",
            content=b"name=x&definition=y",
            headers={**h, "content-type": content_type},
        )
        assert 400 <= answer.status_code < 500, (content_type, answer.text)
    for body in (invalid_utf8, latin1, b"\x00", b""):
        collect = client.post(
            "/v1/batch",
            content=body,
            auth=(keys.write_key, ""),
            headers={"content-type": "application/json"},
        )
        assert _error(collect, 400)["field"] == "body"
    gz = client.post(
        "/v1/batch",
        content=b"not gzip",
        auth=(keys.write_key, ""),
        headers={"content-type": "application/json", "content-encoding": "gzip"},
    )
    assert 400 <= gz.status_code < 500
    assert _segments(client, keys) == []


def test_numbers_out_of_range(client: TestClient, keys: WorkspaceCreated) -> None:
    h = admin(keys)
    sent = client.post(
        "/v1/batch",
        auth=(keys.write_key, ""),
        json={
            "batch": [
                {
                    "type": "identify",
                    "messageId": "m1",
                    "userId": "u1",
                    "traits": {"member_id": "M1", "score": 2**70},
                }
            ]
        },
    )
    assert sent.status_code == 200, sent.text
    person = client.get(
        "/api/persons", params={"identifier_type": "member_id", "identifier": "M1"}, headers=h
    ).json()["person_id"]
    huge = [INT64_MAX + 1, 2**64, 10**30, -(2**63) - 1]
    for value in huge:
        for url, body in [
            ("/api/loyalty/mall/items", {"name": "袋", "price_points": value, "stock": 1}),
            ("/api/loyalty/mall/items", {"name": "袋", "price_points": 1, "stock": value}),
            (
                f"/api/loyalty/members/{person}/points/orders",
                {"amount_fen": value, "order_id": f"o{value}"},
            ),
            (f"/api/loyalty/members/{person}/points/earn", {"points": value, "reason": "x"}),
            (
                "/api/coupons/templates",
                {"name": "券", "kind": "amount_off", "amount_off_fen": value, "valid_days": 7},
            ),
            (
                "/api/coupons/templates",
                {"name": "券", "kind": "amount_off", "amount_off_fen": 100, "valid_days": value},
            ),
            ("/api/spend", {"channel": "douyin", "day": "2026-11-01", "amount_fen": value}),
        ]:
            answer = client.post(url, json=body, headers={**h, "Idempotency-Key": f"k{value}"})
            assert 400 <= answer.status_code < 500, (url, body, answer.text)
            assert answer.json()["error"]["field"], answer.text
    for literal in (b"NaN", b"Infinity", b"-Infinity", b"1e400"):
        body = b'{"name": "\xe8\xa2\x8b", "price_points": ' + literal + b', "stock": 1}'
        answer = client.post(
            "/api/loyalty/mall/items",
            content=body,
            headers={**h, "content-type": "application/json"},
        )
        assert 400 <= answer.status_code < 500, (literal, answer.text)
        collect = client.post(
            "/v1/batch",
            auth=(keys.write_key, ""),
            headers={"content-type": "application/json"},
            content=b'{"batch": [{"type": "track", "event": "e", "userId": "u1", '
            b'"properties": {"revenue": ' + literal + b"}}]}",
        )
        assert collect.status_code < 500, collect.text
    roi = client.get("/api/analytics/roi", params={"half_life_days": "nan"}, headers=h)
    assert roi.status_code == 422, roi.text
    assert client.get("/api/loyalty/mall/items", headers=h).json() == []

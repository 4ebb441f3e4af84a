"""SQL and HTML injection strings in the text fields of the main create routes and in segment
rules: stored and returned verbatim, no SQL effect (SQLite and PostgreSQL).

The segment compiler writes literals into SQL (escaped per dialect, not bound parameters);
these tests prove the escaping: a rule whose value is an injection string selects exactly
the person whose trait holds that very string, and the tables are intact afterwards.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from siyu.workspaces.models import WorkspaceCreated
from tests.api.test_identity import admin, person_of, send
from tests.fuzz.world import WELCOME

HOSTILE = [
    "'; DROP TABLE persons; --",
    "Robert'); DROP TABLE segments;--",
    '" OR "1"="1',
    "' OR '1'='1' --",
    "1; DELETE FROM tags WHERE 1=1",
    "\\'; SELECT pg_sleep(5); --",
    "%' AND 1=0 UNION SELECT secret_key_hash FROM workspaces --",
    "<script>alert('x')</script>",
    '<img src=x onerror="alert(1)">',
    "{{ 7*7 }} ${7*7} %s %(name)s",
    "名字\u202e\u200b😀 \\x00 \\\\",
]


def _created(response: Any) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


def _get(client: TestClient, keys: WorkspaceCreated, url: str) -> Any:
    response = client.get(url, headers=admin(keys))
    assert response.status_code == 200, (url, response.text)
    return response.json()


@pytest.mark.parametrize("n", range(len(HOSTILE)))
def test_text_fields_store_injection_strings_verbatim(
    client: TestClient, keys: WorkspaceCreated, n: int
) -> None:
    text = HOSTILE[n]
    h = admin(keys)
    send(
        client,
        keys,
        [
            {
                "type": "identify",
                "messageId": "i1",
                "userId": "u1",
                "traits": {"member_id": "M1", "nickname": text},
            }
        ],
    )
    person = person_of(client, keys, "member_id", "M1")
    assert person["profile"]["traits"]["nickname"] == text

    _created(client.post("/api/tags/groups", json={"name": text}, headers=h))
    tag = _created(
        client.post("/api/tags", headers=h, json={"group": text, "name": text, "description": text})
    )
    assert (tag["name"], tag["description"]) == (text, text)
    assert _get(client, keys, f"/api/tags/{tag['id']}")["name"] == text
    rule = {"type": "trait", "name": "nickname", "op": "eq", "value": text}
    segment = _created(
        client.post("/api/segments", json={"name": text, "definition": rule}, headers=h)
    )
    assert _get(client, keys, f"/api/segments/{segment['id']}")["name"] == text
    journey = _created(client.post("/api/journeys", json={**WELCOME, "name": text}, headers=h))
    assert _get(client, keys, f"/api/journeys/{journey['id']}")["name"] == text
    entry = _created(
        client.post("/api/assistant/entries", headers=h, json={"question": text, "answer": text})
    )
    shown = _get(client, keys, f"/api/assistant/entries/{entry['id']}")
    assert (shown["question"], shown["answer"]) == (text, text)
    pid = person["person_id"]
    note = _created(client.post(f"/api/persons/{pid}/notes", json={"text": text}, headers=h))
    assert note["text"] == text
    item = _created(
        client.post(
            "/api/loyalty/mall/items",
            headers=h,
            json={"name": text, "price_points": 10, "stock": 1},
        )
    )
    assert item["name"] == text
    coupon = {"name": text, "kind": "amount_off", "amount_off_fen": 100, "valid_days": 7}
    assert _created(client.post("/api/coupons/templates", json=coupon, headers=h))["name"] == text

    # Nothing else happened: every table the strings name is still there and whole.
    assert person_of(client, keys, "member_id", "M1")["person_id"] == pid
    assert [s["name"] for s in _get(client, keys, "/api/segments")] == [text]
    assert len(_get(client, keys, "/api/tags")) == 1
    assert _get(client, keys, f"/api/persons/{pid}/notes")[0]["text"] == text


def test_segment_rule_values_select_exactly_their_literal(
    client: TestClient, keys: WorkspaceCreated
) -> None:
    h = admin(keys)
    batch = [
        {
            "type": "identify",
            "messageId": f"i{i}",
            "userId": f"u{i}",
            "traits": {"member_id": f"M{i}", "nickname": text, text: "key"},
        }
        for i, text in enumerate(HOSTILE)
    ]
    batch.append(
        {
            "type": "identify",
            "messageId": "plain",
            "userId": "plain",
            "traits": {"member_id": "plain", "nickname": "plain"},
        }
    )
    send(client, keys, batch)
    ids = {
        text: person_of(client, keys, "member_id", f"M{i}")["person_id"]
        for i, text in enumerate(HOSTILE)
    }
    for text, pid in ids.items():
        for rule in (
            {"type": "trait", "name": "nickname", "op": "eq", "value": text},
            {"type": "trait", "name": "nickname", "op": "in", "value": [text, "absent"]},
            {"type": "trait", "name": text, "op": "eq", "value": "key"},  # the trait NAME
            {"type": "trait", "name": text, "op": "exists"},
        ):
            preview = client.post("/api/segments/preview", json={"definition": rule}, headers=h)
            assert preview.status_code == 200, (rule, preview.text)
            assert (preview.json()["count"], preview.json()["sample"]) == (1, [pid]), rule
    contains = {"type": "trait", "name": "nickname", "op": "contains", "value": "'"}
    quoted = {ids[t] for t in HOSTILE if "'" in t}
    answer = client.post("/api/segments/preview", json={"definition": contains}, headers=h)
    assert answer.json()["count"] == len(quoted)
    assert len(ids) == len(HOSTILE)
    everyone = {"type": "trait", "name": "member_id", "op": "exists"}
    assert (
        client.post("/api/segments/preview", json={"definition": everyone}, headers=h).json()[
            "count"
        ]
        == len(HOSTILE) + 1
    )


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ({"type": "trait", "name": "city", "op": "eq; DROP TABLE persons", "value": "x"}, "op"),
        ({"type": "trait", "name": "city", "op": "==", "value": "x"}, "op"),
        ({"type": "computed", "name": "1=1; --", "op": "gte", "value": 1}, "name"),
        (
            {"type": "computed", "name": "total_spend_fen", "op": "gte", "value": "1 OR 1=1"},
            "value",
        ),
        ({"type": "sql", "where": "1=1"}, "definition|rule"),  # the node itself
        ({"type": "trait", "name": "", "op": "eq", "value": "x"}, "name"),
        ({"type": "trait", "name": "city", "op": "gt", "value": True}, "trait|value"),
    ],
)
def test_unknown_fields_and_operators_are_refused_naming_the_field(
    client: TestClient, keys: WorkspaceCreated, rule: dict[str, Any], field: str
) -> None:
    for url, body in (
        ("/api/segments/preview", {"definition": rule}),
        ("/api/segments", {"name": "x", "definition": rule}),
        ("/api/tags", {"group": "g", "name": "t", "rule": rule}),
    ):
        if url == "/api/tags":
            client.post("/api/tags/groups", json={"name": "g", "kind": "rule"}, headers=admin(keys))
        answer = client.post(url, json=body, headers=admin(keys))
        assert answer.status_code in (400, 422), (url, rule, answer.text)
        error = answer.json()["error"]
        named = [error["field"], *(e["field"] for e in error.get("errors", []))]
        last = {str(f).split(".")[-1] for f in named}
        assert last & set(field.split("|")), (url, error)
    assert client.get("/api/segments", headers=admin(keys)).json() == []

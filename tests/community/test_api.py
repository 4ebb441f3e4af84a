"""``/api/groups`` over HTTP against the fake WeCom server (SQLite and PostgreSQL): sync,
tags, a group live code with keyed scans, an SOP, moderation to a spammer's removal tasks,
health; bad input answers 4xx naming the field."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from siyu.api.app import create_app
from siyu.core.clock import utcnow
from tests.community.conftest import Brand


@pytest.fixture
def api(brand: Brand) -> Iterator[tuple[TestClient, dict[str, str]]]:
    with TestClient(create_app(brand.runtime, flush_in_background=False)) as client:
        yield client, {"Authorization": f"Bearer {brand.secret_key}"}


def test_groups_api(brand: Brand, api: tuple[TestClient, dict[str, str]]) -> None:
    client, h = api
    synced = client.post("/api/groups/sync", headers=h)
    assert synced.status_code == 200, synced.text
    assert synced.json()["groups"] == 3
    names = [g["name"] for g in client.get("/api/groups", headers=h).json()]
    assert sorted(names) == sorted(["宝妈1群", "宝妈2群", "会员群"])
    tagged = client.put("/api/groups/chats/wrG3/tags", json={"tags": ["VIP"]}, headers=h)
    assert tagged.json()["tags"] == ["VIP"]
    assert [g["chat_id"] for g in client.get("/api/groups?tag=VIP", headers=h).json()] == ["wrG3"]
    detail = client.get("/api/groups/chats/wrG1", headers=h).json()
    assert {m["member_id"] for m in detail["member_list"]} == {"zhangsan", "wmA", "wmB", "wmC"}
    assert client.get("/api/groups/chats/nope", headers=h).status_code == 404

    body = {
        "name": "码",
        "state": "s1",
        "chat_ids": ["wrG2"],
        "owner_userid": "zhangsan",
        "cap": 3,
        "room_base_name": "新群",
    }
    code = client.post("/api/groups/live-codes", json=body, headers=h)
    assert code.status_code == 201, code.text
    code_id = code.json()["id"]
    again = client.post("/api/groups/live-codes", json=body, headers=h)
    assert (again.status_code, again.json()["error"]["field"]) == (409, "state")
    unknown = client.post(
        "/api/groups/live-codes", json={**body, "state": "s2", "chat_ids": ["wrX"]}, headers=h
    )
    assert (unknown.status_code, unknown.json()["error"]["field"]) == (400, "chat_ids")
    scan_path = f"/api/groups/live-codes/{code_id}/scans"
    first = client.post(
        scan_path, json={"identifier": "wmQ"}, headers={**h, "Idempotency-Key": "q1"}
    )
    retry = client.post(
        scan_path, json={"identifier": "wmQ"}, headers={**h, "Idempotency-Key": "q1"}
    )
    assert first.status_code == 201 and retry.json()["id"] == first.json()["id"]
    assert first.json()["chat_id"] == "wrG2"
    second = client.post(scan_path, json={"identifier": "wmR"}, headers=h).json()
    assert second["chat_id"].startswith("pending:")  # 宝妈2群 holds 3 now: a new group
    stats = client.get(f"/api/groups/live-codes/{code_id}/stats", headers=h).json()
    assert stats["scans"] == 2
    bad = client.post(scan_path, json={"identifier_type": "nope", "identifier": "x"}, headers=h)
    assert bad.status_code in (400, 422) and "identifier_type" in bad.text

    when = (utcnow() + timedelta(hours=1)).isoformat()
    sop = client.post(
        "/api/groups/sops",
        headers=h,
        json={
            "name": "早安",
            "text": "早安",
            "tag": "VIP",
            "schedule": {"every": "once", "at": when},
        },
    )
    assert sop.status_code == 201, sop.text
    no_target = client.post(
        "/api/groups/sops",
        headers=h,
        json={"name": "x", "text": "x", "schedule": {"every": "day", "time": "09:00"}},
    )
    assert no_target.status_code == 422
    assert client.post("/api/groups/sops/run", headers=h).json() == []  # not due yet

    spam = "加我微信领红包 http://spam.example"
    for i, chat in enumerate(["wrG1", "wrG3"]):
        verdict = client.post(
            f"/api/groups/chats/{chat}/messages",
            headers=h,
            json={"msg_id": f"s{i}", "sender": "wmA", "content": spam, "at": utcnow().isoformat()},
        )
        assert verdict.status_code == 200, verdict.text
    assert verdict.json()["spammer"] is True and "link" in verdict.json()["reasons"]
    spammers = client.get("/api/groups/spammers", headers=h).json()
    assert [s["member_id"] for s in spammers] == ["wmA"]
    tasks = client.get("/api/groups/tasks?kind=remove_member", headers=h).json()
    assert {(t["chat_id"], t["owner_userid"]) for t in tasks} == {
        ("wrG1", "zhangsan"),
        ("wrG3", "lisi"),
    }
    done = client.post(f"/api/groups/tasks/{tasks[0]['id']}/done", headers=h).json()
    assert done["status"] == "done"

    health = client.get("/api/groups/health", headers=h).json()
    g1 = next(g for g in health["groups"] if g["key"] == "wrG1")
    assert (g1["messages"], g1["active_speakers"], g1["members"]) == (1, 1, 4)
    backwards = client.get(
        "/api/groups/health?since=2026-11-02T00:00:00Z&until=2026-11-01T00:00:00Z", headers=h
    )
    assert (backwards.status_code, backwards.json()["error"]["field"]) == (400, "until")
    settings = client.put(
        "/api/groups/settings", headers=h, json={"welcome_text": "欢迎入群", "dormant_days": 3}
    )
    assert settings.status_code == 200, settings.text
    assert settings.json()["welcome_template_id"]
    assert brand.wecom.calls("/cgi-bin/externalcontact/group_welcome_template/add")

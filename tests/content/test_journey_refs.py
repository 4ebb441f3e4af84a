"""A journey naming content is checked against the library when it is saved and launched
(SQLite and PostgreSQL): a missing item, an archived one or a missing variant is a 4xx naming
the node's field; a draft item may be saved but not launched."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from siyu.workspaces.models import WorkspaceCreated
from tests.api.test_identity import admin
from tests.content.test_api import LINK_ITEM, make


def _definition(content_id: str, channel: str = "sms", name: str = "推送") -> dict[str, Any]:
    return {
        "name": name,
        "trigger": {"type": "event", "spec": {"event": "Signed Up"}},
        "start": "wait",
        "nodes": [
            {"type": "wait", "id": "wait", "duration": "PT1H", "next": "push"},
            {"type": "action", "id": "push", "next": "end", "action": {
                "type": "send_message", "channel": channel, "template": "content",
                "content_id": content_id}},
            {"type": "exit", "id": "end"},
        ],
    }  # fmt: skip


def _error(answer: Any) -> tuple[int, str]:
    return answer.status_code, answer.json()["error"]["field"]


def test_missing_archived_and_variantless_content_is_refused_at_save(
    client: TestClient, keys: WorkspaceCreated
) -> None:
    h = admin(keys)

    def create(definition: dict[str, Any]) -> Any:
        return client.post("/api/journeys", content=json.dumps(definition), headers=h)

    missing = create(_definition("ct_missing"))
    assert _error(missing) == (400, "nodes.1.action.content_id")
    assert "ct_missing" in missing.json()["error"]["message"]
    item = make(client, keys, LINK_ITEM)  # variants: wecom and sms
    no_variant = create(_definition(item["id"], channel="email"))
    assert _error(no_variant) == (400, "nodes.1.action.content_variant")
    made = create(_definition(item["id"]))
    assert made.status_code == 201, made.text
    jid = made.json()["id"]
    archived = client.patch(
        f"/api/content/items/{item['id']}?version=1", json={"status": "archived"}, headers=h
    )
    assert archived.status_code == 200, archived.text
    assert _error(create(_definition(item["id"], name="再推"))) == (
        409,
        "nodes.1.action.content_id",
    )
    version = client.post(
        f"/api/journeys/{jid}/versions", content=json.dumps(_definition(item["id"])), headers=h
    )
    assert _error(version) == (409, "nodes.1.action.content_id")
    assert _error(client.post(f"/api/journeys/{jid}/activate", headers=h)) == (
        409,
        "nodes.1.action.content_id",
    )
    assert client.get(f"/api/journeys/{jid}", headers=h).json()["status"] == "draft"
    assert [j["id"] for j in client.get("/api/journeys", headers=h).json()] == [jid]


def test_a_draft_item_is_saved_but_not_launched(client: TestClient, keys: WorkspaceCreated) -> None:
    h = admin(keys)
    draft = make(client, keys, {**LINK_ITEM, "status": "draft"})
    made = client.post("/api/journeys", content=json.dumps(_definition(draft["id"])), headers=h)
    assert made.status_code == 201, made.text
    jid = made.json()["id"]
    refused = client.post(f"/api/journeys/{jid}/activate", headers=h)
    assert _error(refused) == (409, "nodes.1.action.content_id")
    assert "draft" in refused.json()["error"]["message"]
    published = client.patch(
        f"/api/content/items/{draft['id']}?version=1", json={"status": "published"}, headers=h
    )
    assert published.status_code == 200, published.text
    launched = client.post(f"/api/journeys/{jid}/activate", headers=h)
    assert launched.status_code == 200, launched.text
    assert launched.json()["status"] == "active"

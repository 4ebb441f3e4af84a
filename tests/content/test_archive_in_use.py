"""An item a live (active or paused) journey sends cannot be archived, taken back to draft
or lose the variant the send uses: 409 naming the journeys, nothing saved; once the journey
is archived the item can be (SQLite and PostgreSQL, over HTTP and the console's call)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from siyu.console.pages import content_load as load
from siyu.core.clock import utcnow
from siyu.core.errors import ConflictError
from siyu.core.runtime import Runtime
from siyu.workspaces.models import WorkspaceCreated
from tests.api.test_identity import admin
from tests.content.test_api import LINK_ITEM, make
from tests.content.test_journey_refs import _definition


def test_an_item_a_live_journey_sends_is_not_archived(
    client: TestClient, keys: WorkspaceCreated
) -> None:
    h = admin(keys)
    item = make(client, keys, LINK_ITEM)  # variants: wecom and sms
    other = make(client, keys, LINK_ITEM)
    made = client.post("/api/journeys", content=json.dumps(_definition(item["id"])), headers=h)
    assert made.status_code == 201, made.text
    jid = made.json()["id"]
    url = f"/api/content/items/{item['id']}"

    def patch(body: dict[str, Any]) -> Any:
        return client.patch(url, json=body, headers=h)

    # A draft journey does not send yet: its item may be edited (and unarchived again).
    assert patch({"title": "双12 主会场"}).status_code == 200
    assert client.post(f"/api/journeys/{jid}/activate", headers=h).status_code == 200
    for journey_status in ("active", "paused"):
        refused = patch({"status": "archived"})
        assert refused.status_code == 409, refused.text
        error = refused.json()["error"]
        assert error["field"] == "status"
        assert jid in error["message"] and "推送" in error["message"]
        assert journey_status in error["message"]
        assert patch({"status": "draft"}).status_code == 409
        # Dropping the sms variant the send uses is refused too; the wecom one may go.
        wecom_only = [v for v in item["variants"] if v["channel"] == "wecom"]
        sms_only = [v for v in item["variants"] if v["channel"] == "sms"]
        dropped = client.put(f"{url}/variants", json=wecom_only, headers=h)
        assert (dropped.status_code, dropped.json()["error"]["field"]) == (409, "variants")
        kept = client.put(f"{url}/variants", json=sms_only, headers=h)
        assert kept.status_code == 200, kept.text
        client.put(f"{url}/variants", json=item["variants"], headers=h)
        # Other edits go through; an item no journey sends archives.
        assert patch({"title": f"双12 {journey_status}"}).status_code == 200
        assert client.get(url, headers=h).json()["status"] == "published"
        if journey_status == "active":
            assert client.post(f"/api/journeys/{jid}/pause", headers=h).status_code == 200
    archived_other = client.patch(
        f"/api/content/items/{other['id']}", json={"status": "archived"}, headers=h
    )
    assert archived_other.status_code == 200
    # Nothing of the refused edits was saved: the versions are the accepted edits only.
    versions = client.get(f"{url}/versions", headers=h).json()
    assert len(versions) == 1 + 1 + 2 * 3  # made, title, per state: sms only, restore, title
    # Once the journey is archived, the item can be.
    assert client.post(f"/api/journeys/{jid}/archive", headers=h).status_code == 200
    assert patch({"status": "archived"}).status_code == 200


def test_the_console_archive_is_refused_the_same_way(
    client: TestClient, keys: WorkspaceCreated, runtime: Runtime
) -> None:
    h = admin(keys)
    item = make(client, keys, LINK_ITEM)
    made = client.post("/api/journeys", content=json.dumps(_definition(item["id"])), headers=h)
    jid = made.json()["id"]
    assert client.post(f"/api/journeys/{jid}/activate", headers=h).status_code == 200
    with pytest.raises(ConflictError) as refused:
        load.archive(runtime=runtime, workspace_id=keys.workspace_id, content_id=item["id"],
                     version=item["version"], by="u1", now=utcnow())  # fmt: skip
    assert jid in str(refused.value) and refused.value.field == "status"
    assert client.get(f"/api/content/items/{item['id']}", headers=h).json()["version"] == 1

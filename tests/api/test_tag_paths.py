"""A tag named ``group/name`` in the path: every /api/tags/{tag}… route takes it."""

from __future__ import annotations

from fastapi.testclient import TestClient

from siyu.workspaces.models import WorkspaceCreated
from tests.api.test_identity import admin
from tests.api.test_segments import customers


def test_group_slash_name_in_the_path(client: TestClient, keys: WorkspaceCreated) -> None:
    p = customers(client, keys)
    h = admin(keys)
    client.post("/api/tags/groups", json={"name": "兴趣"}, headers=h)
    tea = client.post("/api/tags", json={"group": "兴趣", "name": "茶"}, headers=h).json()

    assert client.get("/api/tags/兴趣/茶", headers=h).json()["id"] == tea["id"]
    imported = client.post(
        "/api/tags/兴趣/茶/import",
        content=b"type,value\nmember_id,M3\n",
        headers={**h, "content-type": "text/csv"},
    )
    assert imported.status_code == 200 and imported.json()["gained"] == 1
    tagged = client.post(f"/api/persons/{p['M2']}/tags", json={"tag": "兴趣/茶"}, headers=h)
    assert tagged.json() == {"gained": 1, "lost": 0}
    assert client.get("/api/tags/兴趣/茶/persons", headers=h).json() == sorted([p["M2"], p["M3"]])
    untagged = client.delete(f"/api/persons/{p['M2']}/tags/兴趣/茶", headers=h)
    assert untagged.json() == {"gained": 0, "lost": 1}
    renamed = client.patch("/api/tags/兴趣/茶", json={"name": "乌龙"}, headers=h)
    assert renamed.status_code == 200 and renamed.json()["name"] == "乌龙"
    assert client.get("/api/tags/兴趣/茶", headers=h).status_code == 404
    assert client.delete("/api/tags/兴趣/乌龙", headers=h).json() == {"gained": 0, "lost": 1}
    assert client.get(f"/api/tags/{tea['id']}", headers=h).status_code == 404

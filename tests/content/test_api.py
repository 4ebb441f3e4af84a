"""The content API on SQLite and PostgreSQL: items and variants with field-named errors, links
per sharer, the poster QR, the public redirect (click recorded, cookie kept, no open redirect),
the landing page's share, quick replies and the permission each route needs."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from siyu import pipeline
from siyu.accounts.permissions import Role
from siyu.content.performance import CLICKED, SHARED, VIEWED
from siyu.core.runtime import Runtime
from siyu.pipeline import content_visits
from siyu.referral import codes
from siyu.workspaces.models import WorkspaceCreated
from tests.accounts.cheap_argon2 import cheap_argon2  # noqa: F401  (autouse)
from tests.api.access_support import add_user, sign_in
from tests.api.test_identity import admin

APPID = "wx0123456789abcdef"
LINK_ITEM = {
    "kind": "link",
    "title": "双12 会场",
    "url": "https://shop.example.cn/d12?from=siyu",
    "tags": ["大促"],
    "status": "published",
    "variants": [
        {"channel": "wecom", "text": "双12 会场开了"},
        {"channel": "sms", "text": "【山茶集】双12 会场开了"},
    ],
}
ARTICLE = {
    "kind": "article",
    "title": "<b>精华</b>怎么用",
    "body": "早晚各一次\n<script>x</script>",
    "status": "published",
    "variants": [{"channel": "wecom", "text": "使用方法"}],
}


def make(client: TestClient, keys: WorkspaceCreated, item: dict[str, Any]) -> dict[str, Any]:
    made = client.post("/api/content/items", json=item, headers=admin(keys))
    assert made.status_code == 201, made.text
    body: dict[str, Any] = made.json()
    return body


def _events(runtime: Runtime, workspace_id: str) -> list[tuple[str, str]]:
    table = runtime.events.query(workspace_id, "SELECT event, properties FROM events")
    return sorted((r["event"], r["properties"]) for r in table.to_pylist())


def test_items_variants_and_field_errors(client: TestClient, keys: WorkspaceCreated) -> None:
    h = admin(keys)
    item = make(client, keys, LINK_ITEM)
    assert (item["version"], item["status"], item["updated_by"]) == (
        1,
        "published",
        "workspace_key",
    )
    bad_sms = {**LINK_ITEM, "variants": [{"channel": "sms", "text": "长" * 600}]}
    refused = client.post("/api/content/items", json=bad_sms, headers=h)
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "variants.0.sms.text"
    no_url = client.post("/api/content/items", json={**LINK_ITEM, "url": None}, headers=h)
    assert (no_url.status_code, no_url.json()["error"]["field"]) == (400, "url")
    card = {"channel": "miniprogram", "appid": APPID, "title": "会场"}
    no_page = client.put(f"/api/content/items/{item['id']}/variants", json=[card], headers=h)
    assert (no_page.status_code, no_page.json()["error"]["field"]) == (422, "0.miniprogram.page")
    put = client.put(
        f"/api/content/items/{item['id']}/variants", headers=h, json=[{**card, "page": "pages/d12"}]
    )
    assert put.status_code == 200, put.text
    assert [v["channel"] for v in put.json()["variants"]] == ["miniprogram"]
    stale = client.patch(
        f"/api/content/items/{item['id']}", params={"version": 1}, json={"title": "x"}, headers=h
    )
    assert (stale.status_code, stale.json()["error"]["field"]) == (409, "version")
    versions = client.get(f"/api/content/items/{item['id']}/versions", headers=h).json()
    assert [v["version"] for v in versions] == [2, 1]
    listed = client.get("/api/content/items", params={"tag": "大促"}, headers=h).json()
    assert [i["id"] for i in listed] == [item["id"]]
    assert client.get("/api/content/items/ct_nope", headers=h).status_code == 404


def test_the_tracked_link_records_the_click_and_redirects_only_to_the_item(
    client: TestClient, keys: WorkspaceCreated, runtime: Runtime
) -> None:
    h = admin(keys)
    item = make(client, keys, LINK_ITEM)
    link = client.post(
        f"/api/content/items/{item['id']}/links",
        headers=h,
        json={"channel": "wecom", "sharer_id": "p_alice"},
    ).json()
    again = client.post(
        f"/api/content/items/{item['id']}/links",
        headers=h,
        json={"channel": "wecom", "sharer_id": "p_alice"},
    ).json()
    assert again == link and link["url"].endswith(f"/c/{link['code']}")
    path = f"/c/{link['code']}"
    opened = client.get(path, params={"next": "https://evil.example"}, follow_redirects=False)
    assert opened.status_code == 302
    assert opened.headers["location"] == LINK_ITEM["url"]  # the item's own URL, nothing else
    aid = opened.cookies[content_visits.ANONYMOUS_COOKIE]
    client.cookies.set(content_visits.ANONYMOUS_COOKIE, aid)
    second = client.get(path, follow_redirects=False)
    assert second.cookies.get(content_visits.ANONYMOUS_COOKIE) == aid  # kept, not replaced
    assert client.get("/c/NOPE", follow_redirects=False).status_code == 404
    client.cookies.clear()
    client.post("/api/content/items/" + item["id"] + "/links", json={}, headers=h)
    pipeline.flush(runtime=runtime)
    events = _events(runtime, keys.workspace_id)
    assert [e for e, _ in events] == [CLICKED, CLICKED]
    assert '"sharer_id":"p_alice"' in events[0][1].replace(" ", "")
    archived = client.patch(
        f"/api/content/items/{item['id']}", json={"status": "archived"}, headers=h
    )
    assert archived.status_code == 200
    assert client.get(path, follow_redirects=False).status_code == 404


def test_landing_page_and_share_grow_the_chain(
    client: TestClient, keys: WorkspaceCreated, runtime: Runtime
) -> None:
    h = admin(keys)
    item = make(client, keys, ARTICLE)
    brand = client.post(f"/api/content/items/{item['id']}/links", json={}, headers=h).json()
    refused = client.post(f"/c/{brand['code']}/share")
    assert (refused.status_code, refused.json()["error"]["field"]) == (404, "anonymous_id")
    page = client.get(f"/c/{brand['code']}")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "&lt;b&gt;精华&lt;/b&gt;" in page.text and "<script>x" not in page.text
    client.cookies.set(content_visits.ANONYMOUS_COOKIE, page.cookies["siyu_aid"])
    shared = client.post(f"/c/{brand['code']}/share")
    assert shared.status_code == 200, shared.text
    mine = shared.json()
    assert (mine["parent_code"], mine["depth"]) == (brand["code"], 1)
    assert mine["sharer_id"] is not None
    client.cookies.clear()
    client.get(f"/c/{mine['code']}")  # a friend opens the visitor's link
    tree = client.get(f"/api/content/items/{item['id']}/links", headers=h).json()
    assert [(k["depth"], k["parent_code"]) for k in tree] == [(0, None), (1, brand["code"])]
    pipeline.flush(runtime=runtime)
    names = [e for e, _ in _events(runtime, keys.workspace_id)]
    assert sorted(names) == sorted([CLICKED, VIEWED, SHARED, CLICKED, VIEWED])
    report = client.get("/api/content/performance", headers=h).json()
    (row,) = report["items"]
    assert (row["clicks"], row["views"], row["shares"], row["links"], row["max_depth"]) == (
        2,
        2,
        1,
        2,
        1,
    )
    assert row["new_contacts"] == 2  # the visitor and the friend were first seen through it
    (sharer,) = report["sharers"]
    assert (sharer["sharer_id"], sharer["clicks"], sharer["shares"]) == (mine["sharer_id"], 1, 1)


def test_poster_is_the_sharers_link_as_a_qr(client: TestClient, keys: WorkspaceCreated) -> None:
    h = admin(keys)
    item = make(client, keys, {**ARTICLE, "kind": "poster", "media_path": "https://cdn/x.png"})
    png = client.get(
        f"/api/content/items/{item['id']}/poster.png",
        params={"sharer_id": "p_kol", "scale": 4},
        headers=h,
    )
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    links = client.get(f"/api/content/items/{item['id']}/links", headers=h).json()
    assert [(k["channel"], k["sharer_id"]) for k in links] == [("poster", "p_kol")]
    assert png.content == codes.qr_png(links[0]["url"], 4)


def test_quick_replies_and_permissions(
    client: TestClient, keys: WorkspaceCreated, runtime: Runtime
) -> None:
    make(client, keys, LINK_ITEM)
    make(client, keys, {**ARTICLE, "status": "draft"})
    replies = client.get(
        "/api/content/quick-replies", params={"channel": "sms", "q": "双12"}, headers=admin(keys)
    ).json()
    assert [(r["title"], r["text"]) for r in replies] == [("双12 会场", "【山茶集】双12 会场开了")]
    add_user(runtime, keys.workspace_id, "ro@brand.cn", Role.read_only)
    ro = sign_in(client, "ro@brand.cn")
    assert client.get("/api/content/items", headers=ro).status_code == 200
    assert client.post("/api/content/items", json=LINK_ITEM, headers=ro).status_code == 403
    assert client.get("/api/content/items").status_code == 401

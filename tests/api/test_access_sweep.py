"""Every route of the app against the access table: declared, refused without a credential,
refused to another workspace, refused to a role without the permission (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from siyu.accounts.permissions import PERMISSIONS, Role, allows
from siyu.core.clock import utcnow
from siyu.core.runtime import Runtime
from siyu.workspaces import service as workspaces
from siyu.workspaces.models import WorkspaceCreated
from tests.accounts.cheap_argon2 import cheap_argon2  # noqa: F401  (autouse)
from tests.api.access_support import (
    PUBLIC,
    RouteInfo,
    add_user,
    fill,
    management_routes,
    routes,
    sign_in,
)
from tests.api.test_identity import admin, person_of, send
from tests.api.test_journeys import WELCOME

MARK = "AMARK"  # in every text of workspace A: it must never show up in B's answers

# The one route that answers 2xx when B names one of A's ids: it lists B's own points
# entries for that person id, which are none (checked: nothing of A in the answer).
FOREIGN_ID_ANSWERS_EMPTY = [("GET", "/api/loyalty/members/{person_id}/points/entries")]


def _app(client: TestClient) -> FastAPI:
    app: FastAPI = client.app  # type: ignore[assignment]
    return app


def _call(
    client: TestClient, route: RouteInfo, path: str, headers: dict[str, str]
) -> httpx.Response:
    body: dict[str, Any] | None = None if route.method in {"GET", "DELETE"} else {}
    response: httpx.Response = client.request(route.method, path, json=body, headers=headers)
    return response


def _workspace_a(client: TestClient, runtime: Runtime, keys: WorkspaceCreated) -> dict[str, str]:
    """Workspace A with one of most things, every text marked; the ids by path parameter."""
    h = admin(keys)
    traits = {"member_id": f"{MARK}M", "city": f"{MARK}城", "email": "amark@a.cn"}
    identify = {"type": "identify", "messageId": "a1", "userId": "ua", "traits": traits}
    send(client, keys, [identify])
    person_id = person_of(client, keys, "member_id", f"{MARK}M")["person_id"]
    definition = {"type": "trait", "name": "city", "op": "eq", "value": f"{MARK}城"}
    segment = client.post(
        "/api/segments", json={"name": f"{MARK}S", "definition": definition}, headers=h
    )
    client.post(f"/api/segments/{segment.json()['id']}/refresh", headers=h)
    client.post("/api/tags/groups", json={"name": f"{MARK}G"}, headers=h)
    client.post("/api/tags", json={"group": f"{MARK}G", "name": f"{MARK}T"}, headers=h)
    note = client.post(f"/api/persons/{person_id}/notes", json={"text": f"{MARK}N"}, headers=h)
    spec = {"name": f"{MARK}C", "kind": "percent_off", "percent_off": 20, "cap_fen": 3000,
            "valid_days": 7, "per_person_limit": 1, "stock": 5}  # fmt: skip
    template = client.post("/api/coupons/templates", json=spec, headers=h)
    journey = client.post(
        "/api/journeys", content=json.dumps({**WELCOME, "name": f"{MARK}J"}), headers=h
    )
    key = client.post("/api/keys", json={"kind": "secret", "name": f"{MARK}K"}, headers=h)
    add_user(runtime, keys.workspace_id, "amark-owner@a.cn", Role.owner)
    users = client.get("/api/users", headers=h).json()
    for made in (segment, note, template, journey, key):
        assert made.status_code == 201, made.text
    return {
        "person_id": person_id,
        "invitee_id": person_id,
        "segment_id": segment.json()["id"],
        "group": f"{MARK}G",
        "tag": f"{MARK}G/{MARK}T",
        "note_id": note.json()["id"],
        "template_id": template.json()["id"],
        "journey_id": journey.json()["id"],
        "key_id": key.json()["api_key"]["id"],
        "user_id": users[0]["user_id"],
    }


def _leaks(response: httpx.Response, path: str, ids: dict[str, str]) -> list[str]:
    if not response.is_success:
        return []
    text = response.text
    found = [MARK] if MARK.lower() in text.lower() else []
    # An id named in the path may be echoed back; any other id of A may not appear.
    return found + [name for name, value in ids.items() if value in text and value not in path]


# The route listing, the missing-credential sweep and the read_only sweep test the permission
# layer, the same on both stores: their PostgreSQL runs are in the slow set. The cross-workspace
# sweep and the role matrix, which read and write the store, run on both in the fast set.
SQLITE_FAST = pytest.mark.parametrize(
    "runtime",
    ["sqlite", pytest.param("postgresql", marks=[pytest.mark.postgres, pytest.mark.slow])],
    indirect=True,
)


@SQLITE_FAST
def test_every_route_is_public_on_purpose_or_declares_a_known_permission(
    client: TestClient,
) -> None:
    found = routes(_app(client))
    assert len(found) > 150
    for route in management_routes(_app(client)):
        assert route.path.startswith("/api/"), route
        assert route.permission in PERMISSIONS, f"{route.method} {route.path} declares no Require"
    used = {r.permission for r in found}
    assert used >= {"users:write", "keys:write", "segments:write", "loyalty:write"}
    assert len(PUBLIC) == 9  # each with its reason, mirrored in docs/access.md


@SQLITE_FAST
def test_every_management_route_refuses_a_missing_or_unknown_credential(
    client: TestClient, keys: WorkspaceCreated
) -> None:
    wrong: list[tuple[str, str, object, int]] = []
    for route in management_routes(_app(client)):
        path = fill(route.path, {})
        for headers in ({}, {"Authorization": "Bearer ss_gone"}):
            status = _call(client, route, path, headers).status_code
            if status != 401:
                wrong.append((route.method, route.path, headers, status))
        # The write key is no management credential.
        status = _call(
            client, route, path, {"Authorization": f"Bearer {keys.write_key}"}
        ).status_code
        if status != 401:
            wrong.append((route.method, route.path, "write key", status))
    assert wrong == []


# The secret-key variant is the same check through the other credential (slow: both runs
# call every route as an owner of B).
@pytest.mark.parametrize(
    "credential", ["session", pytest.param("secret_key", marks=pytest.mark.slow)]
)
def test_another_workspace_never_sees_or_changes_this_one(
    client: TestClient, runtime: Runtime, keys: WorkspaceCreated, credential: str
) -> None:
    ids = _workspace_a(client, runtime, keys)
    with runtime.sessions() as session, session.begin():
        other = workspaces.create_workspace(session=session, name="B", now=utcnow())
    add_user(runtime, other.workspace_id, "owner@b.cn", Role.owner)
    b = sign_in(client, "owner@b.cn") if credential == "session" else admin(other)
    leaks, served = [], []
    for route in management_routes(_app(client)):
        path = fill(route.path, ids)
        response = _call(client, route, path, b)
        assert response.status_code < 500, (route, response.text)
        if found := _leaks(response, path, ids):
            leaks.append((route.method, route.path, found))
        names_a = any(value in path for value in ids.values())
        if response.is_success and names_a:
            served.append((route.method, route.path))
    assert leaks == []
    # No write naming one of A's objects succeeded for B...
    assert served == FOREIGN_ID_ANSWERS_EMPTY
    # ...and A's objects are all still there, unchanged.
    h = admin(keys)
    for check in (
        f"/api/segments/{ids['segment_id']}",
        f"/api/journeys/{ids['journey_id']}",
        f"/api/coupons/templates/{ids['template_id']}",
        f"/api/tags/{ids['tag']}",
    ):
        assert MARK in client.get(check, headers=h).text, check
    assert [
        n["text"] for n in client.get(f"/api/persons/{ids['person_id']}/notes", headers=h).json()
    ] == [f"{MARK}N"]
    assert len(client.get("/api/users", headers=h).json()) == 1
    assert [k["revoked_at"] for k in client.get("/api/keys", headers=h).json()] == [None, None]
    members = client.get(f"/api/segments/{ids['segment_id']}/members", headers=h).json()
    assert ids["person_id"] in json.dumps(members)


@SQLITE_FAST
def test_read_only_is_refused_every_write_and_no_read(
    client: TestClient, runtime: Runtime, keys: WorkspaceCreated
) -> None:
    ids = _workspace_a(client, runtime, keys)
    add_user(runtime, keys.workspace_id, "viewer@a.cn", Role.read_only)
    viewer = sign_in(client, "viewer@a.cn")
    wrong = []
    for route in management_routes(_app(client)):
        assert route.permission is not None
        response = _call(client, route, fill(route.path, ids), viewer)
        refused = response.status_code == 403
        if refused == allows(Role.read_only, route.permission) or response.status_code == 401:
            wrong.append((route.method, route.path, route.permission, response.status_code))
    assert wrong == []


def _representatives(app: FastAPI) -> dict[str, RouteInfo]:
    # One route per permission; a route naming an object first (a missing one answers 404
    # fast once the permission passes).
    chosen: dict[str, RouteInfo] = {}
    for route in sorted(management_routes(app), key=lambda r: ("{" not in r.path, r.path)):
        assert route.permission is not None
        chosen.setdefault(route.permission, route)
    return chosen


@pytest.mark.parametrize("role", list(Role))
def test_each_role_gets_exactly_its_permissions(
    client: TestClient, runtime: Runtime, keys: WorkspaceCreated, role: Role
) -> None:
    add_user(runtime, keys.workspace_id, "someone@a.cn", role)
    auth = sign_in(client, "someone@a.cn")
    chosen = _representatives(_app(client))
    assert set(chosen) >= set(PERMISSIONS) - {"persons:pii", "persons:export", "persons:erase"}
    got: dict[str, bool] = {}
    for permission, route in chosen.items():
        response: Any = _call(client, route, fill(route.path, {}), auth)
        assert response.status_code != 401, (route, response.text)
        got[permission] = response.status_code != 403
    assert got == {p: allows(role, p) for p in chosen}

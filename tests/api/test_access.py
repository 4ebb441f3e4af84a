"""Sign-in, users and API keys over the management API (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from siyu.accounts.permissions import Role, markdown_table
from siyu.core.runtime import Runtime
from siyu.workspaces.models import WorkspaceCreated
from tests.accounts.cheap_argon2 import cheap_argon2  # noqa: F401  (autouse)
from tests.api.access_support import PASSWORD, add_user, sign_in
from tests.api.test_identity import admin

DOC = Path(__file__).resolve().parents[2] / "docs" / "access.md"


def test_the_doc_table_is_the_code_table() -> None:
    text = DOC.read_text()
    start = text.index("<!-- access-table:start -->\n") + len("<!-- access-table:start -->\n")
    end = text.index("<!-- access-table:end -->")
    assert text[start:end] == markdown_table(), "regenerate: siyu users permissions > table"


def test_login_me_logout(client: TestClient, runtime: Runtime, keys: WorkspaceCreated) -> None:
    add_user(runtime, keys.workspace_id, "ana@brand.cn", Role.analyst)
    auth = sign_in(client, "ANA@brand.cn")
    me = client.get("/api/auth/me", headers=auth).json()
    assert (me["role"], me["workspace"]["id"], me["kind"]) == (
        "analyst",
        keys.workspace_id,
        "session",
    )
    assert client.get("/api/segments", headers=auth).status_code == 200
    refused = client.post("/api/tags/groups", json={"name": "x"}, headers=auth)
    assert refused.status_code == 403
    assert refused.json()["error"]["permission"] == "tags:write"
    assert client.post("/api/auth/logout", headers=auth).status_code == 204
    assert client.get("/api/segments", headers=auth).status_code == 401
    # A secret key does not "sign out".
    assert client.post("/api/auth/logout", headers=admin(keys)).status_code == 400


def test_login_throttle_answers_429_with_retry_after(
    client: TestClient, runtime: Runtime, keys: WorkspaceCreated
) -> None:
    add_user(runtime, keys.workspace_id, "op@brand.cn", Role.operator)
    wrong = {"email": "op@brand.cn", "password": "not the password"}
    statuses = [client.post("/api/auth/login", json=wrong).status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429]
    locked = client.post("/api/auth/login", json={"email": "op@brand.cn", "password": PASSWORD})
    assert locked.status_code == 429
    assert 0 < int(locked.headers["retry-after"]) <= 30


def test_users_add_list_set_role_remove(
    client: TestClient, runtime: Runtime, keys: WorkspaceCreated
) -> None:
    add_user(runtime, keys.workspace_id, "admin@brand.cn", Role.admin)
    auth = sign_in(client, "admin@brand.cn")
    new = {"email": "new@brand.cn", "role": "operator", "password": PASSWORD, "name": "小王"}
    added = client.post("/api/users", json=new, headers=auth)
    assert added.status_code == 201, added.text
    user_id = added.json()["user_id"]
    assert client.post("/api/users", json=new, headers=auth).status_code == 409
    no_password = client.post(
        "/api/users", json={"email": "x@brand.cn", "role": "analyst"}, headers=auth
    )
    assert no_password.status_code == 400
    # An admin makes no owners; the workspace's own key (owner) may.
    owner = {"role": "owner"}
    assert client.put(f"/api/users/{user_id}/role", json=owner, headers=auth).status_code == 403
    assert (
        client.put(f"/api/users/{user_id}/role", json={"role": "read_only"}, headers=auth).json()[
            "role"
        ]
        == "read_only"
    )
    listed = client.get("/api/users", headers=auth).json()
    assert [(m["email"], m["role"]) for m in listed] == [
        ("admin@brand.cn", "admin"),
        ("new@brand.cn", "read_only"),
    ]
    reader = sign_in(client, "new@brand.cn")
    assert client.get("/api/users", headers=reader).status_code == 403
    assert client.delete(f"/api/users/{user_id}", headers=auth).status_code == 204
    assert client.get("/api/segments", headers=reader).status_code == 401
    assert client.delete(f"/api/users/{user_id}", headers=auth).status_code == 404
    trail = client.get("/api/audit", params={"person_id": f"user:{user_id}"}, headers=auth).json()
    actions = [(e["action"], e["detail"].get("role")) for e in trail["entries"]]
    assert actions == [
        ("member_removed", "read_only"),
        ("role_changed", "read_only"),
        ("member_added", "operator"),
    ]
    assert len({e["actor"] for e in trail["entries"]}) == 1  # the admin's session, each time


def test_scoped_secret_keys_rotate_and_revoke(client: TestClient, keys: WorkspaceCreated) -> None:
    made = client.post(
        "/api/keys",
        json={"kind": "secret", "name": "BI", "scopes": ["segments:read", "keys:read"]},
        headers=admin(keys),
    )
    assert made.status_code == 201, made.text
    secret, key_id = made.json()["key"], made.json()["api_key"]["id"]
    bi = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/segments", headers=bi).status_code == 200
    assert client.post("/api/segments/preview", json={}, headers=bi).status_code != 403
    assert client.get("/api/tags", headers=bi).status_code == 403
    hints = {k["id"]: k["hint"] for k in client.get("/api/keys", headers=bi).json()}
    assert hints[key_id] == secret[:7]
    assert secret not in client.get("/api/keys", headers=bi).text
    # A key cannot mint or reveal anything wider than itself.
    assert (
        client.post("/api/keys", json={"kind": "secret", "name": "x"}, headers=bi).status_code
        == 403
    )
    rotated = client.post(f"/api/keys/{key_id}/rotate", headers=admin(keys))
    assert rotated.status_code == 200
    assert client.get("/api/segments", headers=bi).status_code == 401
    bi = {"Authorization": f"Bearer {rotated.json()['key']}"}
    assert client.get("/api/segments", headers=bi).status_code == 200
    assert client.post(f"/api/keys/{key_id}/revoke", headers=admin(keys)).status_code == 200
    assert client.get("/api/segments", headers=bi).status_code == 401
    assert client.post(f"/api/keys/{key_id}/revoke", headers=admin(keys)).status_code == 409


def test_write_keys_collect_only_and_stop_when_revoked(
    client: TestClient, keys: WorkspaceCreated
) -> None:
    made = client.post(
        "/api/keys", json={"kind": "write", "name": "web"}, headers=admin(keys)
    ).json()
    event = {"type": "track", "messageId": "m1", "userId": "u1", "event": "Viewed"}
    sent = client.post("/v1/track", json=event, auth=(made["key"], ""))
    assert sent.status_code == 200, sent.text
    assert (
        client.get("/api/segments", headers={"Authorization": f"Bearer {made['key']}"}).status_code
        == 401
    )
    client.post(f"/api/keys/{made['api_key']['id']}/revoke", headers=admin(keys))
    client.app.state.write_keys.clear()  # type: ignore[attr-defined]  # the minute-long cache
    assert client.post("/v1/track", json=event, auth=(made["key"], "")).status_code == 401


def test_a_user_of_two_workspaces_names_the_one_to_open(
    client: TestClient, runtime: Runtime, keys: WorkspaceCreated
) -> None:
    other = client.app.state.runtime  # type: ignore[attr-defined]
    from siyu.accounts import service as accounts
    from siyu.core.clock import utcnow
    from siyu.workspaces import service as workspaces

    add_user(runtime, keys.workspace_id, "both@brand.cn", Role.owner)
    with other.sessions() as session, session.begin():
        second = workspaces.create_workspace(session=session, name="二号", now=utcnow())
        user = accounts.find_user(session=session, email="both@brand.cn")
        assert user is not None
        accounts.add_member(
            session=session,
            workspace_id=second.workspace_id,
            user_id=user.id,
            role=Role.read_only,
            now=utcnow(),
        )
    ambiguous = client.post(
        "/api/auth/login", json={"email": "both@brand.cn", "password": PASSWORD}
    )
    assert ambiguous.status_code == 400
    assert ambiguous.json()["error"]["field"] == "workspace_id"
    auth = sign_in(client, "both@brand.cn", second.workspace_id)
    assert client.get("/api/auth/me", headers=auth).json()["role"] == "read_only"
    elsewhere = client.post(
        "/api/auth/login",
        json={"email": "both@brand.cn", "password": PASSWORD, "workspace_id": "ws_nope"},
    )
    assert elsewhere.status_code == 401


def test_the_workspace_secret_key_rotates_over_the_api(
    client: TestClient, keys: WorkspaceCreated
) -> None:
    listed = client.get("/api/keys", headers=admin(keys)).json()
    assert [(k["name"], k["hint"]) for k in listed] == [("workspace secret key", "sk_")]
    rotated = client.post(f"/api/keys/{listed[0]['id']}/rotate", headers=admin(keys))
    assert rotated.status_code == 200, rotated.text
    assert client.get("/api/segments", headers=admin(keys)).status_code == 401
    fresh = {"Authorization": f"Bearer {rotated.json()['key']}"}
    assert client.get("/api/auth/me", headers=fresh).json()["kind"] == "workspace_key"
    assert client.post("/api/segments/preview", json={}, headers=fresh).status_code == 422

"""Password resets and changes over the API (SQLite and PostgreSQL): a one-time, expiring
token issued by an owner or admin sets a new password and signs the user out everywhere;
changing one's own password needs the current one and keeps only this session; all audited."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from siyu.accounts import resets
from siyu.accounts import service as accounts
from siyu.accounts.permissions import Role
from siyu.accounts.tables import password_resets
from siyu.core.clock import utcnow
from siyu.core.runtime import Runtime
from siyu.workspaces import service as workspaces
from siyu.workspaces.models import WorkspaceCreated
from tests.accounts.cheap_argon2 import cheap_argon2  # noqa: F401  (autouse)
from tests.api.access_support import PASSWORD, add_user, sign_in
from tests.api.conftest import client, keys, runtime  # noqa: F401  (fixtures)
from tests.api.test_identity import admin

NEW = "a brand new secret 2026"


def _user_id(runtime: Runtime, email: str) -> str:  # noqa: F811
    with runtime.sessions() as session:
        user = accounts.find_user(session=session, email=email)
    assert user is not None
    return user.id


def _login(client: TestClient, email: str, password: str) -> int:  # noqa: F811
    return client.post("/api/auth/login", json={"email": email, "password": password}).status_code


def _audit(client: TestClient, keys: WorkspaceCreated, uid: str) -> list[str]:  # noqa: F811
    page = client.get("/api/audit", params={"person_id": f"user:{uid}"}, headers=admin(keys))
    assert page.status_code == 200, page.text
    return [e["action"] for e in page.json()["entries"]]


def test_a_reset_token_sets_a_new_password_once_and_ends_every_session(
    client: TestClient,  # noqa: F811
    runtime: Runtime,  # noqa: F811
    keys: WorkspaceCreated,  # noqa: F811
) -> None:
    add_user(runtime, keys.workspace_id, "op@brand.cn", Role.operator)
    uid = _user_id(runtime, "op@brand.cn")
    first, second = sign_in(client, "op@brand.cn"), sign_in(client, "op@brand.cn")
    issued = client.post(f"/api/users/{uid}/password-reset", headers=admin(keys))
    assert issued.status_code == 201, issued.text
    token = issued.json()["token"]
    with runtime.sessions() as session:  # kept hashed, never in clear
        stored = session.execute(select(password_resets.c.token_hash)).scalars().all()
    assert token not in stored and len(stored) == 1

    short = client.post("/api/auth/password-reset", json={"token": token, "new_password": "short"})
    assert short.status_code == 400 and short.json()["error"]["field"] == "new_password"
    assert client.get("/api/auth/me", headers=first).status_code == 200  # nothing changed yet

    done = client.post("/api/auth/password-reset", json={"token": token, "new_password": NEW})
    assert done.status_code == 204, done.text
    assert client.get("/api/auth/me", headers=first).status_code == 401
    assert client.get("/api/auth/me", headers=second).status_code == 401
    assert _login(client, "op@brand.cn", PASSWORD) == 401
    assert _login(client, "op@brand.cn", NEW) == 200
    again = client.post("/api/auth/password-reset", json={"token": token, "new_password": NEW})
    assert again.status_code == 401 and again.json()["error"]["field"] == "token"
    assert _audit(client, keys, uid) == ["password_reset", "password_reset_issued"]


def test_expired_and_superseded_tokens_are_refused(
    client: TestClient,  # noqa: F811
    runtime: Runtime,  # noqa: F811
    keys: WorkspaceCreated,  # noqa: F811
) -> None:
    add_user(runtime, keys.workspace_id, "an@brand.cn", Role.analyst)
    uid = _user_id(runtime, "an@brand.cn")
    with runtime.sessions() as session, session.begin():
        old = resets.issue_reset(
            session=session, workspace_id=keys.workspace_id, user_id=uid, actor="test",
            now=utcnow() - timedelta(hours=2), ttl=timedelta(hours=1),
        ).token  # fmt: skip
    expired = client.post("/api/auth/password-reset", json={"token": old, "new_password": NEW})
    assert expired.status_code == 401
    one = client.post(f"/api/users/{uid}/password-reset", headers=admin(keys)).json()["token"]
    two = client.post(f"/api/users/{uid}/password-reset", headers=admin(keys)).json()["token"]
    body = {"token": one, "new_password": NEW}
    assert client.post("/api/auth/password-reset", json=body).status_code == 401
    body["token"] = two
    assert client.post("/api/auth/password-reset", json=body).status_code == 204


def test_who_may_issue_a_reset(
    client: TestClient,  # noqa: F811
    runtime: Runtime,  # noqa: F811
    keys: WorkspaceCreated,  # noqa: F811
) -> None:
    for email, role in [("own2@brand.cn", Role.owner), ("adm@brand.cn", Role.admin),
                        ("ana@brand.cn", Role.analyst)]:  # fmt: skip
        add_user(runtime, keys.workspace_id, email, role)
    owner2, analyst = _user_id(runtime, "own2@brand.cn"), _user_id(runtime, "ana@brand.cn")
    as_admin = sign_in(client, "adm@brand.cn")
    refused = client.post(f"/api/users/{owner2}/password-reset", headers=as_admin)
    assert refused.status_code == 403
    assert client.post(f"/api/users/{analyst}/password-reset", headers=as_admin).status_code == 201
    as_analyst = sign_in(client, "ana@brand.cn")
    denied = client.post(f"/api/users/{analyst}/password-reset", headers=as_analyst)
    assert denied.status_code == 403 and denied.json()["error"]["permission"] == "users:write"
    # A user of another workspace is not found from this one.
    with runtime.sessions() as session, session.begin():
        other = workspaces.create_workspace(session=session, name="别家", now=utcnow())
    add_user(runtime, other.workspace_id, "else@other.cn", Role.read_only)
    stranger = _user_id(runtime, "else@other.cn")
    assert (
        client.post(f"/api/users/{stranger}/password-reset", headers=admin(keys)).status_code == 404
    )


def test_changing_ones_own_password_keeps_this_session_only(
    client: TestClient,  # noqa: F811
    runtime: Runtime,  # noqa: F811
    keys: WorkspaceCreated,  # noqa: F811
) -> None:
    add_user(runtime, keys.workspace_id, "ro@brand.cn", Role.read_only)
    uid = _user_id(runtime, "ro@brand.cn")
    here, elsewhere = sign_in(client, "ro@brand.cn"), sign_in(client, "ro@brand.cn")
    wrong = {"current_password": "not it at all", "new_password": NEW}
    refused = client.post("/api/auth/password", json=wrong, headers=here)
    assert refused.status_code == 401 and refused.json()["error"]["field"] == "current_password"
    right = {"current_password": PASSWORD, "new_password": NEW}
    assert client.post("/api/auth/password", json=right, headers=here).status_code == 204
    assert client.get("/api/auth/me", headers=here).status_code == 200
    assert client.get("/api/auth/me", headers=elsewhere).status_code == 401
    assert _login(client, "ro@brand.cn", PASSWORD) == 401
    assert _login(client, "ro@brand.cn", NEW) == 200
    assert client.post("/api/auth/password", json=right, headers=admin(keys)).status_code == 400
    assert _audit(client, keys, uid) == ["password_changed"]
    # Wrong current passwords count as failed sign-ins: the sixth try is locked out.
    wrong["current_password"] = "still not it"
    tries = [client.post("/api/auth/password", json=wrong, headers=here) for _ in range(6)]
    assert [r.status_code for r in tries] == [401] * 5 + [429]
    assert tries[-1].json()["error"]["field"] == "current_password"
    assert _login(client, "ro@brand.cn", NEW) == 429

"""Shared by the access tests: users of each role, signed in over the API, and the routes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from siyu.accounts import service as accounts
from siyu.accounts.permissions import Role
from siyu.core.clock import utcnow
from siyu.core.runtime import Runtime

PASSWORD = "correct horse battery"

# Routes that take no management credential, and why.
PUBLIC: dict[str, str] = {
    r"^/v1/": "collection: the write key (HTTP Basic), safe to embed in a web page",
    r"^/sdk/": "static SDK assets for web pages and mini programs",
    r"^/wechat/(wecom|mp|assistant)/\{workspace_id\}/callback$": (
        "WeChat/WeCom servers call these; each request is verified by the signature of the"
        " token and AES key stored for the workspace named in the path"
    ),
    r"^/unsubscribe$": "a customer's unsubscribe link, verified by its HMAC signature",
    r"^/healthz$": "liveness probe, no data",
    r"^/docs$": "API docs page, no data",
    r"^/api/auth/login$": "sign-in: the credential is the email and password in the body",
    r"^/api/auth/password-reset$": (
        "a new password: the credential is the one-time reset token in the body"
    ),
    r"^/c/\{code\}(/share)?$": (
        "a tracked content link a customer opens or shares; the unguessable code names the"
        " item, and the answer is only the item's own page"
    ),
}
# Routes any valid credential may call about itself (no permission, still authenticated).
SELF_ONLY = {"/api/auth/logout", "/api/auth/me", "/api/auth/password"}


@dataclass(frozen=True)
class RouteInfo:
    method: str
    path: str
    permission: str | None


def _permission_of(route: APIRoute) -> str | None:
    found = []
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if hasattr(dep.call, "permission"):
            found.append(getattr(dep.call, "permission"))  # noqa: B009
        stack.extend(dep.dependencies)
    assert len(set(found)) <= 1, (route.path, found)
    return found[0] if found else None


def routes(app: FastAPI) -> list[RouteInfo]:
    """Every HTTP route of the app (the console's pages excepted), with its permission."""
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue
        for method in sorted(route.methods or ()):
            found.append(RouteInfo(method, str(context.path), _permission_of(route)))
    return found


def is_public(path: str) -> bool:
    return any(re.search(pattern, path) for pattern in PUBLIC)


def management_routes(app: FastAPI) -> list[RouteInfo]:
    return [r for r in routes(app) if not is_public(r.path) and r.path not in SELF_ONLY]


def add_user(runtime: Runtime, workspace_id: str, email: str, role: Role) -> None:
    with runtime.sessions() as session, session.begin():
        user = accounts.create_user(session=session, email=email, password=PASSWORD, now=utcnow())
        accounts.add_member(
            session=session, workspace_id=workspace_id, user_id=user.id, role=role, now=utcnow()
        )


def sign_in(client: TestClient, email: str, workspace_id: str | None = None) -> dict[str, str]:
    body: dict[str, Any] = {"email": email, "password": PASSWORD}
    if workspace_id:
        body["workspace_id"] = workspace_id
    response = client.post("/api/auth/login", json=body)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def fill(path: str, values: dict[str, str]) -> str:
    """``path`` with each ``{param}`` replaced by ``values[param]`` (or a made-up id)."""

    def one(match: re.Match[str]) -> str:
        return values.get(match.group(1), f"no_such_{match.group(1)}")

    return re.sub(r"\{(\w+)(?::path)?\}", one, path)

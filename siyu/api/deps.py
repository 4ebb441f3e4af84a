"""Dependencies declared once: the runtime, the caller a credential authenticates, and the
permission each management route requires (``dependencies=[Require("segments:write")]``)."""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import IntegrityError

from siyu.accounts import keys, sessions
from siyu.accounts.models import Principal
from siyu.accounts.permissions import check_known
from siyu.core.clock import utcnow
from siyu.core.errors import AuthError, ForbiddenError
from siyu.core.runtime import Runtime
from siyu.workspaces.models import Workspace


def get_runtime(request: Request) -> Runtime:
    """The process's open stores."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def _basic_user(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic" or not token:
        return None
    try:
        decoded = base64.b64decode(token, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise AuthError(
            "Authorization header is not valid HTTP Basic", field="authorization"
        ) from None
    return decoded.partition(":")[0]


def write_key_workspace(request: Request, runtime: RuntimeDep) -> Workspace:
    """The workspace of the write key sent as the HTTP Basic user (the Segment convention)."""
    write_key = _basic_user(request)
    if not write_key:
        raise AuthError("send the write key as the HTTP Basic user", field="authorization")
    return _cached_workspace(request, runtime, write_key)


# Keys are looked up on every batch; a small per-process cache keeps that off the DB. An entry
# lives ``write_key_cache_seconds`` (a minute by default), so a revoked write key stops
# collecting within that time on every process.
def _cached_workspace(request: Request, runtime: Runtime, write_key: str) -> Workspace:
    cache: dict[str, tuple[Workspace, float]] = request.app.state.write_keys
    hit = cache.get(write_key)
    if hit is not None and time.monotonic() - hit[1] < runtime.settings.write_key_cache_seconds:
        return hit[0]
    with runtime.sessions() as session:
        workspace = keys.authenticate_write_key(session=session, write_key=write_key)
    if len(cache) > 1000:
        cache.clear()
    cache[write_key] = (workspace, time.monotonic())
    return workspace


def current_principal(request: Request, runtime: RuntimeDep) -> Principal:
    """The caller behind ``Authorization: Bearer <token>``: a session token (``ss_…``, from
    POST /api/auth/login) or a secret key (``sk_…``)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthError(
            "send a session token or secret key as 'Authorization: Bearer <token>'",
            field="authorization",
        )
    with runtime.sessions() as session:
        if token.startswith(sessions.SESSION_PREFIX):
            return sessions.authenticate_session(session=session, token=token, now=utcnow())
        return keys.authenticate_secret_key(session=session, secret_key=token)


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def secret_key_workspace(principal: PrincipalDep) -> Workspace:
    """The workspace of the caller (FastAPI authenticates once per request: the principal is
    shared with the route's ``Require``)."""
    return principal.workspace


class _Permission:
    """A dependency that refuses (403) a caller without ``permission``."""

    def __init__(self, permission: str) -> None:
        if check_known([permission]):
            raise ValueError(f"{permission!r} is not in siyu.accounts.permissions")
        self.permission = permission

    def __call__(self, principal: PrincipalDep) -> Principal:
        if not principal.may(self.permission):
            raise ForbiddenError(
                f"this credential lacks the permission {self.permission}",
                field="authorization",
                permission=self.permission,
            )
        return principal

    def __repr__(self) -> str:
        return f"Require({self.permission!r})"


def Require(permission: str) -> Any:
    """The dependency a management route declares: ``dependencies=[Require("tags:write")]``,
    or ``principal: Annotated[Principal, Require("users:write")]`` to use the caller."""
    return Depends(_Permission(permission))


WriteWorkspaceDep = Annotated[Workspace, Depends(write_key_workspace)]
AdminWorkspaceDep = Annotated[Workspace, Depends(secret_key_workspace)]
"""The caller's workspace; every route using it also declares its ``Require``."""

# The narrowest column a client's key lands in is 200 characters (loyalty_request_keys.key,
# live_codes / live_code_scans / member_growth .idempotency_key; points entries and mall
# redemptions take 255), and the longest key built from it is a bulk issue's per-member key
# ``<key>:<person_id>`` (+41) — so 150 leaves room everywhere, prefixes such as ``mall:``
# included. One limit for the whole API: a client need not learn one per route.
IDEMPOTENCY_KEY_MAX = 150
_KEY_HELP = "A retry with the same key answers the first result and never writes twice."

IdempotencyKeyDep = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=IDEMPOTENCY_KEY_MAX,
        description=_KEY_HELP,
    ),
]
"""An optional ``Idempotency-Key`` header (default it to None)."""

RequiredIdempotencyKeyDep = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=IDEMPOTENCY_KEY_MAX,
        description="Required. " + _KEY_HELP,
    ),
]
"""An ``Idempotency-Key`` header the route cannot do without (a 422 names it when missing)."""


T = TypeVar("T")


async def in_transaction(runtime: Runtime, call: Callable[..., T], **kwargs: Any) -> T:
    """Run one service call in its own transaction, off the event loop."""

    def run() -> T:
        with runtime.sessions() as session, session.begin():
            return call(session=session, **kwargs)

    return await run_in_threadpool(run)


async def retried(runtime: Runtime, call: Callable[..., T], **kwargs: Any) -> T:
    """Run a keyed write; a racing duplicate of the key loses on the key and reads the winner's
    result on a second try."""
    try:
        return await in_transaction(runtime, call, **kwargs)
    except IntegrityError:
        return await in_transaction(runtime, call, **kwargs)

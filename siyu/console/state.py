"""Who is signed in, to which workspaces, in which language — kept in NiceGUI user storage.

Signing in opens an accounts session per workspace (siyu.console.auth); the user storage
(server-side, in the data directory) keeps each workspace's reference and session token.
The token is checked again, and the role read afresh, once per page load.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from nicegui import app, run, ui

from siyu.console import auth
from siyu.console.auth import WorkspaceRef
from siyu.console.i18n import DEFAULT_LANGUAGE, LANGUAGES, translate
from siyu.core.clock import utcnow
from siyu.core.errors import AuthError
from siyu.core.runtime import Runtime

T = TypeVar("T")
__all__ = ["WorkspaceRef", "call", "current", "language", "may", "runtime", "t"]


def runtime() -> Runtime:
    """The process's open stores (set when the console is mounted)."""
    found: Runtime = app.state.siyu_runtime
    return found


async def call(function: Callable[..., T], **kwargs: Any) -> T:
    """Run a blocking service call off the event loop.

    NiceGUI answers None when the page went away (or the server is stopping) while the call
    ran; that ends the caller's task like a cancellation instead of drawing nothing.
    """
    result = await run.io_bound(function, **kwargs)
    if result is None:
        raise asyncio.CancelledError
    return result


def t(key: str, **values: object) -> str:
    """The message ``key`` in the operator's language."""
    return translate(language(), key, **values)


def language() -> str:
    """The operator's language: zh (default) or en."""
    chosen = app.storage.user.get("lang", DEFAULT_LANGUAGE)
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


def set_language(lang: str) -> None:
    """Remember the operator's language."""
    if lang in LANGUAGES:
        app.storage.user["lang"] = lang


def signed_in() -> dict[str, WorkspaceRef]:
    """The workspaces signed in to, by id (as last checked)."""
    raw: dict[str, dict[str, str]] = app.storage.user.get("workspaces", {})
    found = {}
    for key, value in raw.items():
        try:
            found[key] = WorkspaceRef.model_validate(value)
        except ValueError:  # stored by an older console (a secret-key sign-in): sign in again
            continue
    return found


def _tokens() -> dict[str, str]:
    tokens: dict[str, str] = app.storage.user.get("tokens", {})
    return tokens


def token_of(workspace_id: str) -> str | None:
    """This browser's session token for a workspace it is signed in to."""
    return _tokens().get(workspace_id)


def _forget(workspace_id: str) -> None:
    known = dict(app.storage.user.get("workspaces", {}))
    known.pop(workspace_id, None)
    app.storage.user["workspaces"] = known
    tokens = dict(_tokens())
    tokens.pop(workspace_id, None)
    app.storage.user["tokens"] = tokens


def _checked(ref: WorkspaceRef) -> WorkspaceRef | None:
    """``ref`` with its role as it is now, or None when its session stopped working.

    Checked once per page (a page load is a new NiceGUI client), not on every call.
    """
    cache = app.storage.client
    key = f"checked:{ref.id}"
    if key in cache:
        checked: WorkspaceRef = cache[key]
        return checked
    token = _tokens().get(ref.id)
    if token is None:
        _forget(ref.id)
        return None
    try:
        fresh = auth.check(runtime(), token=token, email=ref.email, now=utcnow())
    except AuthError:
        _forget(ref.id)
        return None
    if fresh != ref:
        _store(fresh)
    cache[key] = fresh
    return fresh


def current() -> WorkspaceRef | None:
    """The workspace being looked at, or None when not signed in (or its session ended)."""
    found = signed_in()
    chosen = app.storage.user.get("workspace")
    ordered = [found[chosen]] if chosen in found else []
    ordered += [ref for key, ref in found.items() if key != chosen]
    for ref in ordered:
        checked = _checked(ref)
        if checked is not None:
            return checked
    return None


def may(permission: str) -> bool:
    """Whether the signed-in operator's role in the current workspace holds ``permission``."""
    ref = current()
    return ref is not None and ref.may(permission)


def require(permission: str) -> bool:
    """For an action's handler: True when allowed, else tell the operator and answer False."""
    if may(permission):
        return True
    ui.notify(t("access.denied", permission=permission), type="negative")
    return False


def _store(ref: WorkspaceRef) -> None:
    known = dict(app.storage.user.get("workspaces", {}))
    known[ref.id] = ref.model_dump(mode="json")
    app.storage.user["workspaces"] = known


def remember(signed: auth.SignedIn) -> None:
    """Add a signed-in workspace and look at it."""
    _store(signed.ref)
    app.storage.user["tokens"] = {**_tokens(), signed.ref.id: signed.token}
    app.storage.user["workspace"] = signed.ref.id


def switch_to(workspace_id: str) -> None:
    """Look at another signed-in workspace."""
    if workspace_id in signed_in():
        app.storage.user["workspace"] = workspace_id


def sign_out_tokens() -> list[str]:
    """Forget every workspace (the language stays); the tokens to end, for auth.sign_out."""
    tokens = list(_tokens().values())
    app.storage.user.pop("workspaces", None)
    app.storage.user.pop("workspace", None)
    app.storage.user.pop("tokens", None)
    return tokens

"""Who is signed in, to which workspaces, in which language — kept in NiceGUI user storage.

Until siyu has operator accounts, signing in means presenting a workspace's secret API key:
the key is checked once and only the workspace id and name are kept (never the key).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from nicegui import app, run
from pydantic import BaseModel

from siyu.console.i18n import DEFAULT_LANGUAGE, LANGUAGES, translate
from siyu.core.runtime import Runtime
from siyu.workspaces import service as workspaces

T = TypeVar("T")


class WorkspaceRef(BaseModel):
    """A workspace the operator has signed in to."""

    id: str
    name: str
    timezone: str


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
    """The workspaces signed in to, by id."""
    raw: dict[str, dict[str, str]] = app.storage.user.get("workspaces", {})
    return {key: WorkspaceRef.model_validate(value) for key, value in raw.items()}


def current() -> WorkspaceRef | None:
    """The workspace being looked at, or None when not signed in."""
    found = signed_in()
    chosen = app.storage.user.get("workspace")
    if chosen in found:
        return found[chosen]
    return next(iter(found.values()), None)


def authenticate(*, secret_key: str) -> WorkspaceRef:
    """The workspace a secret key opens (AuthError if none); blocking, call off the loop."""
    with runtime().sessions() as session:
        found = workspaces.authenticate_secret_key(session=session, secret_key=secret_key.strip())
    return WorkspaceRef(id=found.id, name=found.name, timezone=found.timezone)


def remember(ref: WorkspaceRef) -> None:
    """Add a workspace to the signed-in ones and look at it."""
    known = dict(app.storage.user.get("workspaces", {}))
    known[ref.id] = ref.model_dump()
    app.storage.user["workspaces"] = known
    app.storage.user["workspace"] = ref.id


def switch_to(workspace_id: str) -> None:
    """Look at another signed-in workspace."""
    if workspace_id in signed_in():
        app.storage.user["workspace"] = workspace_id


def sign_out() -> None:
    """Forget every workspace (the language stays)."""
    app.storage.user.pop("workspaces", None)
    app.storage.user.pop("workspace", None)

"""Mount the console's NiceGUI pages at ``/`` of siyu's FastAPI app.

NiceGUI keeps one application per process (``nicegui.app``), so its configuration and
middleware are set up once; every FastAPI app made afterwards (tests build many) mounts
the same NiceGUI app and runs its start-up and shut-down inside its own lifespan.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from nicegui import app as nicegui_app
from nicegui import core, storage
from nicegui.middlewares import RedirectWithPrefixMiddleware, SetCacheControlMiddleware
from nicegui.nicegui import _shutdown, _startup
from starlette.routing import Match, Mount
from starlette.types import Scope

from siyu.core.runtime import Runtime

SECRET_FILE = "console-secret"  # noqa: S105 - a file name, not a secret
_configured: list[bool] = []


def _storage_secret(data_dir: Path) -> str:
    """A per-installation secret for the console's session cookie (kept in the data dir)."""
    path = data_dir / SECRET_FILE
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _configure_once(runtime: Runtime) -> None:
    if _configured:
        return
    from siyu.console import pages

    pages.register()
    core.app.config.add_run_config(
        reload=False,
        title="siyu 私域",
        viewport="width=device-width, initial-scale=1",
        favicon=None,
        dark=False,
        language="zh-CN",
        binding_refresh_interval=0.5,
        reconnect_timeout=5.0,
        message_history_length=1000,
        tailwind=True,
        unocss=None,
        prod_js=True,
        show_welcome_message=False,
        cache_control_directives="public, max-age=31536000, immutable",
        markdown=False,
    )
    # Sessions and per-user storage live in the data directory, not in the working directory.
    storage.Storage.path = runtime.settings.data_dir / "console"
    storage.set_storage_secret(_storage_secret(runtime.settings.data_dir))
    # Vue, Quasar and ECharts are a few megabytes of JavaScript: send them compressed.
    core.app.add_middleware(GZipMiddleware)
    core.app.add_middleware(RedirectWithPrefixMiddleware)
    core.app.add_middleware(SetCacheControlMiddleware)
    _configured.append(True)


API_PREFIXES = ("/api", "/v1")


class ConsoleMount(Mount):
    """A mount at ``/`` that leaves the API's paths alone.

    An unknown ``/api/…`` path keeps the API's JSON 404, and a known path asked with the wrong
    method its 405, instead of falling through to the console's HTML pages.
    """

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path = str(scope.get("path", ""))
        if any(path == prefix or path.startswith(prefix + "/") for prefix in API_PREFIXES):
            return Match.NONE, {}
        return super().matches(scope)


def mount(app: FastAPI, runtime: Runtime) -> None:
    """Serve the console at ``/`` of ``app`` over ``runtime``'s stores.

    Call it after every other route is added: a mount at ``/`` answers whatever no earlier
    route matched.
    """
    _configure_once(runtime)
    nicegui_app.state.siyu_runtime = runtime
    app.router.routes.append(ConsoleMount("/", app=core.app))
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(parent: FastAPI) -> AsyncIterator[object]:
        nicegui_app.state.siyu_runtime = runtime
        await _startup()
        async with inner(parent) as state:
            yield state
        await _shutdown()

    # Starlette types the lifespan as returning a mapping or None; ours passes the inner one's.
    app.router.lifespan_context = lifespan  # type: ignore[assignment]

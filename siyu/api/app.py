"""The FastAPI application: collection API, management API, a background inbox flusher."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import swagger_ui_bundle
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from siyu import __version__, pipeline
from siyu.api import errors, limits
from siyu.api.routes import (
    activities,
    analytics,
    assistant,
    auth,
    channels,
    collect,
    content,
    coupons,
    groups,
    journeys,
    keys,
    layers,
    live_codes,
    loyalty,
    measure,
    membership,
    messages,
    persons,
    privacy,
    recommendations,
    referrals,
    sdk,
    segments,
    tags,
    ugc,
    users,
    wechat,
)
from siyu.console import mount as console
from siyu.core.backoff import Backoff
from siyu.core.clock import utcnow
from siyu.core.runtime import Runtime, open_runtime, tune_gc_for_ingest
from siyu.pipeline import journey_jobs

log = logging.getLogger("siyu.api")


class Flusher(threading.Thread):
    """Moves the inbox to the event store every ``interval`` seconds until stopped."""

    def __init__(self, runtime: Runtime, interval: float) -> None:
        super().__init__(name="siyu-flusher", daemon=True)
        self.runtime = runtime
        self.interval = interval
        self.stopped = threading.Event()

    def run(self) -> None:
        backoff = Backoff("inbox flush", self.interval, log=log)
        wait = self.interval
        while not self.stopped.wait(wait):
            try:
                pipeline.flush(runtime=self.runtime)
            except Exception as exc:  # keep flushing; the rows stay safe in the inbox
                wait = backoff.failed(exc)
            else:
                wait = backoff.succeeded()

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=30)
        pipeline.flush(runtime=self.runtime)


class Scheduler(threading.Thread):
    """Refreshes due segments and rule tags every ``interval`` seconds until stopped.

    A thread of its own, so a slow refresh never holds up the inbox flush.
    """

    def __init__(self, runtime: Runtime, interval: float) -> None:
        super().__init__(name="siyu-scheduler", daemon=True)
        self.runtime = runtime
        self.interval = interval
        self.stopped = threading.Event()

    def run(self) -> None:
        backoff = Backoff("scheduled refresh", self.interval, log=log)
        wait = self.interval
        while not self.stopped.wait(wait):
            try:
                pipeline.refresh_scheduled(runtime=self.runtime, now=utcnow())
            except Exception as exc:  # the next round tries again
                wait = backoff.failed(exc)
            else:
                wait = backoff.succeeded()

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=30)


class JourneyRunner(threading.Thread):
    """Advances journeys, dispatches messages and polls staff tasks every ``interval``
    seconds (``siyu serve`` on the embedded default; ``siyu worker`` does it at scale)."""

    def __init__(self, runtime: Runtime, interval: float) -> None:
        super().__init__(name="siyu-journeys", daemon=True)
        self.runtime = runtime
        self.interval = interval
        self.jobs = journey_jobs.repeated_jobs(runtime, interval=interval)
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            journey_jobs.run_round(self.runtime, self.jobs, utcnow())

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=30)


def create_app(
    runtime: Runtime, *, flush_in_background: bool = True, with_console: bool = True
) -> FastAPI:
    """The app over ``runtime``'s stores (and the operator console at ``/``)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        flusher = Flusher(runtime, runtime.settings.flush_interval_seconds)
        scheduler = Scheduler(runtime, runtime.settings.schedule_interval_seconds)
        journey_runner = JourneyRunner(runtime, runtime.settings.schedule_interval_seconds)
        app.state.committer = pipeline.GroupCommitter(runtime)
        if flush_in_background:
            flusher.start()
            scheduler.start()
            journey_runner.start()
        yield
        app.state.committer.close()
        if flush_in_background:
            journey_runner.stop()
            scheduler.stop()
            flusher.stop()

    app = FastAPI(
        title="siyu",
        version=__version__,
        description="私域 — collect, resolve and understand a brand's own customers.",
        lifespan=lifespan,
        docs_url=None,
    )
    app.state.runtime = runtime
    app.state.write_keys = {}
    errors.install(app)
    limits.install(app, max_body_bytes=runtime.settings.max_api_body_bytes)
    app.include_router(collect.router)
    app.include_router(activities.router)
    app.include_router(groups.router)
    app.include_router(content.router)
    app.include_router(content.public)
    app.include_router(ugc.router)
    app.include_router(auth.router)
    app.include_router(users.router)
    app.include_router(keys.router)
    app.include_router(persons.router)
    app.include_router(privacy.router)
    app.include_router(measure.router)
    app.include_router(analytics.router)
    app.include_router(layers.router)
    app.include_router(tags.router)
    app.include_router(segments.router)
    app.include_router(live_codes.router)
    app.include_router(referrals.router)
    app.include_router(coupons.router)
    app.include_router(membership.tiers_router)
    app.include_router(membership.members_router)
    app.include_router(loyalty.router)
    app.include_router(recommendations.router)
    app.include_router(wechat.router)
    app.include_router(assistant.callbacks)
    app.include_router(assistant.router)
    app.include_router(journeys.router)
    app.include_router(messages.router)
    app.include_router(channels.router)
    app.include_router(channels.public)
    app.include_router(sdk.router)
    app.add_middleware(sdk.CollectCorsMiddleware)

    # The docs page's assets ship in a package: nothing is fetched from a CDN.
    app.mount("/static/swagger", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path))

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="siyu API",
            swagger_js_url="/static/swagger/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger/swagger-ui.css",
            swagger_favicon_url="/static/swagger/favicon-32x32.png",
        )

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    # Last: the operator console answers every path no route above matched.
    if with_console:
        console.mount(app, runtime)
    return app


def app_from_environment() -> FastAPI:
    """An app over the stores the environment names (for ``uvicorn --factory`` workers)."""
    # No console in multi-worker mode: a console page and its websocket must reach the same
    # process, and uvicorn's workers share one port without sticky sessions.
    app = create_app(open_runtime(run_migrations=False), with_console=False)
    tune_gc_for_ingest()
    return app

"""siyu's real app under uvicorn on 127.0.0.1, in-process, for the SDK tests (browser and node),
with helpers that read back what arrived through the management API."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
import uvicorn

from siyu.api.app import create_app
from siyu.core.clock import utcnow
from siyu.core.config import Settings
from siyu.core.runtime import open_runtime
from siyu.workspaces import service as workspaces
from tests.e2e.conftest import free_port


@dataclass
class Site:
    """siyu's API served in-process by uvicorn on 127.0.0.1 (started in a thread)."""

    url: str
    keys: dict[str, str]


@pytest.fixture(scope="module", name="site")
def site_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("sdk-site"),
        sdk_test_page=True,
        flush_interval_seconds=0.2,
    )
    runtime = open_runtime(settings)
    with runtime.sessions() as session, session.begin():
        keys = workspaces.create_workspace(session=session, name="sdk", now=utcnow())
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(runtime), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="sdk-site", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield Site(f"http://127.0.0.1:{port}", keys.model_dump())
    server.should_exit = True
    thread.join(timeout=30)
    runtime.close()


def api(site: Site, path: str, **params: str) -> httpx.Response:
    return httpx.get(
        f"{site.url}{path}",
        params=params,
        headers={"Authorization": f"Bearer {site.keys['secret_key']}"},
        timeout=10,
    )


def person_of(site: Site, kind: str, value: str) -> str | None:
    found = api(site, "/api/persons", identifier_type=kind, identifier=value)
    return str(found.json()["person_id"]) if found.status_code == 200 else None


def events_of(site: Site, person_id: str) -> list[dict[str, Any]]:
    rows = api(site, f"/api/persons/{person_id}/events", limit="1000").json()["events"]
    for row in rows:
        for name in ("properties", "context", "traits"):
            if isinstance(row.get(name), str):
                row[name] = orjson.loads(row[name])
    return list(reversed(rows))  # oldest first


def wait_for(check: Callable[[], Any], timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.2)

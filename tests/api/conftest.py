"""An app over a fresh runtime (SQLite or PostgreSQL operational store), and its keys."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from siyu.api.app import create_app
from siyu.core.clock import utcnow
from siyu.core.config import Settings
from siyu.core.runtime import Runtime, open_runtime
from siyu.workspaces import service as workspaces
from siyu.workspaces.models import WorkspaceCreated
from tests.conftest import fresh_pg_schema


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def runtime(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Runtime]:
    """A migrated runtime in ``tmp_path`` on each operational-store backend."""
    url = ""
    if request.param == "postgresql":
        url = fresh_pg_schema(f"siyu_api_{os.getpid()}")
    rt = open_runtime(Settings(data_dir=tmp_path, database_url=url, max_batch_bytes=64 * 1024))
    yield rt
    rt.close()


@pytest.fixture
def keys(runtime: Runtime) -> WorkspaceCreated:
    with runtime.sessions() as session, session.begin():
        return workspaces.create_workspace(session=session, name="测试品牌", now=utcnow())


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    # The background flusher is off so tests decide when the inbox moves.
    with TestClient(create_app(runtime, flush_in_background=False)) as test_client:
        yield test_client

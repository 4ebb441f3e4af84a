"""An app over a fresh runtime with a seeded world, for the fuzzer (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from schemathesis.python import asgi

from siyu.api.app import create_app
from siyu.core.clock import utcnow
from siyu.core.config import Settings
from siyu.core.runtime import open_runtime
from siyu.workspaces import service as workspaces
from tests.api.conftest import client, keys, runtime
from tests.conftest import fresh_pg_schema
from tests.fuzz.world import World, seed

__all__ = ["Target", "client", "keys", "runtime", "sqlite_target", "target"]


@dataclass
class Target:
    app: FastAPI
    world: World


def open_target(tmp_path: Path, backend: str) -> Iterator[Target]:
    url = fresh_pg_schema(f"siyu_fuzz_{os.getpid()}") if backend == "postgresql" else ""
    runtime = open_runtime(Settings(data_dir=tmp_path, database_url=url))
    with runtime.sessions() as session, session.begin():
        keys = workspaces.create_workspace(session=session, name="模糊测试", now=utcnow())
    # No console (it is not in the schema) and no background threads: requests alone move data.
    app = create_app(runtime, flush_in_background=False, with_console=False)
    with TestClient(app) as client:
        world = seed(client, keys)
    try:
        yield Target(app, world)
    finally:
        # schemathesis keeps the app's lifespan running for the process: end it before the stores.
        asgi.shutdown_lifespans()
        runtime.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    yield from open_target(tmp_path, request.param)


@pytest.fixture
def sqlite_target(tmp_path: Path) -> Iterator[Target]:
    yield from open_target(tmp_path, "sqlite")

"""What a store fault amounts to (siyu.core.db.store_error_of) and how the API answers it:
a 503 with the one JSON error shape and Retry-After, never a 500 traceback; a constraint
violation is not an outage: a duplicate key is a 409, anything else (a bug) stays a 500."""

from __future__ import annotations

import errno
import sqlite3
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session, sessionmaker

from siyu.api import errors
from siyu.collect.tables import collect_messages
from siyu.core.db import is_unique_violation, store_error_of


def _operational(message: str) -> OperationalError:
    return OperationalError("INSERT …", {}, sqlite3.OperationalError(message))


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (_operational("database or disk is full"), "out of disk space"),
        (_operational("database is locked"), "the database is locked by another writer"),
        (_operational("attempt to write a readonly database"), "the store is read-only"),
        (
            _operational('connection to server at "10.0.0.5", port 5432 failed: refused'),
            "cannot reach the database",
        ),
        (
            InterfaceError("SELECT 1", {}, Exception("connection closed")),
            "cannot reach the database",
        ),
        (PoolTimeoutError("QueuePool limit reached"), "no database connection free in time"),
        (OSError(errno.ENOSPC, "No space left on device"), "out of disk space"),
        (OSError(errno.EROFS, "Read-only file system"), "the store is read-only"),
    ],
)
def test_faults_are_store_errors_with_a_reason(error: Exception, reason: str) -> None:
    found = store_error_of(error)
    assert found is not None and found.details["reason"] == reason
    assert "10.0.0.5" not in found.message  # the driver's text (hosts, ports) is not echoed


@pytest.mark.parametrize(
    "error",
    [
        IntegrityError("INSERT …", {}, sqlite3.IntegrityError("UNIQUE constraint failed")),
        OSError(errno.ENOENT, "No such file"),
        ValueError("a bug"),
    ],
)
def test_other_errors_are_not_outages(error: Exception) -> None:
    assert store_error_of(error) is None


def _app(error: Exception) -> TestClient:
    app = FastAPI()
    errors.install(app)

    @app.get("/fails")
    def fails() -> None:
        raise error

    return TestClient(app, raise_server_exceptions=False)


def test_the_api_answers_a_store_fault_with_503_and_a_clear_body() -> None:
    response = _app(_operational("database or disk is full")).get("/fails")
    assert response.status_code == 503
    assert response.headers["retry-after"] == errors.STORE_RETRY_AFTER
    body = response.json()["error"]
    assert body["type"] == "StoreError" and body["reason"] == "out of disk space"
    assert "nothing was kept" in body["message"]


def test_a_duplicate_key_is_a_409_and_other_violations_still_a_500() -> None:
    # A uniqueness rule a route did not check first (or a race to the same row) is a
    # conflict the client can act on; a NOT NULL violation is a bug and stays a 500.
    duplicate = IntegrityError(
        "INSERT …", {}, sqlite3.IntegrityError("UNIQUE constraint failed: t.name")
    )
    answered = _app(duplicate).get("/fails")
    assert answered.status_code == 409 and answered.json()["error"]["type"] == "ConflictError"
    missing = IntegrityError("INSERT …", {}, sqlite3.IntegrityError("NOT NULL constraint failed"))
    assert _app(missing).get("/fails").status_code == 500


def test_duplicate_keys_are_told_apart_on_both_stores(db: sessionmaker[Session]) -> None:
    row = {"workspace_id": "w", "message_id": "m", "received_at": datetime.now(UTC)}
    with db() as session, session.begin():
        session.execute(insert(collect_messages), row)
    with pytest.raises(IntegrityError) as duplicate, db() as session, session.begin():
        session.execute(insert(collect_messages), row)
    assert is_unique_violation(duplicate.value)
    with pytest.raises(IntegrityError) as missing, db() as session, session.begin():
        session.execute(insert(collect_messages), {**row, "message_id": None})
    assert not is_unique_violation(missing.value)

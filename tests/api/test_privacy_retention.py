"""The retention routes over HTTP (SQLite and PostgreSQL, migrated schema): the defaults, a
partial change, a refused period naming its field, and refusal without the permission."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from siyu.accounts import keys as api_keys
from siyu.accounts.models import KeyKind
from siyu.api.app import create_app
from siyu.core.runtime import Runtime
from tests.privacy.conftest import NOW, Seeded, seed


@pytest.fixture
def seeded(runtime: Runtime) -> Seeded:
    return seed(runtime)


@pytest.fixture
def http(seeded: Seeded) -> Iterator[TestClient]:
    with TestClient(create_app(seeded.runtime, flush_in_background=False)) as test_client:
        yield test_client


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_retention_over_http(seeded: Seeded, http: TestClient) -> None:
    owner = _auth(seeded.secret_key)
    shown = http.get("/api/privacy/retention", headers=owner)
    assert shown.status_code == 200, shown.text
    assert shown.json() == {
        "workspace_id": seeded.workspace_id,
        "event_retention_days": None,
        "message_retention_days": 180,
        "consent_history_retention_days": 1095,
        "audit_retention_days": 1095,
        "group_text_retention_days": 90,
    }
    body = {"message_retention_days": 30, "group_text_retention_days": None}
    changed = http.put("/api/privacy/retention", headers=owner, json=body)
    assert changed.status_code == 200, changed.text
    got = changed.json()
    assert (got["message_retention_days"], got["group_text_retention_days"]) == (30, None)
    assert got["audit_retention_days"] == 1095  # not given: unchanged
    assert http.get("/api/privacy/retention", headers=owner).json() == got
    bad = http.put("/api/privacy/retention", headers=owner, json={"audit_retention_days": 90})
    assert bad.status_code in (400, 422) and "audit_retention_days" in bad.text


def test_retention_refused_without_the_permission(seeded: Seeded, http: TestClient) -> None:
    with seeded.runtime.sessions() as s, s.begin():
        reader = api_keys.create_key(session=s, workspace_id=seeded.workspace_id,
                                     kind=KeyKind.secret, name="audit", now=NOW,
                                     scopes=["audit:read"]).key  # fmt: skip
    assert http.get("/api/privacy/retention", headers=_auth(reader)).status_code == 200
    put = http.put(
        "/api/privacy/retention", headers=_auth(reader), json={"audit_retention_days": 400}
    )
    assert put.status_code == 403
    assert http.get("/api/privacy/retention").status_code == 401

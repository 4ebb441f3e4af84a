"""The privacy routes over HTTP (SQLite and PostgreSQL, migrated schema): export, erase with an
idempotency key, the audit log, and refusal without the permission."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from siyu.accounts import keys as api_keys
from siyu.accounts.models import KeyKind
from siyu.api.app import create_app
from siyu.core.runtime import Runtime
from tests.privacy.conftest import ALICE_PHONE, NOW, Seeded, seed


@pytest.fixture
def seeded(runtime: Runtime) -> Seeded:
    return seed(runtime)


@pytest.fixture
def http(seeded: Seeded) -> Iterator[TestClient]:
    with TestClient(create_app(seeded.runtime, flush_in_background=False)) as test_client:
        yield test_client


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _scoped_key(seeded: Seeded, scopes: list[str]) -> str:
    with seeded.runtime.sessions() as s, s.begin():
        return api_keys.create_key(session=s, workspace_id=seeded.workspace_id,
                                   kind=KeyKind.secret, name="limited", now=NOW,
                                   scopes=scopes).key  # fmt: skip


def test_export_erase_and_audit_over_http(seeded: Seeded, http: TestClient) -> None:
    owner = _auth(seeded.secret_key)
    exported = http.post(f"/api/persons/{seeded.alice}/export", headers=owner)
    assert exported.status_code == 200, exported.text
    doc = exported.json()
    assert ("phone", ALICE_PHONE) in {(i["type"], i["value"]) for i in doc["identities"]}
    assert doc["tables"]["points_accounts"][0]["balance"] == 30

    shown = http.get(f"/api/persons/{seeded.alice}/identifiers/unmasked", headers=owner)
    assert shown.status_code == 200, shown.text
    assert ALICE_PHONE in {i["value"] for i in shown.json()}

    erase = {**owner, "Idempotency-Key": "erase-alice"}
    first = http.post(f"/api/persons/{seeded.alice}/erase", headers=erase)
    assert first.status_code == 200, first.text
    again = http.post(f"/api/persons/{seeded.alice}/erase", headers=erase)
    assert again.json()["id"] == first.json()["id"] and again.json()["replayed"] is True
    assert http.post(f"/api/persons/{seeded.alice}/export", headers=owner).status_code == 404

    audit = http.get("/api/audit", headers=owner)
    assert audit.status_code == 200
    entries = audit.json()["entries"]
    assert [e["action"] for e in entries] == ["erase", "unmasked_view", "export"]
    assert all(e["actor"].startswith("key:") for e in entries)
    assert {e["subject"] for e in entries} == {first.json()["subject_digest"]}


def test_routes_refuse_without_the_permission(seeded: Seeded, http: TestClient) -> None:
    reader = _auth(_scoped_key(seeded, ["persons:read"]))
    for path in (f"/api/persons/{seeded.alice}/export", f"/api/persons/{seeded.alice}/erase"):
        assert http.post(path, headers=reader).status_code == 403
    unmasked = f"/api/persons/{seeded.alice}/identifiers/unmasked"
    assert http.get(unmasked, headers=reader).status_code == 403
    assert http.get("/api/audit", headers=reader).status_code == 403
    assert http.post(f"/api/persons/{seeded.alice}/erase").status_code == 401
    bad = http.get("/api/audit", headers=_auth(seeded.secret_key), params={"limit": 0})
    assert bad.status_code == 422

"""The fault suite runs real ``siyu serve`` / ``siyu jobs`` processes (see bench/faults*.py)."""

from __future__ import annotations

import pytest

from tests.conftest import fresh_pg_schema


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    """The operational store the scenario's processes use (PostgreSQL skips when down)."""
    if request.param == "postgresql":
        fresh_pg_schema("faults_probe")  # skips the test when the server is not reachable
    return str(request.param)


def assert_clean(checks: dict[str, object]) -> None:
    """Every check of a scenario is zero, empty or true."""
    bad = {k: v for k, v in checks.items() if not _clean(v)}
    assert not bad, f"fault checks failed: {bad}"


def _clean(value: object) -> bool:
    if isinstance(value, bool):  # False == 0: a failed boolean must not pass as a zero count
        return value
    return value in (0, [])

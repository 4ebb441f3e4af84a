"""Issue 7: SIGKILL ``siyu serve`` while clients send batches; nothing acknowledged is lost or
doubled, and the clients' retries (same message ids) land once. SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from bench import faults
from tests.faults.conftest import assert_clean


def test_a_killed_server_keeps_every_acknowledged_batch_once(backend: str) -> None:
    result = faults.server_kill(backend, clients=4, batches=6, size=20, kills=1)
    assert_clean(result["checks"])
    assert result["retried"] > 0, "the kill came when no client was sending"
    assert result["events_in_store"] == result["events_acked"] == 4 * 6 * 20


@pytest.mark.slow
def test_a_server_killed_again_and_again_keeps_every_acknowledged_batch_once(
    backend: str,
) -> None:
    result = faults.server_kill(backend, clients=8, batches=40, size=50, kills=4)
    assert_clean(result["checks"])
    assert len(result["acked_when_killed"]) == 4 and result["retried"] >= 4
    assert result["events_in_store"] == 8 * 40 * 50

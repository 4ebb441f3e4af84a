"""Issue 7: the disk fills under a running ``siyu serve`` (its data dir on a small tmpfs that a
ballast file fills). SQLite: writes answer 503 with a clear body, never a 2xx for data not
kept. PostgreSQL: collect still answers 2xx (the inbox is in PostgreSQL) while the flusher
fails. Either way, once the ballast goes the same server recovers: the flusher moves the
inbox by itself and every acknowledged event is in the event store once."""

from __future__ import annotations

import pytest

from bench import faults_disk
from tests.faults.conftest import assert_clean


def _run(backend: str, **sizes: int) -> dict[str, object]:
    result = faults_disk.disk_full(backend, **sizes)
    if "skipped" in result:
        pytest.skip(str(result["skipped"]))
    return result


def test_a_full_disk_refuses_or_keeps_and_recovers(backend: str) -> None:
    result = _run(backend, clients=3, batches=4, size=20)
    assert_clean(result["checks"])  # type: ignore[arg-type]
    assert result["events_in_store"] == result["events_acked"] == 3 * 4 * 20
    if backend == "sqlite":
        assert result["answers"]["503"] >= 3  # type: ignore[index]
        assert result["management_write"] == 503
        body = result["management_write_body"]["error"]  # type: ignore[index]
        assert body["type"] == "StoreError" and body["reason"] == "out of disk space"
    else:
        assert result["management_write"] == 201  # PostgreSQL still has room
        assert result["inbox_rows_while_full"] > 0  # type: ignore[operator]
        assert result["events_in_store_while_full"] < result["events_acked"]  # type: ignore[operator]


@pytest.mark.slow
def test_a_full_disk_under_more_clients(backend: str) -> None:
    result = _run(backend, clients=8, batches=30, size=50)
    assert_clean(result["checks"])  # type: ignore[arg-type]
    assert result["events_in_store"] == 8 * 30 * 50

"""A ``siyu import orders`` killed mid-file: the CSV's orders earn points (their customers are
enrolled by the orders' member numbers); the import is SIGKILLed after it committed part of the
file, then the same file is imported again. Every order is in once (dedupe ledger, event store,
profiles), earns its points once and balances are the sums of their entries; in the long
variant every member also ends as an uninterrupted import of the same file leaves it. SQLite
and PostgreSQL."""

from __future__ import annotations

import pytest

from bench import faults_import
from tests.faults.conftest import assert_clean


def test_an_import_killed_mid_file_then_run_again_counts_every_order_once(backend: str) -> None:
    result = faults_import.import_kill(backend, orders=4000, kills=1, compare_clean=False)
    assert result["final_run_exit"] == 0, result["final_run_stderr"]
    assert_clean(result["checks"])
    assert result["events_in_store"] == result["points_entries"] == 4000
    assert result["members"] == 1000
    if result["kills_mid_file"] == 0:  # pragma: no cover - only on a very fast machine
        pytest.skip("the import finished before the kill could land")
    assert result["final_run_duplicates"] == result["orders_committed_when_killed"][0]


@pytest.mark.slow
def test_an_import_killed_again_and_again(backend: str) -> None:
    result = faults_import.import_kill(backend, orders=20_000, kills=3)
    assert result["final_run_exit"] == 0, result["final_run_stderr"]
    assert result["clean_exit"] == 0, result["clean_stderr"]
    assert_clean(result["checks"])
    assert result["kills_mid_file"] >= 2

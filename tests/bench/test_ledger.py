"""The CI variant of the ledger benchmark: 32 clients on PostgreSQL, a few writes each."""

from __future__ import annotations

import pytest

from bench import ledger
from tests.conftest import fresh_pg_schema


@pytest.mark.postgres
def test_ledger_benchmark_keeps_every_invariant() -> None:
    fresh_pg_schema("bench_probe")  # skips when the server is down
    result = ledger.run(clients=32, ops_per_client=5, members=64)
    assert result["ledger"]["writes"] > 0 and result["bare_insert_per_s"] > 0
    assert result["ledger_portable_path"]["writes"] > 0
    assert result["invariants"] == {
        "balance_equals_sum_of_entries": True,
        "negative_balances": 0,
        "duplicate_keys": 0,
        "verify_mismatches": 0,
    }

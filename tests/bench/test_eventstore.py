"""The CI variant of the event store benchmark: both stores and both bare engines, small."""

from __future__ import annotations

from bench import eventstore


def test_eventstore_benchmark_compares_both_stores_and_bare_engines() -> None:
    result = eventstore.run(events=3_000)  # raises if any of the six GMV answers differs
    assert result["flushes"] == 1 and result["orders"] > 0 and result["gmv_fen"] > 0
    for name in ("duckdb_store", "chdb_store", "bare_duckdb", "bare_chdb"):
        assert result[name]["events_per_s"] > 0 and result[name]["gmv_ms"] > 0
    assert set(result["ratios"]) == {
        "append_chdb_store_vs_duckdb_store",
        "gmv_chdb_store_vs_duckdb_store",
        "gmv_compacted_chdb_store_vs_duckdb_store",
        "append_duckdb_store_vs_bare_duckdb",
        "append_chdb_store_vs_bare_chdb",
        "gmv_duckdb_store_vs_bare_duckdb",
        "gmv_chdb_store_vs_bare_chdb",
    }
    assert all(ratio > 0 for ratio in result["ratios"].values())

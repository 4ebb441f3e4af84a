"""The CI variant of the benchmarks: the real paths, small sizes (``make bench`` runs them full)."""

from __future__ import annotations

from bench import collect, ingest_stages


def test_collect_benchmark_runs_through_a_real_server() -> None:
    result = collect.run(events=1000)
    assert result["siyu_http"]["events"] == 1000
    assert result["siyu_http"]["events_per_s"] > 0
    assert result["bare_duckdb_append"]["events_per_s"] > 0
    assert result["ratio_vs_bare"] > 0
    assert result["siyu_http"]["rss_mb_peak"] > 0


def test_stage_timing_covers_every_stage() -> None:
    result = ingest_stages.run(batch=500, events=1000)
    assert set(result["us_per_event"]) == {
        "parse",
        "claim",
        "identity",
        "profiles",
        "enqueue",
        "commit",
        "flush",
    }

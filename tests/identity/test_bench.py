from __future__ import annotations

from bench.identity_rebuild import run


def test_bench_runs_small() -> None:
    figures = run(links=20_000)
    assert {"links", "identifiers", "rebuild", "scipy", "ratio", "max_rss_mib"} <= set(figures)
    assert figures["rebuild"]["seconds"] >= 0 and figures["scipy"]["peak_rss_mib"] > 0
    # Limits only ever split components, never join them.
    assert figures["rebuilt_persons"] >= figures["scipy_components"]

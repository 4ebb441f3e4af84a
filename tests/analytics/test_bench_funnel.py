"""The CI variant of bench/funnel.py: small N, the real paths, the same answer as windowFunnel."""

from __future__ import annotations

from bench import funnel


def test_funnel_benchmark_runs_and_agrees_with_windowfunnel() -> None:
    result = funnel.run(events=30_000, repeat=1)
    assert result["events"] > 20_000
    assert result["siyu_agrees_with_windowfunnel"]
    steps = result["siyu_steps"]
    assert steps[0] > 0 and steps == sorted(steps, reverse=True)
    assert result["ratio_to_fastest_peer"] > 0

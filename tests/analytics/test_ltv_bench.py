"""CI smoke variant of bench/ltv.py: a small simulated fit recovers its parameters."""

from __future__ import annotations

from bench import ltv


def test_ltv_benchmark_quick_variant() -> None:
    result = ltv.run(customers=5_000, compare=False)
    assert result["customers"] == 5_000
    assert result["max_rel_error_vs_truth"] < 0.35  # sampling noise at 5,000 customers
    assert result["cdnow"]["max_rel_diff_vs_published"] < 0.005
    assert result["siyu_fit_seconds"] < 30

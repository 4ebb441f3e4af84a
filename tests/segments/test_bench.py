"""The CI variant of bench/segments.py: compiled and raw SQL select the same persons."""

from __future__ import annotations

from bench import segments


def test_segment_benchmark_agrees_with_raw_sql() -> None:
    result = segments.run(persons=20_000, threads=1)
    assert result["members"] > 0
    assert result["siyu_compiled_s"] > 0 and result["raw_sql_s"] > 0

"""The CI variant of the journeys benchmark: the real engine, a few thousand persons."""

from __future__ import annotations

import pytest

from bench import journeys


@pytest.mark.postgres
def test_journeys_benchmark_checks_nobody_is_lost_or_duplicated() -> None:
    result = journeys.run(2_000)
    for backend in ("sqlite", "postgresql"):
        run = result[backend]
        assert run["transitions"] == 2_000 * 5
        assert run["transitions_per_s"] > 0 and run["bare_update_rows_per_s"] > 0
        checks = run["checks"]
        assert checks["persons_lost"] == checks["persons_duplicated"] == 0
        assert checks["states_not_stepped_exactly_twice"] == 0
        assert checks["transitions_logged"] == checks["transitions_expected"]
        assert checks["actions"] == checks["actions_expected"]
        assert checks["actions_duplicated"] == 0
    assert result["postgresql"]["workers"] == 2

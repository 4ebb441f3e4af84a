"""The birthday-gift and tier-refresh jobs killed mid-run (``siyu jobs run --job …`` SIGKILLed
after committing part of their members), then run again once the killed claim's lease is past:
each birthday gift (points and coupon) given once per member and year, none to others; tiers,
tier history and upgrade coupons the same as an uninterrupted refresh of the same members;
balances the sums of their entries. SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from bench import faults_jobs
from tests.faults.conftest import assert_clean


def test_a_killed_birthday_run_gives_each_gift_once(backend: str) -> None:
    result = faults_jobs.birthday_kill(backend, persons=600, kills=1)
    assert result["final_run_exit"] == 0, result["final_run_output"]
    assert_clean(result["checks"])
    assert result["gift_entries"] == result["gift_coupons"] == result["birthdays_due"] == 360
    if result["kills_mid_run"] == 0:  # pragma: no cover - only on a very fast machine
        pytest.skip("the run finished before the kill could land")


def test_a_killed_tier_refresh_ends_as_a_clean_one(backend: str) -> None:
    result = faults_jobs.tier_kill(backend, persons=800, kills=1)
    assert result["clean_run_exit"] == 0, result["clean_run_output"]
    assert result["final_run_exit"] == 0, result["final_run_output"]
    assert_clean(result["checks"])
    assert result["tiers_after"] == {"gold": 200, "normal": 400, "silver": 200}
    if result["kills_mid_run"] == 0:  # pragma: no cover - only on a very fast machine
        pytest.skip("the run finished before the kill could land")


@pytest.mark.slow
def test_birthday_and_tier_runs_killed_again_and_again(backend: str) -> None:
    birthdays = faults_jobs.birthday_kill(backend, persons=4000, kills=3)
    assert birthdays["final_run_exit"] == 0, birthdays["final_run_output"]
    assert_clean(birthdays["checks"])
    assert birthdays["kills_mid_run"] >= 2
    tiers = faults_jobs.tier_kill(backend, persons=4000, kills=3)
    assert tiers["final_run_exit"] == 0, tiers["final_run_output"]
    assert_clean(tiers["checks"])
    assert tiers["kills_mid_run"] >= 2

"""Historical and predictive LTV over a known history, both stores and both engines."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from siyu.analytics import ltv
from siyu.analytics import value_service as value
from siyu.analytics.order_history import OrderDays, day_number, per_person
from siyu.core.errors import NotFoundError
from siyu.core.runtime import Runtime
from tests.analytics.layer_data import NOW, open_loaded

TODAY = NOW.date()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def loaded(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Runtime, str]]:
    rt, ws = open_loaded(tmp_path, request.param)
    yield rt, ws
    rt.close()


def test_historical_ltv_by_cohort(loaded: tuple[Runtime, str]) -> None:
    rt, ws = loaded
    found = value.historical_ltv(runtime=rt, workspace_id=ws, until=TODAY)
    assert (found.customers, found.orders, found.revenue_fen) == (4, 12, 195_000)
    assert found.revenue_per_customer_fen == 48_750
    assert found.margin_per_customer_fen == 29_250  # default margin rate 0.60
    assert [c.cohort for c in found.cohorts] == ["2025-10", "2026-02", "2026-05", "2026-10"]
    fay = found.cohorts[0]
    assert fay.cumulative_revenue_per_customer_fen[0] == 2_000
    assert fay.cumulative_revenue_per_customer_fen[-1] == 6_000
    assert len(fay.cumulative_revenue_per_customer_fen) == 14  # Oct 2025 … Nov 2026
    value.put_ltv_settings(
        runtime=rt, workspace_id=ws, settings=ltv.LtvSettings(margin_rate=Decimal("0.35")), now=NOW
    )
    assert value.historical_ltv(runtime=rt, workspace_id=ws, until=TODAY).margin_fen == 68_250


def test_fit_then_predict_agree_on_both_engines(loaded: tuple[Runtime, str]) -> None:
    rt, ws = loaded
    with pytest.raises(NotFoundError):
        value.predict_ltv(runtime=rt, workspace_id=ws, as_of=TODAY)
    models = [
        value.fit_ltv(
            runtime=rt, workspace_id=ws, until=TODAY, time_unit="week", now=NOW, dialect=d
        )
        for d in ("duckdb", "clickhouse")
    ]
    params = [(m.customers, m.repeat_customers, m.r, m.alpha, m.a, m.b, m.p) for m in models]
    assert params[0] == params[1]
    assert models[0].customers == 4 and models[0].repeat_customers == 3
    found = value.predict_ltv(runtime=rt, workspace_id=ws, as_of=TODAY, horizon_days=90)
    assert found.customers == 4
    assert all(0 <= i.p_alive <= 1 for i in found.items)
    revenue = [i.expected_revenue_fen for i in found.items]
    assert revenue == sorted(revenue, reverse=True)
    assert {i.person_id: i.repeat_days for i in found.items}["ann"] == 4  # two orders, one day


def test_customer_summary_counts_purchase_days() -> None:
    rows = OrderDays(
        person=np.array(["a", "a", "a", "b"], dtype=object),
        day=np.array([100, 107, 121, 120]),
        orders=np.array([1, 3, 1, 1]),
        revenue_fen=np.array([1_000, 6_000, 2_000, 500]),
        last_us=np.array([0, 0, 0, 0]),
    )
    buyers = per_person(rows)
    summary = ltv.customer_summary(buyers, until_day=128, unit="week")
    np.testing.assert_allclose(summary.x, [2, 0])
    np.testing.assert_allclose(summary.t_x, [3, 0])
    np.testing.assert_allclose(summary.big_t, [4, 8 / 7])
    np.testing.assert_allclose(summary.m, [4_000, 0])
    assert day_number(TODAY) - day_number(TODAY.replace(day=1)) == TODAY.day - 1

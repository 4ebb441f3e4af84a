"""The analytics page's reads (siyu.console.pages.analytics_load) over a picked date range on
SQLite and PostgreSQL: the range is local days in the workspace's zone, applied to the
funnel, retention, GMV, attribution, ROI and LTV; no range keeps each chart's own window; a
bad or backwards range is refused naming ``from`` or ``to``."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from siyu.accounts.permissions import Role
from siyu.analytics.periods import Period as Days
from siyu.console.auth import WorkspaceRef
from siyu.console.pages import analytics_load as load
from siyu.console.pages import overview
from siyu.console.views import ranges as views
from siyu.core.errors import InvalidInputError
from siyu.core.runtime import Runtime
from siyu.workspaces.models import WorkspaceCreated
from tests.analytics.events import Row, table_of
from tests.api.conftest import keys, runtime  # noqa: F401  (fixtures on both stores)

NOW = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)  # noon in Shanghai
CONVERSION = ("Product Viewed", "Product Added", "Order Completed")


def _ref(ws: str) -> WorkspaceRef:
    return WorkspaceRef(
        id=ws, name="测试品牌", timezone="Asia/Shanghai", role=Role.owner, email="o@x.cn",
        user_id="u1",
    )  # fmt: skip


def _shop(person: str, at: datetime) -> list[Row]:
    return [
        Row(person, name, at + timedelta(minutes=i), revenue_fen=8800 if i == 2 else None)
        for i, name in enumerate(CONVERSION)
    ]


def test_a_picked_range_applies_to_every_windowed_chart(
    runtime: Runtime,  # noqa: F811
    keys: WorkspaceCreated,  # noqa: F811
) -> None:
    ws = keys.workspace_id
    # p1 shops on 10 Nov; p2 views on 1 Oct, outside the default 30 days; p3 shops at 23:30
    # Shanghai on 31 Oct (15:30 UTC): in a range starting 1 Nov only if days were UTC days.
    rows = [
        *_shop("p1", datetime(2026, 11, 10, 2, 0, tzinfo=UTC)),
        Row("p2", "Product Viewed", datetime(2026, 10, 1, 2, 0, tzinfo=UTC)),
        *_shop("p3", datetime(2026, 10, 31, 15, 30, tzinfo=UTC)),
    ]
    runtime.events.append(table_of(rows, workspace_id=ws))
    ref = _ref(ws)

    def first_step(span: Days | None) -> tuple[int, int]:
        steps = load.funnel(runtime=runtime, workspace=ref, now=NOW, span=span).total.steps
        return steps[0].persons, steps[-1].persons

    assert first_step(None) == (2, 2)  # the last 30 days: p1 and p3
    november = load.chosen_range(ref, NOW, date(2026, 11, 1), date(2026, 11, 20))
    assert november is not None and november.start == datetime(2026, 10, 31, 16, tzinfo=UTC)
    assert first_step(november) == (1, 1)  # p3's 23:30 on 31 Oct is October in Shanghai
    october = load.chosen_range(ref, NOW, date(2026, 9, 25), date(2026, 10, 5))
    assert first_step(october) == (1, 0)  # p2 viewed, nobody ordered

    gmv = load.gmv(runtime=runtime, workspace=ref, now=NOW, span=november)
    assert (gmv.period, gmv.current.gmv_fen, gmv.current.orders) == (november, 8800, 1)
    assert gmv.compare_to.last_day == date(2026, 10, 31) and gmv.previous.gmv_fen == 8800
    assert load.gmv(runtime=runtime, workspace=ref, now=NOW).period.days == 7

    retention = load.retention(runtime=runtime, workspace=ref, now=NOW, span=november)
    assert retention.query.periods == 3 and retention.query.start == november.start
    assert sum(c.persons for c in retention.cohorts) == 1
    assert load.retention(runtime=runtime, workspace=ref, now=NOW).query.periods == 8

    roi = load.roi(runtime=runtime, workspace=ref, now=NOW, span=october)
    assert roi.query.period == october
    models = load.attribution(runtime=runtime, workspace=ref, now=NOW, span=november)
    assert all(m.query.period == november for m in models) and models
    assert {m.revenue_fen for m in models} == {8800}
    cohorts = load.ltv(runtime=runtime, workspace=ref, now=NOW, span=october)
    assert cohorts.customers == 0  # no order on or before 5 Oct
    assert load.ltv(runtime=runtime, workspace=ref, now=NOW, span=november).customers == 2


def test_range_inputs_name_the_field_they_refuse() -> None:
    ref = _ref("ws_x")
    assert load.chosen_range(ref, NOW, *views.range_days("", " ")) is None
    since = load.chosen_range(ref, NOW, *views.range_days("2026-11-20", ""))
    assert since is not None and (since.first_day, since.last_day) == (
        date(2026, 11, 20),
        date(2026, 11, 28),
    )
    with pytest.raises(InvalidInputError) as bad:
        views.range_days("2026-13-01", "")
    assert bad.value.field == "from"
    with pytest.raises(InvalidInputError) as bad:
        views.range_days("", "yesterday")
    assert bad.value.field == "to"
    with pytest.raises(InvalidInputError) as backwards:
        load.chosen_range(ref, NOW, date(2026, 11, 20), date(2026, 11, 1))
    assert backwards.value.field == "to"


def test_the_overview_and_pareto_follow_a_picked_range(
    runtime: Runtime,  # noqa: F811
    keys: WorkspaceCreated,  # noqa: F811
) -> None:
    ws = keys.workspace_id
    # p1 shops on 10 Nov, p3 at 23:30 Shanghai on 31 Oct (15:30 UTC), p4 on 20 Nov
    rows = [
        *_shop("p1", datetime(2026, 11, 10, 2, 0, tzinfo=UTC)),
        *_shop("p3", datetime(2026, 10, 31, 15, 30, tzinfo=UTC)),
        *_shop("p4", datetime(2026, 11, 20, 2, 0, tzinfo=UTC)),
    ]
    runtime.events.append(table_of(rows, workspace_id=ws))
    ref = _ref(ws)
    november = load.chosen_range(ref, NOW, date(2026, 11, 1), date(2026, 11, 15))
    assert november is not None

    default = overview.load(runtime=runtime, workspace=ref, now=NOW)
    assert default.gmv.period.days == 7 and default.gmv.current.orders == 0
    assert (default.first_day, default.last_day) == (date(2026, 10, 29), date(2026, 11, 27))
    picked = overview.load(runtime=runtime, workspace=ref, now=NOW, span=november)
    assert picked.gmv.period == november and picked.board.period == november
    assert (picked.gmv.current.orders, picked.gmv.current.gmv_fen) == (1, 8800)  # p1 only
    assert picked.gmv.previous.orders == 1  # p3's local 31 Oct is the day before
    assert (picked.first_day, picked.last_day) == (date(2026, 11, 1), date(2026, 11, 15))
    assert picked.repurchase.query.end == november.end

    assert load.pareto(runtime=runtime, workspace=ref, now=NOW).buyers == 3
    assert load.pareto(runtime=runtime, workspace=ref, now=NOW, span=november).buyers == 2

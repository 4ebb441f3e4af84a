"""The activities page's calls (siyu.console.pages.activities_load) on SQLite and PostgreSQL,
with the create form's values: every kind — lottery, group-buy, assist (助力), bargain (砍价),
check-in (签到) — stored as the domain keeps it, and a form missing a kind's setting refused
with the domain's message naming the field."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from siyu.activities.models import ActivityKind
from siyu.console.pages import activities_load as load
from siyu.console.views import activities as views
from siyu.core.clock import utcnow
from siyu.core.runtime import Runtime
from siyu.workspaces.models import WorkspaceCreated
from tests.api.conftest import keys, runtime  # noqa: F401  (fixtures on both stores)


def _form(kind: str, **values: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": f"{kind} 活动",
        "kind": kind,
        "days": 10,
        "budget_yuan": 50.0,
        "stock": None,
        "points": 30.0,
        "cost_fen": 5.0,
        "win_percent": 20,
        "team_size": 3,
        "group_price_yuan": None,
        "helpers_needed": 4.0,
        "start_price_yuan": None,
        "floor_price_yuan": None,
        "days_required": 7.0,
    }
    return base | values


def test_every_form_kind_is_created_and_read_back(
    runtime: Runtime,  # noqa: F811
    keys: WorkspaceCreated,  # noqa: F811
) -> None:
    ws, now = keys.workspace_id, utcnow()
    forms = {
        "lottery": _form("lottery"),
        "group_buy": _form("group_buy", group_price_yuan=19.9),
        "assist": _form("assist"),
        "bargain": _form("bargain", start_price_yuan=99.0, floor_price_yuan=9.9),
        "signup": _form("signup", days_required=5.0),
    }
    for values in forms.values():
        body = views.activity_from_form(values, now)
        load.create(runtime=runtime, workspace_id=ws, activity=body, now=now)
    cards = {c.activity.name: c.activity for c in load.board(runtime=runtime, workspace_id=ws)}
    assert {views.form_kind(a) for a in cards.values()} == set(views.FORM_KINDS)

    assist, bargain = cards["assist 活动"], cards["bargain 活动"]
    assert assist.kind == bargain.kind == ActivityKind.ASSIST
    assert assist.helpers_needed == 4 and assist.start_price_fen is None
    assert (bargain.start_price_fen, bargain.floor_price_fen) == (9900, 990)
    assert bargain.reward is not None and bargain.reward.amount == 30
    signup = cards["signup 活动"]
    assert signup.kind == ActivityKind.SIGNUP and signup.days_required == 5
    assert signup.reward is not None and (signup.reward.amount, signup.reward.cost_fen) == (30, 5)
    assert signup.budget_fen == 5000 and (signup.ends_at - signup.starts_at).days == 10
    group = cards["group_buy 活动"]
    assert (group.team_size, group.group_price_fen) == (3, 1990)
    assert views.activity_row(bargain, None, now, "zh")["kind"] == "砍价"
    assert views.activity_row(signup, None, now, "en")["kind"] == "Check-in"


@pytest.mark.parametrize(
    ("kind", "values", "field", "says"),
    [
        ("assist", {"helpers_needed": None}, "", "needs helpers_needed"),
        ("assist", {"helpers_needed": 0.0}, "helpers_needed", "greater than or equal to 1"),
        ("bargain", {"start_price_yuan": 20.0}, "", "both start_price_fen and floor_price_fen"),
        (
            "bargain",
            {"start_price_yuan": 5.0, "floor_price_yuan": 8.0},
            "",
            "floor_price_fen must not exceed start_price_fen",
        ),
        (
            "bargain",
            {"start_price_yuan": -1.0, "floor_price_yuan": -2.0},
            "start_price_fen",
            "equal to 0",
        ),
        ("signup", {"days_required": None}, "", "needs days_required"),
        ("signup", {"days_required": 400.0}, "days_required", "less than or equal to 366"),
        ("signup", {"points": None}, "", "needs reward"),
    ],
)
def test_a_kind_missing_its_settings_is_refused_naming_the_field(
    kind: str, values: dict[str, Any], field: str, says: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        views.activity_from_form(_form(kind, **values), utcnow())
    first = refused.value.errors()[0]
    assert ".".join(str(p) for p in first["loc"]) == field
    assert says in first["msg"]

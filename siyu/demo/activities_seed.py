"""One running activity of each kind in the demo brand, with participation history:
a lottery, a group-buy, a bargain and a check-in campaign (idempotent: skipped when present)."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from siyu.activities import checkins, teams
from siyu.activities import service as activities
from siyu.activities.models import ActionCreate, ActivityCreate, Participation
from siyu.core.errors import ConflictError
from siyu.core.runtime import Runtime
from siyu.identity.tables import identity_persons
from siyu.pipeline import activities as flow
from siyu.pipeline.activities import Tracked

PEOPLE = 60
_POINTS = {"kind": "points", "amount": 200, "cost_fen": 200}


def _specs(now: datetime) -> list[dict[str, Any]]:
    window = {"starts_at": now - timedelta(days=6), "ends_at": now + timedelta(days=8)}
    return [
        {**window, "name": "山茶集·双12幸运抽奖", "kind": "lottery", "budget_fen": 200_000,
         "limits": {"per_day": 1, "total": 3},
         "prizes": [
             {"name": "谢谢参与", "kind": "none", "weight": 70},
             {"name": "50 积分", "kind": "points", "amount": 50, "weight": 25, "cost_fen": 50},
             {"name": "山茶花护手霜", "kind": "goods", "weight": 5, "stock": 20, "cost_fen": 3900},
         ]},
        {**window, "name": "山茶花精华·三人团", "kind": "group_buy", "team_size": 3,
         "team_hours": 48, "group_price_fen": 19900, "stock": 90, "reward": _POINTS},
        {**window, "name": "好友助力·砍到 99 元", "kind": "assist", "helpers_needed": 5,
         "start_price_fen": 29900, "floor_price_fen": 9900, "stock": 30, "reward": _POINTS},
        {**window, "name": "21 天护肤打卡", "kind": "signup", "days_required": 5, "stock": 500,
         "reward": {"kind": "points", "amount": 500, "cost_fen": 500}},
    ]  # fmt: skip


def _people(runtime: Runtime, workspace_id: str) -> list[str]:
    p = identity_persons.c
    with runtime.sessions() as session:
        return list(
            session.execute(
                select(p.id)
                .where(p.workspace_id == workspace_id, p.survivor_id.is_(None))
                .order_by(p.rank)
                .limit(PEOPLE)
            ).scalars()
        )


class _Seeder:
    """Runs demo actions, keeping what they did so events and rewards go in one batch each."""

    def __init__(self, runtime: Runtime, workspace_id: str) -> None:
        self.runtime, self.workspace_id = runtime, workspace_id
        self.done: list[Participation] = []

    def act(self, call: Callable[..., Any], at: datetime, who: str, **kwargs: Any) -> str | None:
        """The action's team id (or "" when none); None when refused."""
        try:
            entry = flow.take_part(
                runtime=self.runtime, workspace_id=self.workspace_id, call=call, now=at,
                pay=False, emit=False, request=ActionCreate(person_id=who), **kwargs,
            )  # fmt: skip
        except ConflictError:
            return None  # refusals are part of the history too
        self.done.append(entry)
        return entry.team_id or ""

    def finish(self, now: datetime) -> None:
        """Track every action's events, then pay the rewards through loyalty."""
        flow.emit_events(runtime=self.runtime, workspace_id=self.workspace_id, entries=self.done)
        flow.pay_activity_rewards(runtime=self.runtime, workspace_id=self.workspace_id, now=now)


def _views_and_orders(
    runtime: Runtime, ws: str, act: str, people: list[str], now: datetime, rng: random.Random
) -> None:
    events: list[Tracked] = []
    for n, who in enumerate(people):
        at = now - timedelta(days=5, minutes=-n)
        events.append(Tracked(who, "activity_viewed", act, at, f"demo:{act}:v:{who}"))
        if n % 3 == 0:
            events.append(Tracked(who, "activity_shared", act, at, f"demo:{act}:s:{who}"))
        if n % 4 == 0:
            revenue = {"revenue_fen": rng.choice([9900, 19900, 29900])}
            late = at + timedelta(hours=2)
            events.append(
                Tracked(who, "Order Completed", act, late, f"demo:{act}:o:{who}", revenue)
            )
    flow.track(runtime=runtime, workspace_id=ws, events=events, now=now)


def _lottery(run: _Seeder, act: str, people: list[str], start: datetime) -> None:
    for day in range(3):
        for who in people[day * 10 : day * 10 + 25]:
            run.act(activities.draw, start + timedelta(days=day), who, activity_id=act)


def _teams(run: _Seeder, group: str, assist: str, people: list[str], start: datetime) -> None:
    later = start + timedelta(hours=1)
    for t in range(4):  # three full teams, one still open
        lead, *rest = people[t * 3 : t * 3 + 3]
        team = run.act(teams.start, start, lead, activity_id=group)
        for who in rest[: 2 if t < 3 else 1] if team else []:
            run.act(teams.join, later, who, team_id=team)
    for starter, helpers in ((people[20], people[30:35]), (people[21], people[40:43])):
        team = run.act(teams.start, start, starter, activity_id=assist)
        for who in helpers if team else []:  # one bargain done, one halfway
            run.act(teams.help_team, later, who, team_id=team)


def _checkins(run: _Seeder, act: str, people: list[str], start: datetime) -> None:
    for n, who in enumerate(people[:12]):
        run.act(checkins.register, start, who, activity_id=act)
        for day in range(5 if n < 6 else 2):
            run.act(checkins.check_in, start + timedelta(days=day), who, activity_id=act)


def seed_activities(runtime: Runtime, *, workspace_id: str, now: datetime) -> list[str]:
    """Create the four demo activities and their history; the ids (existing ones if seeded)."""
    with runtime.sessions() as session, session.begin():
        existing = activities.list_activities(session=session, workspace_id=workspace_id)
        if existing:
            return [a.id for a in existing]
        ids = [
            activities.create_activity(
                session=session, workspace_id=workspace_id,
                activity=ActivityCreate.model_validate(spec), now=now - timedelta(days=6),
            ).id
            for spec in _specs(now)
        ]  # fmt: skip
    people = _people(runtime, workspace_id)
    rng = random.Random(7)
    for act in ids:
        _views_and_orders(runtime, workspace_id, act, people, now, rng)
    lottery, group, assist, signup = ids
    start = now - timedelta(days=5)
    run = _Seeder(runtime, workspace_id)
    _lottery(run, lottery, people, start)
    _teams(run, group, assist, people, start)
    _checkins(run, signup, people, start)
    run.finish(now)
    return ids

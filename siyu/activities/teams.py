"""Group-buy (拼团) teams and assist/bargain (助力/砍价) runs: open, join, help, expire."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from siyu.activities import entries, guards, rules
from siyu.activities.entries import Context
from siyu.activities.models import (
    ActionCreate,
    Activity,
    ActivityKind,
    Participation,
    Refusal,
    Team,
)
from siyu.activities.service import get_activity, require_kind
from siyu.activities.tables import activity_members, activity_teams
from siyu.core.errors import NotFoundError
from siyu.core.ids import new_id

_ROLE = {ActivityKind.GROUP_BUY: ("member", "member"), ActivityKind.ASSIST: ("starter", "helper")}


def _team(row: Any) -> Team:
    return Team.model_validate({k: v for k, v in row._mapping.items() if k != "workspace_id"})


def get_team(*, session: Session, workspace_id: str, team_id: str) -> Team:
    """One team or assist run. Raises NotFoundError."""
    t = activity_teams.c
    row = session.execute(
        select(activity_teams).where(t.workspace_id == workspace_id, t.id == team_id)
    ).first()
    if row is None:
        raise NotFoundError(f"no team {team_id}", field="team_id")
    return _team(row)


def members_of(*, session: Session, workspace_id: str, team_id: str) -> list[str]:
    """Persons in a team (leader first for group-buys), or helpers of an assist run."""
    m = activity_members.c
    return list(
        session.execute(
            select(m.person_id)
            .where(m.workspace_id == workspace_id, m.team_id == team_id)
            .order_by(m.joined_at, m.person_id)
        ).scalars()
    )


def _already(ctx: Context, role: str) -> bool:
    m = activity_members.c
    found = ctx.session.execute(
        select(m.person_id).where(
            m.workspace_id == ctx.workspace_id,
            m.activity_id == ctx.activity.id,
            m.role == role,
            m.person_id == ctx.person,
        )
    ).first()
    return found is not None


def _add_member(ctx: Context, role: str, team_id: str, cut_fen: int | None = None) -> None:
    ctx.session.execute(
        insert(activity_members).values(
            workspace_id=ctx.workspace_id, activity_id=ctx.activity.id, role=role,
            person_id=ctx.person, team_id=team_id, cut_fen=cut_fen, joined_at=ctx.now,
        )
    )  # fmt: skip


def _units(activity: Activity) -> tuple[int, int]:
    """Stock units and budget a team holds from its start until it completes or expires."""
    reward_cost = activity.reward.cost_fen if activity.reward else 0
    if activity.kind == ActivityKind.GROUP_BUY:
        size = activity.team_size or 2
        return size, reward_cost * size
    return 1, reward_cost


def _start(ctx: Context) -> Participation:
    activity = ctx.activity
    role = _ROLE[activity.kind][0]
    if _already(ctx, role):
        raise guards.Refused("already_joined", "person_id", f"already a {role} in this activity")
    units, cost = _units(activity)
    if not guards.take_stock(ctx.session, ctx.workspace_id, activity, units):
        raise guards.Refused("out_of_stock", "activity_id", "no stock left for a new team")
    if not guards.take_budget(ctx.session, ctx.workspace_id, activity, cost):
        raise guards.Refused("budget_spent", "activity_id", "the activity's budget is spent")
    group = activity.kind == ActivityKind.GROUP_BUY
    team = Team(
        id=new_id("atm"),
        activity_id=activity.id,
        leader_id=ctx.person,
        size=(activity.team_size if group else activity.helpers_needed) or 1,
        members=1 if group else 0,
        price_fen=activity.group_price_fen if group else activity.start_price_fen,
        status="open",
        deadline=min(ctx.now + timedelta(hours=activity.team_hours), activity.ends_at),
        created_at=ctx.now,
        completed_at=None,
    )
    ctx.session.execute(
        insert(activity_teams).values(workspace_id=ctx.workspace_id, **team.model_dump())
    )
    _add_member(ctx, role, team.id)
    return ctx.record(team_id=team.id, detail={"role": "leader"})


def start(
    *,
    session: Session,
    workspace_id: str,
    activity_id: str,
    request: ActionCreate,
    now: datetime,
    idempotency_key: str | None = None,
) -> Participation | Refusal:
    """Open a group-buy team (the leader is its first member) or start an assist run; both
    hold stock and budget until they complete or expire.

    Raises:
        NotFoundError: no such activity or person.
        InvalidInputError: the activity is a lottery or a sign-up.
    """
    activity = get_activity(session=session, workspace_id=workspace_id, activity_id=activity_id)
    require_kind(activity, ActivityKind.GROUP_BUY, ActivityKind.ASSIST)
    return entries.act(
        session=session, workspace_id=workspace_id, activity=activity, action="start",
        request=request, now=now, idempotency_key=idempotency_key, body=_start,
    )  # fmt: skip


def _claim_place(ctx: Context, team: Team) -> Team:
    """One more member/helper by a conditional UPDATE on the team row (its lock serialises
    racers), then the team as it is now."""
    if team.activity_id != ctx.activity.id:
        raise guards.Refused("wrong_team", "team_id", f"team {team.id} is of another activity")
    if team.status != "open" or ctx.now >= team.deadline:
        raise guards.Refused("team_closed", "team_id", f"team {team.id} is {team.status}")
    t = activity_teams.c
    done = ctx.session.execute(
        update(activity_teams)
        .where(
            t.workspace_id == ctx.workspace_id,
            t.id == team.id,
            t.status == "open",
            t.members < t.size,
        )
        .values(members=t.members + 1)
    )
    if not done.rowcount:  # type: ignore[attr-defined]
        raise guards.Refused("team_full", "team_id", f"team {team.id} is full")
    return get_team(session=ctx.session, workspace_id=ctx.workspace_id, team_id=team.id)


def _complete(ctx: Context, team: Team, rewarded: list[str]) -> None:
    t = activity_teams.c
    ctx.session.execute(
        update(activity_teams)
        .where(t.workspace_id == ctx.workspace_id, t.id == team.id)
        .values(status="complete", completed_at=ctx.now)
    )
    reward = ctx.activity.reward
    assert reward is not None  # validated at creation
    for person in rewarded:
        entries.add_reward(
            ctx.session, ctx.workspace_id, ctx.activity.id, person, reward,
            reason=f"{ctx.activity.kind.value} complete",
            key=f"act:{team.id}:{person}", now=ctx.now,
        )  # fmt: skip


def _join(ctx: Context, team: Team) -> Participation:
    if _already(ctx, "member"):
        raise guards.Refused("already_joined", "person_id", "already in a team of this activity")
    guards.check_related(ctx.session, ctx.workspace_id, ctx.activity, team.leader_id, ctx.person)
    now_team = _claim_place(ctx, team)
    _add_member(ctx, "member", team.id)
    detail: dict[str, Any] = {"members": now_team.members, "size": now_team.size}
    if now_team.members == now_team.size:
        everyone = members_of(session=ctx.session, workspace_id=ctx.workspace_id, team_id=team.id)
        _complete(ctx, now_team, everyone)
        detail["completed"] = everyone
    return ctx.record(team_id=team.id, detail=detail)


def _help(ctx: Context, team: Team) -> Participation:
    if _already(ctx, "helper"):
        raise guards.Refused("already_helped", "person_id", "helps once per campaign")
    guards.check_related(ctx.session, ctx.workspace_id, ctx.activity, team.leader_id, ctx.person)
    now_team = _claim_place(ctx, team)
    cut = None
    floor = ctx.activity.floor_price_fen
    if floor is not None and now_team.price_fen is not None:
        left = now_team.size - now_team.members + 1
        cut = rules.bargain_cut(now_team.price_fen - floor, left)
        t = activity_teams.c
        ctx.session.execute(
            update(activity_teams)
            .where(t.workspace_id == ctx.workspace_id, t.id == team.id)
            .values(price_fen=t.price_fen - cut)
        )
    _add_member(ctx, "helper", team.id, cut)
    detail: dict[str, Any] = {"helpers": now_team.members, "needed": now_team.size, "cut_fen": cut}
    if now_team.members == now_team.size:
        _complete(ctx, now_team, [team.leader_id])
        detail["completed"] = [team.leader_id]
    return ctx.record(team_id=team.id, detail=detail)


def join(
    *,
    session: Session,
    workspace_id: str,
    team_id: str,
    request: ActionCreate,
    now: datetime,
    idempotency_key: str | None = None,
) -> Participation | Refusal:
    """Join a group-buy team (once per activity; not the leader nor who shares a device or
    phone with them). The member who fills the team completes it: every member's reward.

    Raises:
        NotFoundError: no such team or person.
    """
    team = get_team(session=session, workspace_id=workspace_id, team_id=team_id)
    activity = get_activity(
        session=session, workspace_id=workspace_id, activity_id=team.activity_id
    )
    require_kind(activity, ActivityKind.GROUP_BUY)
    return entries.act(
        session=session, workspace_id=workspace_id, activity=activity, action="join",
        request=request, now=now, idempotency_key=idempotency_key,
        body=lambda ctx: _join(ctx, team),
    )  # fmt: skip


def help_team(
    *,
    session: Session,
    workspace_id: str,
    team_id: str,
    request: ActionCreate,
    now: datetime,
    idempotency_key: str | None = None,
) -> Participation | Refusal:
    """A friend helps an assist run (once per campaign, never the starter through another
    id); a bargain cuts the price by falling shares to the floor. The last helper completes
    it: the starter's reward. Helps do not count against the per-person limits.

    Raises:
        NotFoundError: no such run or person.
    """
    team = get_team(session=session, workspace_id=workspace_id, team_id=team_id)
    activity = get_activity(
        session=session, workspace_id=workspace_id, activity_id=team.activity_id
    )
    require_kind(activity, ActivityKind.ASSIST)
    return entries.act(
        session=session, workspace_id=workspace_id, activity=activity, action="help",
        request=request, now=now, idempotency_key=idempotency_key,
        body=lambda ctx: _help(ctx, team), main=False,
    )  # fmt: skip


def expire_teams(*, session: Session, workspace_id: str, now: datetime) -> list[Team]:
    """Close open teams past their deadline: give back their stock and budget, and store a
    refund/void action for each group-buy member. Safe to run again."""
    t = activity_teams.c
    due = session.execute(
        select(activity_teams).where(
            t.workspace_id == workspace_id, t.status == "open", t.deadline <= now
        )
    ).all()
    expired: list[Team] = []
    for row in due:
        done = session.execute(
            update(activity_teams)
            .where(t.workspace_id == workspace_id, t.id == row.id, t.status == "open")
            .values(status="expired", completed_at=now)
        )
        if not done.rowcount:  # type: ignore[attr-defined]
            continue
        activity = get_activity(
            session=session, workspace_id=workspace_id, activity_id=row.activity_id
        )
        units, cost = _units(activity)
        guards.give_back(session, workspace_id, activity.id, units=units, cost_fen=cost)
        if activity.kind == ActivityKind.GROUP_BUY:
            for person in members_of(session=session, workspace_id=workspace_id, team_id=row.id):
                entries.add_refund(
                    session, workspace_id, activity.id, person,
                    amount_fen=row.price_fen, key=f"act:{row.id}:{person}:refund", now=now,
                )  # fmt: skip
        expired.append(_team(row).model_copy(update={"status": "expired", "completed_at": now}))
    return expired

"""Sign-up/check-in campaigns: register once, check in daily, a reward for the streak."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from siyu.activities import entries, guards, rules
from siyu.activities.entries import Context
from siyu.activities.models import ActionCreate, ActivityKind, Participation, Refusal
from siyu.activities.service import get_activity, require_kind
from siyu.activities.tables import activity_entries, activity_members


def _registered(ctx: Context) -> bool:
    m = activity_members.c
    return (
        ctx.session.execute(
            select(m.person_id).where(
                m.workspace_id == ctx.workspace_id,
                m.activity_id == ctx.activity.id,
                m.role == "registered",
                m.person_id == ctx.person,
            )
        ).first()
        is not None
    )


def _register(ctx: Context) -> Participation:
    if _registered(ctx):
        raise guards.Refused("already_joined", "person_id", "already registered")
    if not guards.take_stock(ctx.session, ctx.workspace_id, ctx.activity, 1):
        raise guards.Refused("out_of_stock", "activity_id", "no places left")
    reward = ctx.activity.reward
    cost = reward.cost_fen if reward else 0
    if not guards.take_budget(ctx.session, ctx.workspace_id, ctx.activity, cost):
        raise guards.Refused("budget_spent", "activity_id", "the activity's budget is spent")
    ctx.session.execute(
        insert(activity_members).values(
            workspace_id=ctx.workspace_id, activity_id=ctx.activity.id, role="registered",
            person_id=ctx.person, team_id=None, cut_fen=None, joined_at=ctx.now,
        )
    )  # fmt: skip
    return ctx.record(detail={"registered": True})


def _days(ctx: Context) -> list[date]:
    e = activity_entries.c
    days = ctx.session.execute(
        select(e.day).where(
            e.workspace_id == ctx.workspace_id,
            e.activity_id == ctx.activity.id,
            e.person_id == ctx.person,
            e.action == "checkin",
        )
    ).scalars()
    return [date.fromisoformat(d) for d in days]


def _check_in(ctx: Context) -> Participation:
    if not _registered(ctx):
        raise guards.Refused("not_registered", "person_id", "register before checking in")
    days = _days(ctx)
    today = date.fromisoformat(ctx.day)
    if today in days:
        raise guards.Refused("already_checked_in", "person_id", f"checked in on {ctx.day}")
    run = rules.streak([*days, today], today)
    needed = ctx.activity.days_required or 1
    detail: dict[str, object] = {"streak": run, "needed": needed}
    if run == needed:
        reward = ctx.activity.reward
        assert reward is not None  # validated at creation
        entries.add_reward(
            ctx.session, ctx.workspace_id, ctx.activity.id, ctx.person, reward,
            reason=f"checked in {needed} days running",
            key=f"act:{ctx.activity.id}:{ctx.person}:streak", now=ctx.now,
        )  # fmt: skip
        detail["completed"] = [ctx.person]
    return ctx.record(detail=detail)


def register(
    *,
    session: Session,
    workspace_id: str,
    activity_id: str,
    request: ActionCreate,
    now: datetime,
    idempotency_key: str | None = None,
) -> Participation | Refusal:
    """Sign up for a campaign (once; a place of its stock, its reward's cost of the budget).

    Raises:
        NotFoundError: no such activity or person.
        InvalidInputError: not a sign-up campaign.
    """
    activity = get_activity(session=session, workspace_id=workspace_id, activity_id=activity_id)
    require_kind(activity, ActivityKind.SIGNUP)
    return entries.act(
        session=session, workspace_id=workspace_id, activity=activity, action="register",
        request=request, now=now, idempotency_key=idempotency_key, body=_register,
    )  # fmt: skip


def check_in(
    *,
    session: Session,
    workspace_id: str,
    activity_id: str,
    request: ActionCreate,
    now: datetime,
    idempotency_key: str | None = None,
) -> Participation | Refusal:
    """Check in for today (local day of the workspace); the day the streak reaches
    ``days_required`` stores the reward, once.

    Raises:
        NotFoundError: no such activity or person.
        InvalidInputError: not a sign-up campaign.
    """
    activity = get_activity(session=session, workspace_id=workspace_id, activity_id=activity_id)
    require_kind(activity, ActivityKind.SIGNUP)
    return entries.act(
        session=session, workspace_id=workspace_id, activity=activity, action="checkin",
        request=request, now=now, idempotency_key=idempotency_key, body=_check_in, main=False,
    )  # fmt: skip

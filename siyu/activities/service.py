"""Activities (活动运营): create and read activities, lottery draws, rewards and refusals.

Actions return :class:`Participation` or, when refused, a stored :class:`Refusal` (the
caller commits it, then answers 409). Rewards are stored as :class:`RewardAction` data with
idempotency keys; the pipeline pays pending ones through loyalty and marks them paid.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from siyu.activities import entries, guards, rules
from siyu.activities.entries import Context
from siyu.activities.models import (
    ActionCreate,
    Activity,
    ActivityCreate,
    ActivityKind,
    Participation,
    Prize,
    Refusal,
    RewardAction,
    RewardSpec,
)
from siyu.activities.tables import (
    activities,
    activity_entries,
    activity_prizes,
    activity_refusals,
    activity_rewards,
)
from siyu.core.errors import InvalidInputError, NotFoundError
from siyu.core.ids import new_id

MAX_LIST = 500


def create_activity(
    *, session: Session, workspace_id: str, activity: ActivityCreate, now: datetime
) -> Activity:
    """Store a new activity and its prize pool."""
    activity_id = new_id("act")
    config = activity.model_dump(mode="json", exclude={"prizes"})
    session.execute(
        insert(activities).values(
            workspace_id=workspace_id,
            id=activity_id,
            name=activity.name,
            kind=activity.kind.value,
            starts_at=activity.starts_at,
            ends_at=activity.ends_at,
            budget_fen=activity.budget_fen,
            spent_fen=0,
            stock_left=activity.stock,
            config=config,
            created_at=now,
        )
    )
    for position, prize in enumerate(activity.prizes):
        session.execute(
            insert(activity_prizes).values(
                workspace_id=workspace_id,
                activity_id=activity_id,
                id=f"{activity_id}:p{position}",
                position=position,
                spec=prize.model_dump(mode="json"),
                stock=prize.stock,
                won=0,
            )
        )
    return get_activity(session=session, workspace_id=workspace_id, activity_id=activity_id)


def _prizes(session: Session, workspace_id: str, activity_id: str) -> list[Prize]:
    p = activity_prizes.c
    rows = session.execute(
        select(activity_prizes)
        .where(p.workspace_id == workspace_id, p.activity_id == activity_id)
        .order_by(p.position)
    ).all()
    return [Prize(**{**r.spec, "stock": r.stock}, id=r.id, won=r.won) for r in rows]


def _activity(session: Session, workspace_id: str, row: Any) -> Activity:
    return Activity(
        **{**row.config, "starts_at": row.starts_at, "ends_at": row.ends_at},
        id=row.id,
        spent_fen=row.spent_fen,
        stock_left=row.stock_left,
        prizes=_prizes(session, workspace_id, row.id),
        created_at=row.created_at,
    )


def get_activity(*, session: Session, workspace_id: str, activity_id: str) -> Activity:
    """One activity with its prizes' stock. Raises NotFoundError."""
    a = activities.c
    row = session.execute(
        select(activities).where(a.workspace_id == workspace_id, a.id == activity_id)
    ).first()
    if row is None:
        raise NotFoundError(f"no activity {activity_id}", field="activity_id")
    return _activity(session, workspace_id, row)


def list_activities(
    *, session: Session, workspace_id: str, kind: ActivityKind | None = None
) -> list[Activity]:
    """The workspace's activities, newest first (at most 500)."""
    a = activities.c
    query = select(activities).where(a.workspace_id == workspace_id)
    if kind is not None:
        query = query.where(a.kind == kind.value)
    rows = session.execute(query.order_by(a.created_at.desc(), a.id.desc()).limit(MAX_LIST)).all()
    return [_activity(session, workspace_id, r) for r in rows]


def set_paused(*, session: Session, workspace_id: str, activity_id: str, paused: bool) -> Activity:
    """Pause an activity (every action refused with reason ``paused``) or resume it."""
    current = get_activity(session=session, workspace_id=workspace_id, activity_id=activity_id)
    a = activities.c
    row = session.execute(
        select(a.config).where(a.workspace_id == workspace_id, a.id == activity_id)
    ).one()
    session.execute(
        update(activities)
        .where(a.workspace_id == workspace_id, a.id == activity_id)
        .values(config={**row.config, "paused": paused})
    )
    return current.model_copy(update={"paused": paused})


def end_activity(
    *, session: Session, workspace_id: str, activity_id: str, now: datetime
) -> Activity:
    """End an activity now: its end moves to ``now`` (one not yet started also starts a second
    before, so it stays a valid window); an ended one keeps its end."""
    current = get_activity(session=session, workspace_id=workspace_id, activity_id=activity_id)
    if current.ends_at <= now:
        return current
    window = {"ends_at": now, "starts_at": min(current.starts_at, now - timedelta(seconds=1))}
    a = activities.c
    session.execute(
        update(activities)
        .where(a.workspace_id == workspace_id, a.id == activity_id)
        .values(**window)
    )
    return current.model_copy(update=window)


def require_kind(activity: Activity, *kinds: ActivityKind) -> None:
    """Raise InvalidInputError when the action does not fit the activity's kind."""
    if activity.kind not in kinds:
        allowed = " or ".join(k.value for k in kinds)
        raise InvalidInputError(
            f"activity {activity.id} is a {activity.kind.value}, not a {allowed}",
            field="activity_id",
        )


# -- lottery --------------------------------------------------------------------------------


def _take_prize(ctx: Context, prize: Prize) -> bool:
    """One unit of the prize and its cost from the budget, or nothing if either is spent."""
    p = activity_prizes.c
    where = [p.workspace_id == ctx.workspace_id, p.id == prize.id]
    if prize.stock is not None:
        where.append(p.stock > 0)
    done = ctx.session.execute(
        update(activity_prizes).where(*where).values(stock=p.stock - 1, won=p.won + 1)
    )
    if not done.rowcount:  # type: ignore[attr-defined]
        return False
    if guards.take_budget(ctx.session, ctx.workspace_id, ctx.activity, prize.cost_fen):
        return True
    ctx.session.execute(
        update(activity_prizes).where(*where[:2]).values(stock=p.stock + 1, won=p.won - 1)
    )
    return False


def _draw(ctx: Context) -> Participation:
    pool = _prizes(ctx.session, ctx.workspace_id, ctx.activity.id)
    if not any(p.stock is None or p.stock > 0 for p in pool):
        raise guards.Refused("out_of_stock", "activity_id", "every prize is given out")
    roll = secrets.randbelow(sum(p.weight for p in pool))
    prize = pool[rules.pick([p.weight for p in pool], roll)]
    if prize.kind == "none":
        return ctx.record(roll=roll, detail={"won": False})
    if not _take_prize(ctx, prize):
        return ctx.record(roll=roll, detail={"won": False, "missed": prize.id})
    won = prize.model_copy(update={"stock": None if prize.stock is None else prize.stock - 1})
    spec = RewardSpec.model_validate(
        prize.model_dump(include={"kind", "amount", "template", "cost_fen"})
    )
    entries.add_reward(
        ctx.session, ctx.workspace_id, ctx.activity.id, ctx.person, spec,
        reason=f"lottery prize {prize.name}", key=f"act:{ctx.activity.id}:{ctx.key}", now=ctx.now,
    )  # fmt: skip
    return ctx.record(prize=won, roll=roll, detail={"won": True, "completed": [ctx.person]})


def draw(
    *,
    session: Session,
    workspace_id: str,
    activity_id: str,
    request: ActionCreate,
    now: datetime,
    idempotency_key: str | None = None,
) -> Participation | Refusal:
    """One lottery draw: a fair weighted pick from ``secrets`` (the roll is recorded for
    audit). A prize whose stock or budget ran out turns into no prize; when every prize is
    gone the draw is refused (``out_of_stock``) without counting against the limits.

    Raises:
        NotFoundError: no such activity or person.
        InvalidInputError: the activity is not a lottery.
    """
    activity = get_activity(session=session, workspace_id=workspace_id, activity_id=activity_id)
    require_kind(activity, ActivityKind.LOTTERY)
    return entries.act(
        session=session, workspace_id=workspace_id, activity=activity, action="draw",
        request=request, now=now, idempotency_key=idempotency_key, body=_draw,
    )  # fmt: skip


# -- rewards and figures --------------------------------------------------------------------


def pending_rewards(*, session: Session, workspace_id: str) -> list[RewardAction]:
    """Rewards loyalty has still to pay (points, coupons), oldest first."""
    r = activity_rewards.c
    rows = session.execute(
        select(activity_rewards)
        .where(r.workspace_id == workspace_id, r.status == "pending")
        .order_by(r.created_at, r.idempotency_key)
    ).all()
    return [entries.reward_model(row) for row in rows]


def rewards_of(*, session: Session, workspace_id: str, activity_id: str) -> list[RewardAction]:
    """Every reward and fulfilment action of an activity."""
    r = activity_rewards.c
    rows = session.execute(
        select(activity_rewards)
        .where(r.workspace_id == workspace_id, r.activity_id == activity_id)
        .order_by(r.created_at, r.idempotency_key)
    ).all()
    return [entries.reward_model(row) for row in rows]


def mark_paid(*, session: Session, workspace_id: str, idempotency_key: str, now: datetime) -> None:
    """Record that loyalty paid the reward."""
    r = activity_rewards.c
    session.execute(
        update(activity_rewards)
        .where(r.workspace_id == workspace_id, r.idempotency_key == idempotency_key)
        .values(status="paid", paid_at=now)
    )


def refusal_counts(*, session: Session, workspace_id: str, activity_id: str) -> dict[str, int]:
    """Refusals of an activity by reason."""
    f = activity_refusals.c
    rows = session.execute(
        select(f.reason, func.count())
        .where(f.workspace_id == workspace_id, f.activity_id == activity_id)
        .group_by(f.reason)
    ).all()
    return {str(reason): int(n) for reason, n in rows}


def list_refusals(*, session: Session, workspace_id: str, activity_id: str) -> list[Refusal]:
    """An activity's refusals, newest first (at most 500)."""
    f = activity_refusals.c
    rows = session.execute(
        select(activity_refusals)
        .where(f.workspace_id == workspace_id, f.activity_id == activity_id)
        .order_by(f.at.desc(), f.id.desc())
        .limit(MAX_LIST)
    ).all()
    return [Refusal.model_validate(dict(r._mapping)) for r in rows]


def participation_count(*, session: Session, workspace_id: str, activity_id: str) -> int:
    """Actions taken in the activity."""
    e = activity_entries.c
    return int(
        session.execute(
            select(func.count()).where(e.workspace_id == workspace_id, e.activity_id == activity_id)
        ).scalar_one()
    )

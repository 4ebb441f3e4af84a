"""The frame every action runs in: replay by key, guards in a savepoint, refusals stored."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from siyu.activities import guards
from siyu.activities.models import (
    ActionCreate,
    Activity,
    Participation,
    Prize,
    Refusal,
    RewardAction,
    RewardSpec,
)
from siyu.activities.tables import activity_entries, activity_refusals, activity_rewards
from siyu.core.db import insert_ignore
from siyu.core.ids import new_id
from siyu.identity import service as identity
from siyu.workspaces import service as workspaces

Body = Callable[["Context"], Participation]


class Context:
    """What an action's body works with: the activity, the person, the local day, the time."""

    def __init__(
        self, session: Session, workspace_id: str, activity: Activity, person: str, day: str,
        now: datetime, request: ActionCreate, key: str, action: str,
    ) -> None:  # fmt: skip
        self.session, self.workspace_id, self.activity = session, workspace_id, activity
        self.person, self.day, self.now, self.request = person, day, now, request
        self.key, self.action = key, action

    def record(
        self,
        *,
        team_id: str | None = None,
        prize: Prize | None = None,
        roll: int | None = None,
        detail: dict[str, Any] | None = None,
    ) -> Participation:
        """Store the action as an entry and answer it."""
        entry = Participation(
            id=new_id("ae"),
            activity_id=self.activity.id,
            person_id=self.person,
            action=self.action,
            at=self.now,
            team_id=team_id,
            prize=prize,
            roll=roll,
            detail=detail or {},
        )
        self.session.execute(
            insert(activity_entries).values(
                workspace_id=self.workspace_id,
                id=entry.id,
                activity_id=entry.activity_id,
                person_id=entry.person_id,
                action=entry.action,
                idempotency_key=self.key,
                ip=self.request.ip,
                day=self.day,
                team_id=team_id,
                prize_id=prize.id if prize else None,
                roll=roll,
                detail={**entry.detail, "prize": prize.model_dump(mode="json") if prize else None},
                at=self.now,
            )
        )
        return entry


def _replay(
    session: Session, workspace_id: str, activity_id: str, key: str
) -> Participation | None:
    e = activity_entries.c
    row = session.execute(
        select(activity_entries).where(
            e.workspace_id == workspace_id, e.activity_id == activity_id, e.idempotency_key == key
        )
    ).first()
    if row is None:
        return None
    detail = dict(row.detail)
    prize = detail.pop("prize", None)
    return Participation(
        id=row.id,
        activity_id=row.activity_id,
        person_id=row.person_id,
        action=row.action,
        at=row.at,
        team_id=row.team_id,
        prize=Prize.model_validate(prize) if prize else None,
        roll=row.roll,
        detail=detail,
        replayed=True,
    )


def _refuse(ctx: Context, why: guards.Refused) -> Refusal:
    refusal = Refusal(
        id=new_id("arf"),
        activity_id=ctx.activity.id,
        person_id=ctx.person,
        action=ctx.action,
        reason=why.reason,
        field=why.field,
        detail=why.detail,
        at=ctx.now,
    )
    ctx.session.execute(
        insert(activity_refusals).values(workspace_id=ctx.workspace_id, **refusal.model_dump())
    )
    return refusal


def act(
    *,
    session: Session,
    workspace_id: str,
    activity: Activity,
    action: str,
    request: ActionCreate,
    now: datetime,
    idempotency_key: str | None,
    body: Body,
    main: bool = True,
) -> Participation | Refusal:
    """Run one action: answer a replayed key, else check the window, eligibility, account
    age and velocity, then ``body`` — all in a savepoint, so a refusal anywhere undoes every
    quota, stock and budget taken and is stored instead. ``main`` actions count against the
    person's limits.

    Raises:
        NotFoundError: no such person.
    """
    person = identity.current_person_id(
        session=session, workspace_id=workspace_id, person_id=request.person_id
    )
    key = idempotency_key or new_id("ak")
    replayed = _replay(session, workspace_id, activity.id, key)
    if replayed is not None:
        return replayed
    zone = workspaces.get_workspace(session=session, workspace_id=workspace_id).timezone
    day = now.astimezone(ZoneInfo(zone)).date().isoformat()
    ctx = Context(session, workspace_id, activity, person, day, now, request, key, action)
    try:
        with session.begin_nested():
            guards.check_window(activity, now)
            guards.check_eligible(session, workspace_id, activity, person)
            guards.check_account_age(session, workspace_id, activity, person, now)
            guards.check_velocity(session, workspace_id, activity, person, request.ip, now)
            if main:
                guards.take_quota(session, workspace_id, activity, person, day)
            return body(ctx)
    except guards.Refused as why:
        # A twin with the same key may have committed while this one waited on a row lock
        # (and so was refused: team full, already joined): answer the twin's result.
        return _replay(session, workspace_id, activity.id, key) or _refuse(ctx, why)


def add_reward(
    session: Session,
    workspace_id: str,
    activity_id: str,
    person: str,
    spec: RewardSpec,
    *,
    reason: str,
    key: str,
    now: datetime,
) -> None:
    """Store a reward once per key: points and coupons wait for loyalty, goods are actions."""
    values = {
        "workspace_id": workspace_id,
        "idempotency_key": key,
        "activity_id": activity_id,
        "person_id": person,
        "kind": spec.kind,
        "amount": spec.amount,
        "template": spec.template,
        "cost_fen": spec.cost_fen,
        "reason": reason,
        "status": "action" if spec.kind == "goods" else "pending",
        "created_at": now,
    }
    insert_ignore(session, activity_rewards, values)


def add_refund(
    session: Session,
    workspace_id: str,
    activity_id: str,
    person: str,
    *,
    amount_fen: int | None,
    key: str,
    now: datetime,
) -> None:
    """Store a refund/void action for operations (an expired group's members)."""
    session.execute(
        insert(activity_rewards).values(
            workspace_id=workspace_id,
            idempotency_key=key,
            activity_id=activity_id,
            person_id=person,
            kind="refund",
            amount=amount_fen,
            template=None,
            cost_fen=0,
            reason="group expired: refund or void the order",
            status="action",
            created_at=now,
        )
    )


def reward_model(row: Any) -> RewardAction:
    """A stored reward as data."""
    return RewardAction(
        idempotency_key=row.idempotency_key,
        activity_id=row.activity_id,
        person_id=row.person_id,
        kind=row.kind,
        amount=row.amount,
        template=row.template,
        cost_fen=row.cost_fen,
        reason=row.reason,
        status=row.status,
    )

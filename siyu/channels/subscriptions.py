"""Mini program one-time subscriptions: a ledger of sends a person has allowed, per template.

WeChat lets one accepted one-time subscription carry exactly one message and offers no API to
ask what is left, so siyu counts: an accept event grants (once per event), a send takes.
The take is one conditional ``UPDATE … SET remaining = remaining - 1 WHERE remaining > 0``:
on PostgreSQL a second taker waits for the row lock and re-checks the condition, so the
balance never goes below zero (a CHECK constraint says so too).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from siyu.channels.outbox_models import SubscriptionBalance
from siyu.channels.tables import mp_subscription_grants, mp_subscriptions
from siyu.core.db import insert_ignore
from siyu.core.errors import InvalidInputError
from siyu.identity import service as identity

MAX_GRANT = 100


def _insert(session: Session, table: object) -> postgresql.Insert | sqlite.Insert:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)  # type: ignore[arg-type]


def grant(
    *,
    session: Session,
    workspace_id: str,
    person_id: str,
    template_id: str,
    event_key: str,
    now: datetime,
    count: int = 1,
) -> SubscriptionBalance:
    """Record an accept event: ``count`` more sends of ``template_id``. Once per ``event_key``.

    Raises:
        InvalidInputError: count outside 1–100, or an empty key/template.
        NotFoundError: no such person.
    """
    if not 1 <= count <= MAX_GRANT:
        raise InvalidInputError(f"count must be 1–{MAX_GRANT}", field="count")
    if not template_id or not event_key:
        raise InvalidInputError("template_id and event_key are required", field="event_key")
    # Sends spend under the surviving person, so grants land there too.
    person_id = identity.current_person_id(
        session=session, workspace_id=workspace_id, person_id=person_id
    )
    accept = {
        "workspace_id": workspace_id,
        "event_key": event_key,
        "person_id": person_id,
        "template_id": template_id,
        "count": count,
        "at": now,
    }
    logged = insert_ignore(
        session, mp_subscription_grants, accept, returning=[mp_subscription_grants.c.event_key]
    )
    if logged:  # a new accept event (a repeated one grants nothing)
        ins = _insert(session, mp_subscriptions).values(
            workspace_id=workspace_id,
            person_id=person_id,
            template_id=template_id,
            remaining=count,
            updated_at=now,
        )
        session.execute(
            ins.on_conflict_do_update(
                index_elements=["workspace_id", "person_id", "template_id"],
                set_={"remaining": mp_subscriptions.c.remaining + count, "updated_at": now},
            )
        )
    return remaining(
        session=session, workspace_id=workspace_id, person_id=person_id, template_id=template_id
    )


def take(
    *, session: Session, workspace_id: str, person_id: str, template_id: str, now: datetime
) -> bool:
    """Spend one subscription; False (and nothing spent) when none is left."""
    s = mp_subscriptions.c
    done = session.execute(
        update(mp_subscriptions)
        .where(
            s.workspace_id == workspace_id,
            s.person_id == person_id,
            s.template_id == template_id,
            s.remaining > 0,
        )
        .values(remaining=s.remaining - 1, updated_at=now)
    )
    return bool(done.rowcount == 1)  # type: ignore[attr-defined]


def remaining(
    *, session: Session, workspace_id: str, person_id: str, template_id: str
) -> SubscriptionBalance:
    """How many sends of ``template_id`` the person has left (0 if never granted)."""
    s = mp_subscriptions.c
    left = session.execute(
        select(func.coalesce(func.sum(s.remaining), 0)).where(
            s.workspace_id == workspace_id,
            s.person_id == person_id,
            s.template_id == template_id,
        )
    ).scalar_one()
    return SubscriptionBalance(person_id=person_id, template_id=template_id, remaining=int(left))


def refund(
    *, session: Session, workspace_id: str, person_id: str, template_id: str, now: datetime
) -> None:
    """Give back one send taken by a message that will now never go (bumped before sending)."""
    s = mp_subscriptions.c
    session.execute(
        update(mp_subscriptions)
        .where(
            s.workspace_id == workspace_id,
            s.person_id == person_id,
            s.template_id == template_id,
        )
        .values(remaining=s.remaining + 1, updated_at=now)
    )

"""Fixtures for journey engine tests: a journey factory and an action recorder table."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, Engine, MetaData, String, Table, insert, select
from sqlalchemy.orm import Session, sessionmaker

from siyu.collect.models import CollectedEvent, MessageType
from siyu.journeys import service as journeys
from siyu.journeys.actions import Action, ActionFailure
from siyu.journeys.definition import parse_definition

WS = "ws_j"
NOW = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)

# A stand-in for the caller's side effects (the outbox, tags, points): a real table written in
# the engine's transaction, whose primary key is the action's idempotency key, so a doubled
# action fails the test with an IntegrityError instead of passing unseen.
_recorder_metadata = MetaData()
applied = Table(
    "test_journey_applied",
    _recorder_metadata,
    Column("key", String(200), primary_key=True),
    Column("type", String(20), nullable=False),
    Column("person_id", String(40), nullable=False),
)


def reset_recorder(engine: Engine) -> None:
    """Create (once) and empty the recorder table."""
    applied.create(engine, checkfirst=True)
    with engine.begin() as conn:
        conn.execute(applied.delete())


def record(session: Session, actions: Sequence[Action]) -> list[ActionFailure]:
    """An ``apply_actions`` writing each action's key in the engine's transaction."""
    session.execute(
        insert(applied), [{"key": a.key, "type": a.type, "person_id": a.person_id} for a in actions]
    )
    return []


def recorded(db: sessionmaker[Session]) -> list[tuple[str, str]]:
    """(type, person_id) of every applied action, sorted."""
    with db() as session:
        return sorted((r.type, r.person_id) for r in session.execute(select(applied)))


def make_journey(
    db: sessionmaker[Session], nodes: list[dict[str, Any]], *, activate: bool = True, **extra: Any
) -> journeys.Journey:
    """Create (and activate) a journey triggered by ``Signed Up`` unless ``trigger`` is given."""
    data = {
        "name": extra.pop("name", "j"),
        "trigger": extra.pop("trigger", {"type": "event", "spec": {"event": "Signed Up"}}),
        "start": nodes[0]["id"],
        "nodes": nodes,
        **extra,
    }
    with db() as session, session.begin():
        journey = journeys.create_journey(
            session=session, workspace_id=WS, definition=parse_definition(data), now=NOW
        )
        if activate:
            journey = journeys.set_status(
                session=session,
                workspace_id=WS,
                journey_id=journey.id,
                status=journeys.JourneyStatus.ACTIVE,
                now=NOW,
            )
    return journey


def event(name: str, message_id: str, at: datetime = NOW, **properties: Any) -> CollectedEvent:
    """A collected track event."""
    return CollectedEvent(
        message_id=message_id,
        type=MessageType.TRACK,
        timestamp=at,
        received_at=at,
        event=name,
        properties=properties,
    )

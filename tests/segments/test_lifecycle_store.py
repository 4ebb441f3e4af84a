"""Stored lifecycle states and their transitions on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from siyu.segments import layer_store, lifecycle
from siyu.segments.lifecycle import LifecycleSettings, PersonFacts


def _states(now: datetime, orders: dict[str, int]) -> list[lifecycle.LifecycleState]:
    facts = [
        PersonFacts(person_id=p, last_seen=now - timedelta(days=1), orders=n)
        for p, n in orders.items()
    ]
    return lifecycle.classify(facts, settings=LifecycleSettings(), now=now)


def test_runs_record_transitions_and_keep_since(db: sessionmaker[Session], now: datetime) -> None:
    later = now + timedelta(days=3)
    with db() as session, session.begin():
        first = layer_store.replace_lifecycle_states(
            session=session, workspace_id="ws", states=_states(now, {"a": 1, "b": 0}), now=now
        )
        assert len(first) == 4  # two persons placed on two dimensions
        second = layer_store.replace_lifecycle_states(
            session=session,
            workspace_id="ws",
            states=_states(later, {"a": 2, "c": 0}),
            now=later,
        )
    assert [(t.person_id, t.from_value, t.to_value) for t in second if t.dimension == "stage"] == [
        ("a", "first_purchase", "repeat"),
        ("c", None, "stranger"),
    ]
    with db() as session:
        stages, activities, at = layer_store.lifecycle_counts(session=session, workspace_id="ws")
        assert stages == {"repeat": 1, "stranger": 1}  # b dropped out of the states
        assert activities == {"active": 2}
        assert at == later
        history = layer_store.person_transitions(
            session=session, workspace_id="ws", person_ids=["a"], limit=10
        )
        assert [(t.to_value, t.at) for t in history if t.dimension == "stage"] == [
            ("repeat", later),
            ("first_purchase", now),
        ]
        moves = layer_store.transition_counts(session=session, workspace_id="ws", since=later)
        assert ("stage", "first_purchase", "repeat", 1) in moves

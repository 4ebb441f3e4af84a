"""Crash safety and concurrent workers: no state lost or stepped twice, no action doubled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from siyu.journeys.actions import Action, ActionFailure
from siyu.journeys.engine import AdvanceResult, advance_due
from siyu.journeys.reactions import on_events
from siyu.journeys.tables import journey_events, journey_states
from tests.journeys.conftest import NOW, WS, event, make_journey, record, recorded, reset_recorder

NODES: list[dict[str, Any]] = [
    {"type": "action", "id": "t", "action": {"type": "add_tag", "tag": "new"}, "next": "m"},
    {
        "type": "action",
        "id": "m",
        "action": {"type": "send_message", "channel": "sms", "template": "hi"},
        "next": "x",
    },
    {"type": "exit", "id": "x"},
]


def _enter(db: sessionmaker[Session], people: int) -> None:
    make_journey(db, NODES)
    with db() as session, session.begin():
        on_events(
            session=session,
            workspace_id=WS,
            events=[event("Signed Up", f"m{i}") for i in range(people)],
            person_ids=[f"p_{i:05d}" for i in range(people)],
            now=NOW,
        )


def _check_each_once(db: sessionmaker[Session], people: int) -> None:
    s, e = journey_states.c, journey_events.c
    with db() as session:
        states = session.execute(select(s.status, s.steps, s.node_id)).all()
        entered = session.execute(select(func.count()).where(e.kind == "entered")).scalar_one()
    assert len(states) == people
    assert {tuple(r) for r in states} == {("exited", 1, "x")}  # each stepped exactly once
    assert entered == 3 * people
    expected = sorted(
        [("add_tag", f"p_{i:05d}") for i in range(people)]
        + [("send_message", f"p_{i:05d}") for i in range(people)]
    )
    assert recorded(db) == expected


def test_crash_before_commit_is_redone_exactly_once(
    db: sessionmaker[Session], db_engine: Engine
) -> None:
    reset_recorder(db_engine)
    _enter(db, 10)
    calls = 0

    def crash_on_second_batch(session: Session, actions: Sequence[Action]) -> list[ActionFailure]:
        nonlocal calls
        calls += 1
        record(session, actions)  # the side effects are written… and then the worker dies
        if calls == 2:
            raise RuntimeError("worker killed")
        return []

    with pytest.raises(RuntimeError):
        advance_due(
            session_factory=db,
            workspace_id=WS,
            now=NOW,
            batch_size=4,
            apply_actions=crash_on_second_batch,
        )
    assert len(recorded(db)) == 8  # the first batch committed, the second rolled back whole
    advance_due(session_factory=db, workspace_id=WS, now=NOW, batch_size=4, apply_actions=record)
    _check_each_once(db, 10)


_KILLED_WORKER = """
import sys, time
from datetime import datetime
from pathlib import Path
from typing import Any
from sqlalchemy import create_engine
from siyu.core.db import make_session_factory
from siyu.journeys.engine import advance_due
from tests.journeys.conftest import record

def hang(session, actions):
    record(session, actions)
    session.flush()
    Path(sys.argv[2]).write_text("claimed")
    time.sleep(600)
    return []

db = make_session_factory(create_engine(sys.argv[1]))
now = datetime.fromisoformat(sys.argv[4])
advance_due(session_factory=db, workspace_id=sys.argv[3], now=now, batch_size=50,
            apply_actions=hang)
"""


@pytest.mark.postgres
def test_killed_worker_process_loses_and_doubles_nothing(
    db: sessionmaker[Session], db_engine: Engine, tmp_path: Path
) -> None:
    if db_engine.dialect.name != "postgresql":
        pytest.skip("a second process writing needs PostgreSQL (SQLite: one writer)")
    reset_recorder(db_engine)
    _enter(db, 60)
    marker = tmp_path / "claimed"
    url = db_engine.url.render_as_string(hide_password=False)
    worker = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WORKER, url, str(marker), WS, NOW.isoformat()],
        cwd=Path(__file__).resolve().parents[2],
    )
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert worker.poll() is None and time.monotonic() < deadline, "worker never claimed"
        time.sleep(0.05)
    # Mid-batch, the 50 claimed rows are locked: a second worker skips them, takes the rest.
    other = advance_due(session_factory=db, workspace_id=WS, now=NOW, apply_actions=record)
    assert other.stepped == 10
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    deadline = time.monotonic() + 30
    done = AdvanceResult()
    while done.stepped < 50 and time.monotonic() < deadline:  # server notices the dead client
        step = advance_due(session_factory=db, workspace_id=WS, now=NOW, apply_actions=record)
        done = AdvanceResult(stepped=done.stepped + step.stepped)
        time.sleep(0.05)
    assert done.stepped == 50
    _check_each_once(db, 60)


@pytest.mark.postgres
def test_two_workers_never_step_a_state_twice(db: sessionmaker[Session], db_engine: Engine) -> None:
    if db_engine.dialect.name != "postgresql":
        pytest.skip("SKIP LOCKED concurrency is a PostgreSQL matter (SQLite: one writer)")
    reset_recorder(db_engine)
    _enter(db, 400)
    results: list[AdvanceResult] = []
    start = threading.Barrier(2)

    def slow_record(session: Session, actions: Sequence[Action]) -> list[ActionFailure]:
        time.sleep(0.005)  # widen the window in which both workers hold claims
        return record(session, actions)

    def work() -> None:
        start.wait()
        results.append(
            advance_due(
                session_factory=db,
                workspace_id=WS,
                now=NOW,
                batch_size=10,
                apply_actions=slow_record,
            )
        )

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.stepped for r in results) == 400
    assert all(r.stepped > 0 for r in results)  # both took part
    _check_each_once(db, 400)

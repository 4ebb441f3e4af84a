"""Retention: per workspace, raw events older than N days leave the event store (the job and
the direct call), newer ones and the operational aggregates stay (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from siyu.core.errors import InvalidInputError
from siyu.pipeline import jobs, privacy
from siyu.privacy.models import RetentionUpdate
from siyu.profiles.tables import profiles
from tests.privacy.conftest import NOW, Seeded


def _profile_counts(seeded: Seeded) -> list[int]:
    with seeded.runtime.sessions() as s:
        return sorted(s.execute(select(profiles.c.event_count)).scalars())


def test_retention_job_drops_old_events_only(seeded: Seeded) -> None:
    rt, ws = seeded.runtime, seeded.workspace_id
    before = rt.events.count(ws)
    counts = _profile_counts(seeded)
    runs = jobs.run_jobs(runtime=rt, now=NOW + timedelta(hours=20), workspace_id=ws,
                         only=["event_retention"])  # fmt: skip
    assert [r.summary for r in runs] == ["raw events kept; no rows past"]
    month = RetentionUpdate(event_retention_days=30)
    privacy.set_retention(runtime=rt, workspace_id=ws, change=month, now=NOW)
    later = NOW + timedelta(days=1, hours=20)  # another local day
    runs = jobs.run_jobs(runtime=rt, now=later, workspace_id=ws, only=["event_retention"])
    assert [(r.status, r.detail.get("dropped")) for r in runs] == [("ran", 1)]  # m-001, 40 days
    assert rt.events.count(ws) == before - 1
    kept = rt.events.query(ws, "SELECT min(timestamp) AS t FROM events").column("t")[0].as_py()
    assert kept >= later - timedelta(days=30)
    assert _profile_counts(seeded) == counts  # aggregates untouched


def test_retention_with_explicit_days_and_bad_input(seeded: Seeded) -> None:
    rt, ws = seeded.runtime, seeded.workspace_id
    run = privacy.apply_retention(runtime=rt, workspace_id=ws, now=NOW, days=1)
    assert run.events_dropped == 1 and run.cutoff == NOW - timedelta(days=1)
    with pytest.raises(InvalidInputError):
        privacy.apply_retention(runtime=rt, workspace_id=ws, now=NOW, days=0)
    with pytest.raises(InvalidInputError):
        privacy.set_retention(runtime=rt, workspace_id=ws, now=NOW,
                              change=RetentionUpdate(event_retention_days=-3))  # fmt: skip

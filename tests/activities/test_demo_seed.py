"""The demo seed: one running activity of each kind with history; a second run adds nothing."""

from __future__ import annotations

import time

import pytest

from siyu import pipeline
from siyu.activities import service as activities
from siyu.core.clock import utcnow
from siyu.core.runtime import Runtime
from siyu.demo import activities_seed
from siyu.pipeline import activities as flow
from siyu.workspaces.models import WorkspaceCreated
from tests.api.conftest import keys, runtime  # noqa: F401  (fixtures on both stores)


# tests/demo/test_build.py runs the seed inside every demo build; this one checks its numbers.
@pytest.mark.slow
def test_seed_makes_four_running_activities_with_history(
    runtime: Runtime,  # noqa: F811
    keys: WorkspaceCreated,  # noqa: F811
) -> None:
    ws, now = keys.workspace_id, utcnow()
    hello = [{"type": "identify", "messageId": f"i{n}", "userId": f"u{n}"} for n in range(60)]
    pipeline.ingest(runtime=runtime, workspace_id=ws, received_at=now, messages=hello)
    started = time.perf_counter()
    ids = activities_seed.seed_activities(runtime, workspace_id=ws, now=now)
    seconds = time.perf_counter() - started
    assert seconds < 30
    with runtime.sessions() as session:
        made = activities.list_activities(session=session, workspace_id=ws)
        kinds = {a.kind.value for a in made}
        assert kinds == {"lottery", "group_buy", "assist", "signup"}
        assert all(a.starts_at <= now < a.ends_at for a in made)
        for act in ids:
            assert activities.participation_count(session=session, workspace_id=ws, activity_id=act)
            assert activities.rewards_of(session=session, workspace_id=ws, activity_id=act)
    group = next(a.id for a in made if a.kind.value == "group_buy")
    stats = flow.activity_stats(runtime=runtime, workspace_id=ws, activity_id=group)
    steps = {s.step: s.persons for s in stats.funnel}
    assert steps["view"] == 60 and steps["complete"] == 9 and stats.orders == 15
    assert stats.roi is not None and stats.roi > 0
    assert sorted(activities_seed.seed_activities(runtime, workspace_id=ws, now=now)) == sorted(ids)

"""The scheduled activities jobs: a team past its deadline is closed, rewards are paid once."""

from __future__ import annotations

from datetime import timedelta

from siyu.activities import teams
from siyu.activities.models import ActionCreate, Participation
from siyu.core.clock import utcnow
from siyu.core.runtime import Runtime
from siyu.loyalty import points
from siyu.pipeline.jobs import run_jobs
from siyu.workspaces.models import WorkspaceCreated
from tests.activities.test_pipeline import _activity, _people
from tests.api.conftest import keys, runtime  # noqa: F401  (fixtures on both stores)

JOBS = ["activity_teams_expiry", "activity_rewards"]
POINTS = {"kind": "points", "amount": 40}


def _start(rt: Runtime, ws: str, activity_id: str, person_id: str) -> str:
    with rt.sessions() as session, session.begin():
        opened = teams.start(session=session, workspace_id=ws, activity_id=activity_id,
                             request=ActionCreate(person_id=person_id), now=utcnow())  # fmt: skip
    assert isinstance(opened, Participation) and opened.team_id
    return opened.team_id


def test_jobs_pay_a_full_team_once_and_expire_a_late_one(
    runtime: Runtime,  # noqa: F811
    keys: WorkspaceCreated,  # noqa: F811
) -> None:
    ws = keys.workspace_id
    lead, friend = _people(runtime, ws, ["lead", "friend"])
    pair = _activity(runtime, ws, name="两人团", kind="group_buy", team_size=2, team_hours=2,
                     reward=POINTS)  # fmt: skip
    trio = _activity(runtime, ws, name="三人团", kind="group_buy", team_size=3, team_hours=2,
                     reward=POINTS)  # fmt: skip
    full = _start(runtime, ws, pair, lead)
    with runtime.sessions() as session, session.begin():  # the service alone pays nothing
        joined = teams.join(session=session, workspace_id=ws, team_id=full,
                            request=ActionCreate(person_id=friend), now=utcnow())  # fmt: skip
    assert isinstance(joined, Participation)
    late = _start(runtime, ws, trio, lead)

    now = utcnow()
    first = {r.job: r for r in run_jobs(runtime=runtime, now=now, workspace_id=ws, only=JOBS)}
    assert first["activity_rewards"].detail == {"paid": 2, "failed": 0}
    assert first["activity_teams_expiry"].detail["expired"] == 0
    later = now + timedelta(hours=3)
    second = {r.job: r for r in run_jobs(runtime=runtime, now=later, workspace_id=ws, only=JOBS)}
    assert second["activity_rewards"].detail == {"paid": 0, "failed": 0}
    assert second["activity_teams_expiry"].detail["expired"] == 1
    with runtime.sessions() as session:
        assert teams.get_team(session=session, workspace_id=ws, team_id=late).status != "open"
        for person in (lead, friend):
            account = points.get_account(session=session, workspace_id=ws, person_id=person)
            assert account.balance == 40

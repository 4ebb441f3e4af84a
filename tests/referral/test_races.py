"""Retried and racing writes: one referral, one set of rewards, one owner (both stores)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from siyu import pipeline
from siyu.core.clock import utcnow
from siyu.core.runtime import Runtime
from siyu.referral import livecodes
from siyu.referral import service as referral
from siyu.referral.models import (
    LiveCodeCreate,
    LiveCodeKind,
    Milestone,
    MilestoneRule,
    ReferralCreate,
    ReferralSettings,
    RewardSpec,
    ScanCreate,
    StaffAssignment,
    StaffCreate,
)
from siyu.workspaces.models import WorkspaceCreated
from tests.api.conftest import keys, runtime  # noqa: F401  (fixtures on both stores)

RULES = ReferralSettings(
    milestones=[
        MilestoneRule(
            milestone=Milestone.REGISTERED,
            inviter=RewardSpec(kind="points", amount=10),
            invitee=RewardSpec(kind="points", amount=5),
        )
    ]
)


def test_racing_referrals_of_one_invitee_make_one_edge(
    runtime: Runtime,  # noqa: F811
    keys: WorkspaceCreated,  # noqa: F811
) -> None:
    ws, now = keys.workspace_id, utcnow()
    hello = [{"type": "identify", "messageId": "i0", "userId": "root"}]
    pipeline.ingest(runtime=runtime, workspace_id=ws, received_at=now, messages=hello)
    root = pipeline.find_person(
        runtime=runtime, workspace_id=ws, identifier_type="user_id", identifier="root"
    ).person_id
    with runtime.sessions() as session, session.begin():
        referral.set_settings(session=session, workspace_id=ws, settings=RULES, now=now)
        code = referral.invite_code(session=session, workspace_id=ws, person_id=root, now=now).code
    request = ReferralCreate(code=code, identifier_type="unionid", identifier="racer")

    def refer(_: int) -> str:
        out = pipeline.refer_person(runtime=runtime, workspace_id=ws, request=request, now=now)
        return out.referral.invitee_id

    with ThreadPoolExecutor(6) as pool:
        invitees = set(pool.map(refer, range(12)))
    assert len(invitees) == 1
    with runtime.sessions() as session:
        rewards = referral.rewards_of(session=session, workspace_id=ws, invitee_id=invitees.pop())
        assert len(rewards) == 2
        assert referral.summary(session=session, workspace_id=ws).invitees == 1


def test_racing_scans_of_one_person_make_one_owner(
    runtime: Runtime,  # noqa: F811
    keys: WorkspaceCreated,  # noqa: F811
) -> None:
    ws, now = keys.workspace_id, utcnow()
    with runtime.sessions() as session, session.begin():
        staff = [
            livecodes.create_staff(
                session=session, workspace_id=ws, staff=StaffCreate(name=n), now=now
            )
            for n in ("a", "b")
        ]
        code = livecodes.create_live_code(
            session=session,
            workspace_id=ws,
            now=now,
            code=LiveCodeCreate(
                name="poster",
                kind=LiveCodeKind.POSTER,
                channel="poster",
                staff=[StaffAssignment(staff_id=s.id) for s in staff],
            ),
        )
    scan = ScanCreate(identifier_type="unionid", identifier="same")

    def record(n: int) -> str | None:
        result = pipeline.record_live_code_scan(
            runtime=runtime, workspace_id=ws, code_id=code.id, scan=scan, now=now,
            idempotency_key=f"k{n % 3}",
        )  # fmt: skip
        return result.staff_id

    with ThreadPoolExecutor(6) as pool:
        owners = set(pool.map(record, range(12)))
    assert len(owners) == 1
    with runtime.sessions() as session:
        stats = livecodes.live_code_stats(session=session, workspace_id=ws, code_id=code.id)
    assert (stats.adds, stats.customers) == (3, 1)

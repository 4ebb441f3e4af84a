"""The scheduled loyalty and referral jobs with a frozen ``now`` on SQLite and PostgreSQL:
what each does, once per period, two processes at once, and a dead claimer's lease."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert

from siyu import pipeline
from siyu.core.config import Settings
from siyu.core.runtime import Runtime, open_runtime
from siyu.loyalty import coupon_service, membership, points, points_audit
from siyu.loyalty.coupon_models import CouponStatus, CouponTemplateCreate
from siyu.loyalty.points_models import EarnRules
from siyu.loyalty.tier_models import PaidMembershipCreate, TierLadder
from siyu.pipeline.job_tables import job_runs
from siyu.pipeline.jobs import JobRun
from siyu.referral import service as referral
from siyu.referral.models import (
    Milestone,
    MilestoneRule,
    ReferralCreate,
    ReferralSettings,
    RewardSpec,
)
from siyu.workspaces import service as workspaces

# 10:30 in Shanghai: every daily job is due.
NOW = datetime.fromisoformat("2026-11-28T02:30:00+00:00")


@pytest.fixture
def runtime(db_engine: Engine, tmp_path: Path) -> Iterator[Runtime]:
    """A runtime over the ``db`` store (schema from the tables) and a fresh event store."""
    url = db_engine.url.render_as_string(hide_password=False)
    rt = open_runtime(Settings(data_dir=tmp_path, database_url=url), run_migrations=False)
    yield rt
    rt.close()


def _identify(rt: Runtime, ws: str, n: int, at: datetime, **traits: str) -> str:
    pipeline.ingest(
        runtime=rt,
        workspace_id=ws,
        messages=[{"type": "identify", "messageId": f"id-{n}", "userId": f"u{n}",
                   "timestamp": at.isoformat(), "traits": {"member_id": f"M{n}", **traits}}],
        received_at=at,
    )  # fmt: skip
    found = pipeline.find_person(
        runtime=rt, workspace_id=ws, identifier_type="member_id", identifier=f"M{n}"
    )
    assert found is not None
    return found.person_id


def brand(rt: Runtime) -> tuple[str, list[str], str]:
    """A workspace with a ladder (paid tier, birthday gift), 3 members, one a year ago."""
    long_ago = NOW - timedelta(days=400)
    with rt.sessions() as s, s.begin():
        ws = workspaces.create_workspace(session=s, name="品牌", now=long_ago).workspace_id
        gift = coupon_service.create_template(
            session=s, workspace_id=ws, now=long_ago,
            template=CouponTemplateCreate(name="生日券", kind="amount_off", amount_off_fen=1000,
                                          valid_days=3),
        ).id  # fmt: skip
        # A 30-day tier period without grace, so a lapsed 30-day paid term moves down at once
        # (tiers.replay holds any tier, paid or earned, until its period end plus grace).
        ladder = {"policy": {"window_days": 365, "period_days": 30, "grace_days": 0},
                  "tiers": [{"code": "basic", "name": "普通", "min_growth": 0,
                             "birthday_points": 100, "birthday_coupon_template_id": gift},
                            {"code": "plus", "name": "付费会员", "min_growth": 1_000_000,
                             "fee_fen": 9900, "term_days": 30}]}  # fmt: skip
        membership.set_tiers(
            session=s, workspace_id=ws, ladder=TierLadder.model_validate(ladder), now=long_ago
        )
        points.set_rules(
            session=s, workspace_id=ws, rules=EarnRules(expiry_months=12), now=long_ago
        )
        referral.set_settings(
            session=s, workspace_id=ws, now=long_ago,
            settings=ReferralSettings(milestones=[MilestoneRule(
                milestone=Milestone.REGISTERED, inviter=RewardSpec(kind="points", amount=30))]),
        )  # fmt: skip
    local_today = (NOW + timedelta(hours=8)).date()
    birthday = local_today.replace(year=1990).isoformat()
    people = [
        _identify(rt, ws, 0, long_ago, birthday=birthday),
        _identify(rt, ws, 1, long_ago, birthday="1990-01-01"),
        _identify(rt, ws, 2, long_ago),
    ]
    return ws, people, gift


def seed_due_work(rt: Runtime, ws: str, people: list[str]) -> None:
    """A lot due to expire, one expiring in 5 days, an expired coupon, a lapsed paid term,
    a pending referral reward."""
    a, b, c = people
    with rt.sessions() as s, s.begin():
        for key, pid, at in (("old", a, NOW - timedelta(days=370)),
                             ("soon", b, NOW - timedelta(days=360))):  # fmt: skip
            points.earn_points(session=s, workspace_id=ws, person_id=pid, points=40,
                               reason="task", idempotency_key=key, now=at)  # fmt: skip
        template = coupon_service.create_template(
            session=s, workspace_id=ws, now=NOW - timedelta(days=10),
            template=CouponTemplateCreate(name="3天券", kind="amount_off", amount_off_fen=500,
                                          valid_days=3),
        )  # fmt: skip
        coupon_service.issue_coupon(
            session=s, workspace_id=ws, template_id=template.id, person_id=c,
            now=NOW - timedelta(days=10),
        )  # fmt: skip
        membership.buy_membership(
            session=s, workspace_id=ws, person_id=c, purchase=PaidMembershipCreate(tier="plus"),
            now=NOW - timedelta(days=31),
        )  # fmt: skip
        code = referral.invite_code(session=s, workspace_id=ws, person_id=a, now=NOW).code
    pipeline.refer_person(
        runtime=rt, workspace_id=ws, now=NOW - timedelta(hours=1),
        request=ReferralCreate(code=code, identifier_type="unionid", identifier="new-friend"),
    )  # fmt: skip


def by_job(runs: list[JobRun]) -> dict[str, JobRun]:
    return {r.job: r for r in runs}


def test_each_job_does_its_work_once_per_period(runtime: Runtime) -> None:
    ws, people, _ = brand(runtime)
    seed_due_work(runtime, ws, people)
    a, b, c = people
    with runtime.sessions() as s:
        assert (
            membership.get_member(session=s, workspace_id=ws, person_id=c, now=NOW).tier == "plus"
        )
    first = by_job(pipeline.run_jobs(runtime=runtime, now=NOW))
    assert {r.status for r in first.values()} == {"ran"}, first
    assert first["points_expiry"].detail == {"lots": 1, "points": 40}
    assert first["coupon_expiry"].detail == {"expired": 1}
    assert first["paid_membership_expiry"].detail == {
        "lapsed": 1,
        "evaluated": 1,
        "upgraded": 0,
        "downgraded": 1,
    }
    assert first["tier_refresh"].detail == {"evaluated": 3, "upgraded": 0, "downgraded": 0}
    assert first["referral_payouts"].detail == {"paid": 1, "failed": 0}
    assert first["birthday_gifts"].detail["given"] == 1
    assert first["expiry_reminders"].detail == {"due": 1, "reminded": 1}
    assert first["points_expiry"].period == "2026-11-28T02"
    assert first["birthday_gifts"].period == "2026-11-28"
    assert first["referral_payouts"].period == "2026-11-28T02:30"
    with runtime.sessions() as s:
        assert (
            membership.get_member(session=s, workspace_id=ws, person_id=c, now=NOW).tier == "basic"
        )
        account = points.get_account(session=s, workspace_id=ws, person_id=a)
        assert account.balance == 30 + 100  # referral reward + birthday; the old 40 expired
        assert points_audit.verify(session=s, workspace_id=ws).mismatches == []
        gifts = coupon_service.list_coupons(session=s, workspace_id=ws, now=NOW, person_id=a)
        assert [g.source for g in gifts] == ["birthday"]
        assert coupon_service.list_coupons(
            session=s, workspace_id=ws, now=NOW, person_id=c, status=CouponStatus.EXPIRED
        )
        (lot,) = points.get_account(session=s, workspace_id=ws, person_id=b).lots
    assert lot.expires_at is not None
    profile = pipeline.get_person(runtime=runtime, workspace_id=ws, person_id=b).profile
    assert profile is not None
    assert profile.traits["points_expiring"] == 40
    expires_on = (lot.expires_at + timedelta(hours=8)).date().isoformat()
    assert profile.traits["points_expiring_on"] == expires_on

    again = pipeline.run_jobs(runtime=runtime, now=NOW + timedelta(minutes=2))
    assert {r.status for r in again} == {"skipped"}
    next_hour = by_job(pipeline.run_jobs(runtime=runtime, now=NOW + timedelta(hours=1)))
    assert next_hour["points_expiry"].status == "ran"
    assert next_hour["points_expiry"].detail == {"lots": 0, "points": 0}
    assert next_hour["birthday_gifts"].status == "skipped"  # same local day
    assert next_hour["referral_payouts"].detail == {"paid": 0, "failed": 0}
    with runtime.sessions() as s:
        assert points.get_account(session=s, workspace_id=ws, person_id=a).balance == 130


def test_daily_jobs_wait_for_their_local_hour(runtime: Runtime) -> None:
    brand(runtime)
    early = datetime.fromisoformat("2026-11-28T00:30:00+08:00")  # 00:30 in Shanghai
    runs = by_job(pipeline.run_jobs(runtime=runtime, now=early))
    assert runs["birthday_gifts"].status == "not_due"
    assert runs["points_expiry"].status == "ran"
    with pytest.raises(Exception, match="unknown job"):
        pipeline.run_jobs(runtime=runtime, now=NOW, only=["nope"])


def test_two_processes_at_once_run_each_job_once(runtime: Runtime) -> None:
    ws, people, _ = brand(runtime)
    seed_due_work(runtime, ws, people)
    results: list[list[JobRun]] = []
    barrier = threading.Barrier(4)

    def run() -> None:
        barrier.wait()
        results.append(pipeline.run_jobs(runtime=runtime, now=NOW))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    runs = [r for batch in results for r in batch]
    assert len(results) == 4
    for job in pipeline.JOB_NAMES:
        statuses = sorted(r.status for r in runs if r.job == job)
        assert statuses == ["ran", "skipped", "skipped", "skipped"], (job, statuses)
    with runtime.sessions() as s:
        assert points.get_account(session=s, workspace_id=ws, person_id=people[0]).balance == 130
        assert points_audit.verify(session=s, workspace_id=ws).mismatches == []


def test_a_dead_claim_is_taken_over_after_its_lease(runtime: Runtime) -> None:
    ws, _, _ = brand(runtime)
    with runtime.sessions() as s, s.begin():
        s.execute(insert(job_runs).values(
            workspace_id=ws, job="coupon_expiry", period="2026-11-28T02", owner="dead:1:x",
            started_at=NOW - timedelta(hours=1), finished_at=None, result=None))  # fmt: skip
        s.execute(insert(job_runs).values(
            workspace_id=ws, job="points_expiry", period="2026-11-28T02", owner="busy:2:y",
            started_at=NOW - timedelta(minutes=5), finished_at=None, result=None))  # fmt: skip
    runs = by_job(pipeline.run_jobs(runtime=runtime, now=NOW, only=["coupon_expiry",
                                                                     "points_expiry"]))  # fmt: skip
    assert runs["coupon_expiry"].status == "ran"
    assert runs["points_expiry"].status == "skipped"

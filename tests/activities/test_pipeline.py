"""The pipeline side: events tracked, rewards paid through loyalty once, funnel and ROI."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from siyu import pipeline
from siyu.activities import service as activities
from siyu.activities import teams
from siyu.activities.models import ActionCreate, ActivityCreate
from siyu.core.clock import utcnow
from siyu.core.errors import ConflictError
from siyu.core.runtime import Runtime
from siyu.loyalty import coupon_service, points, points_audit
from siyu.loyalty.coupon_models import CouponTemplateCreate
from siyu.pipeline import activities as flow
from siyu.workspaces.models import WorkspaceCreated
from tests.api.conftest import keys, runtime  # noqa: F401  (fixtures on both stores)


def _people(runtime: Runtime, ws: str, names: list[str]) -> list[str]:  # noqa: F811
    now = utcnow()
    hello = [{"type": "identify", "messageId": f"i-{n}", "userId": n} for n in names]
    pipeline.ingest(runtime=runtime, workspace_id=ws, received_at=now, messages=hello)
    return [
        pipeline.find_person(
            runtime=runtime, workspace_id=ws, identifier_type="user_id", identifier=n
        ).person_id
        for n in names
    ]


def _activity(runtime: Runtime, ws: str, **fields: object) -> str:  # noqa: F811
    now = utcnow()
    body = {"starts_at": now - timedelta(days=1), "ends_at": now + timedelta(days=7), **fields}
    with runtime.sessions() as session, session.begin():
        return activities.create_activity(
            session=session, workspace_id=ws, activity=ActivityCreate.model_validate(body), now=now
        ).id


def test_group_rewards_are_paid_through_loyalty_exactly_once(
    runtime: Runtime,  # noqa: F811
    keys: WorkspaceCreated,  # noqa: F811
) -> None:
    ws = keys.workspace_id
    lead, b, c = _people(runtime, ws, ["lead", "b", "c"])
    act = _activity(runtime, ws, name="三人团", kind="group_buy", team_size=3,
                    reward={"kind": "points", "amount": 40})  # fmt: skip
    now = utcnow()
    opened = flow.take_part(runtime=runtime, workspace_id=ws, call=teams.start, now=now,
                            activity_id=act, request=ActionCreate(person_id=lead))  # fmt: skip
    assert opened.team_id

    def join(who: str) -> str:
        return flow.take_part(runtime=runtime, workspace_id=ws, call=teams.join, now=now,
                              team_id=opened.team_id, request=ActionCreate(person_id=who),
                              idempotency_key=f"join-{who}").id  # fmt: skip

    with ThreadPoolExecutor(4) as pool:  # every join sent twice, concurrently
        ids = list(pool.map(join, [b, c, b, c]))
    assert ids[0] == ids[2] and ids[1] == ids[3]
    again = flow.pay_activity_rewards(runtime=runtime, workspace_id=ws, now=now)
    assert again.paid == []
    with runtime.sessions() as session:
        for person in (lead, b, c):
            account = points.get_account(session=session, workspace_id=ws, person_id=person)
            assert account.balance == 40
        report = points_audit.verify(session=session, workspace_id=ws)
        assert report.mismatches == []
        assert {r.status for r in activities.rewards_of(session=session, workspace_id=ws,
                                                         activity_id=act)} == {"paid"}  # fmt: skip
    with pytest.raises(ConflictError) as refused:
        flow.take_part(runtime=runtime, workspace_id=ws, call=teams.join, now=now,
                       team_id=opened.team_id, request=ActionCreate(person_id=lead))  # fmt: skip
    assert refused.value.field == "person_id"
    assert refused.value.details["reason"] == "already_joined"


def test_funnel_and_roi_on_a_known_history(
    runtime: Runtime,  # noqa: F811
    keys: WorkspaceCreated,  # noqa: F811
) -> None:
    ws = keys.workspace_id
    ann, bob, _ = _people(runtime, ws, ["ann", "bob", "cat"])
    pool = [
        {"name": "券", "kind": "points", "amount": 10, "weight": 1, "stock": 10, "cost_fen": 250}
    ]
    act = _activity(runtime, ws, name="抽奖", kind="lottery", prizes=pool)
    now = utcnow()
    track = [
        {"type": "track", "event": "activity_viewed", "userId": u, "messageId": f"v-{u}",
         "properties": {"activity_id": act}}
        for u in ("ann", "bob", "cat")
    ] + [
        {"type": "track", "event": "activity_shared", "userId": "ann", "messageId": "s-ann",
         "properties": {"activity_id": act}},
        {"type": "track", "event": "Order Completed", "userId": "ann", "messageId": "o-1",
         "properties": {"activity_id": act, "revenue_fen": 5000}},
        {"type": "track", "event": "Order Completed", "userId": "bob", "messageId": "o-2",
         "properties": {"activity_id": act, "revenue_fen": 2500}},
        {"type": "track", "event": "Order Completed", "userId": "cat", "messageId": "o-3",
         "properties": {"revenue_fen": 99999}},
    ]  # fmt: skip
    pipeline.ingest(runtime=runtime, workspace_id=ws, received_at=now, messages=track)
    for who in (ann, bob):
        flow.take_part(runtime=runtime, workspace_id=ws, call=activities.draw, now=now,
                       activity_id=act, request=ActionCreate(person_id=who))  # fmt: skip
    stats = flow.activity_stats(runtime=runtime, workspace_id=ws, activity_id=act)
    steps = {s.step: (s.persons, s.events) for s in stats.funnel}
    assert steps == {
        "view": (3, 3), "join": (2, 2), "share": (1, 1), "help": (0, 0),
        "complete": (2, 2), "order": (2, 2),
    }  # fmt: skip
    assert (stats.orders, stats.gmv_fen, stats.cost_fen) == (2, 7500, 500)
    assert stats.roi == 15.0 and stats.participations == 2
    with runtime.sessions() as session:
        assert points.get_account(session=session, workspace_id=ws, person_id=ann).balance == 10


def test_a_coupon_prize_is_issued_once_and_a_bad_template_stays_pending(
    runtime: Runtime,  # noqa: F811
    keys: WorkspaceCreated,  # noqa: F811
) -> None:
    ws, now = keys.workspace_id, utcnow()
    (ann,) = _people(runtime, ws, ["ann"])
    with runtime.sessions() as session, session.begin():
        template = coupon_service.create_template(
            session=session, workspace_id=ws, now=now,
            template=CouponTemplateCreate(name="拼团价券", kind="amount_off", amount_off_fen=3000,
                                          valid_days=7),
        ).id  # fmt: skip
    pool = [{"name": "券", "kind": "coupon", "template": template, "weight": 1, "stock": 2}]
    act = _activity(runtime, ws, name="抽券", kind="lottery", prizes=pool)
    broken = _activity(runtime, ws, name="坏券", kind="lottery",
                       prizes=[{**pool[0], "template": "ct_missing"}])  # fmt: skip
    for key in ("d1", "d1"):
        flow.take_part(runtime=runtime, workspace_id=ws, call=activities.draw, now=now,
                       activity_id=act, request=ActionCreate(person_id=ann),
                       idempotency_key=key)  # fmt: skip
    flow.take_part(runtime=runtime, workspace_id=ws, call=activities.draw, now=now,
                   activity_id=broken, request=ActionCreate(person_id=ann))  # fmt: skip
    payout = flow.pay_activity_rewards(runtime=runtime, workspace_id=ws, now=now)
    assert payout.paid == [] and len(payout.failed) == 1
    with runtime.sessions() as session:
        held = coupon_service.list_coupons(session=session, workspace_id=ws, now=now, person_id=ann)
        assert [c.template_id for c in held] == [template]
        statuses = {
            a: [
                r.status
                for r in activities.rewards_of(session=session, workspace_id=ws, activity_id=a)
            ]
            for a in (act, broken)
        }
    assert statuses == {act: ["paid"], broken: ["pending"]}

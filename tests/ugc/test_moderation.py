"""Moderation and rewards: paid through loyalty exactly once per post, however approved."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from siyu.core.clock import utcnow
from siyu.core.errors import ConflictError, NotFoundError
from siyu.core.runtime import Runtime
from siyu.loyalty import coupon_service, points
from siyu.loyalty.coupon_models import CouponTemplateCreate
from siyu.pipeline import ugc as flow
from siyu.ugc import service as ugc
from siyu.ugc.models import DEFAULT_CAMPAIGN, PostStatus, RewardRule
from siyu.workspaces.models import WorkspaceCreated
from tests.api.conftest import keys, runtime  # noqa: F401  (fixtures on both stores)
from tests.ugc.helpers import post


def _rule(rt: Runtime, ws: str, campaign: str, **rule: object) -> None:
    with rt.sessions() as session, session.begin():
        ugc.set_reward_rule(session=session, workspace_id=ws, campaign=campaign,
                            rule=RewardRule.model_validate(rule), now=utcnow())  # fmt: skip


def _balance(rt: Runtime, ws: str, person: str) -> int:
    with rt.sessions() as session:
        return points.get_account(session=session, workspace_id=ws, person_id=person).balance


def test_approve_twice_then_reject_then_approve_pays_once(
    runtime: Runtime,  # noqa: F811
    keys: WorkspaceCreated,  # noqa: F811
) -> None:
    ws = keys.workspace_id
    _rule(runtime, ws, DEFAULT_CAMPAIGN, kind="points", amount=50)
    made = flow.collect_post(runtime=runtime, workspace_id=ws, now=utcnow(), post=post())
    assert _balance(runtime, ws, made.person_id) == 0
    kw = {"runtime": runtime, "workspace_id": ws, "post_id": made.id, "now": utcnow()}
    first = flow.approve_post(actor="op1", **kw)
    assert first.status is PostStatus.APPROVED and first.moderated_by == "op1"
    assert first.reward is not None and first.reward.amount == 50
    flow.approve_post(actor="op2", **kw)
    rejected = flow.reject_post(reason="抄袭", actor="op2", **kw)
    assert (rejected.status, rejected.reason) == (PostStatus.REJECTED, "抄袭")
    assert rejected.reward is not None  # paid once, stays paid
    again = flow.approve_post(actor="op1", **kw)
    assert again.status is PostStatus.APPROVED and again.reason is None
    assert _balance(runtime, ws, made.person_id) == 50


def test_concurrent_approvals_pay_once(
    runtime: Runtime,  # noqa: F811
    keys: WorkspaceCreated,  # noqa: F811
) -> None:
    ws = keys.workspace_id
    _rule(runtime, ws, DEFAULT_CAMPAIGN, kind="points", amount=30)
    posts = [flow.collect_post(runtime=runtime, workspace_id=ws, now=utcnow(),
                               post=post(f"c{i}")) for i in range(3)]  # fmt: skip

    def approve(n: int) -> str:
        target = posts[n % 3]
        return flow.approve_post(runtime=runtime, workspace_id=ws, post_id=target.id,
                                 actor=f"op{n}", now=utcnow()).status.value  # fmt: skip

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(approve, range(24))) == {"approved"}
    assert _balance(runtime, ws, posts[0].person_id) == 3 * 30


def test_a_campaign_rule_wins_over_the_default_and_coupons_are_issued(
    runtime: Runtime,  # noqa: F811
    keys: WorkspaceCreated,  # noqa: F811
) -> None:
    ws = keys.workspace_id
    with runtime.sessions() as session, session.begin():
        template = coupon_service.create_template(
            session=session, workspace_id=ws, now=utcnow(),
            template=CouponTemplateCreate(name="晒单券", kind="amount_off", amount_off_fen=1000,
                                          valid_days=30, stock=1),
        )  # fmt: skip
    _rule(runtime, ws, DEFAULT_CAMPAIGN, kind="points", amount=10)
    _rule(runtime, ws, "晒单", kind="coupon", template=template.id)
    shown = flow.collect_post(runtime=runtime, workspace_id=ws, now=utcnow(),
                              post=post("s1", campaign="晒单"))  # fmt: skip
    paid = flow.approve_post(runtime=runtime, workspace_id=ws, post_id=shown.id, actor=None,
                             now=utcnow())  # fmt: skip
    assert paid.reward is not None and paid.reward.template == template.id
    with runtime.sessions() as session:
        held = coupon_service.list_coupons(
            session=session, workspace_id=ws, now=utcnow(), person_id=shown.person_id
        )
    assert [c.template_id for c in held] == [template.id]
    # The one coupon is gone: the next approval fails whole, the post stays pending.
    late = flow.collect_post(runtime=runtime, workspace_id=ws, now=utcnow(),
                             post=post("s2", campaign="晒单", author={"user_id": "z"}))  # fmt: skip
    with pytest.raises(ConflictError):
        flow.approve_post(runtime=runtime, workspace_id=ws, post_id=late.id, actor=None,
                          now=utcnow())  # fmt: skip
    with runtime.sessions() as session:
        still = ugc.get_post(session=session, workspace_id=ws, post_id=late.id)
    assert (still.status, still.reward) == (PostStatus.PENDING, None)


def test_no_rule_approves_without_reward_and_unknown_posts_are_404(
    runtime: Runtime,  # noqa: F811
    keys: WorkspaceCreated,  # noqa: F811
) -> None:
    ws = keys.workspace_id
    made = flow.collect_post(runtime=runtime, workspace_id=ws, now=utcnow(), post=post())
    done = flow.approve_post(runtime=runtime, workspace_id=ws, post_id=made.id, actor=None,
                             now=utcnow())  # fmt: skip
    assert (done.status, done.reward) == (PostStatus.APPROVED, None)
    with pytest.raises(NotFoundError) as gone:
        flow.approve_post(runtime=runtime, workspace_id=ws, post_id="ugc_nope", actor=None,
                          now=utcnow())  # fmt: skip
    assert gone.value.field == "post_id"

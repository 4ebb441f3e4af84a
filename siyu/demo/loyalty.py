"""Loyalty and referral for the demo brand, through the services and the flow.

:func:`configure` runs before ingest: tiers, earn rules, coupon templates, mall items,
stores, staff and live codes; the members then enrol (identify with a member_id) and earn
points and growth from their orders in :func:`siyu.pipeline.ingest_many` like any brand's.
:func:`settle` runs after the events are stored: referrals from the ``Referral Accepted``
pairs (so referral trees exist) and their rewards, live-code scans, coupons issued to members
and some redeemed, mall redemptions, and an expiry pass.

Everything is keyed by deterministic idempotency keys, so a resumed build adds nothing twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu import pipeline
from siyu.collect.models import Identifier, IdType
from siyu.core.errors import SiyuError
from siyu.core.runtime import Runtime
from siyu.demo.brand import CHANNELS, STORES
from siyu.identity import service as identity
from siyu.loyalty import coupon_service, mall, membership, points, points_audit
from siyu.loyalty.coupon_models import CouponTemplateCreate, Redemption
from siyu.loyalty.points_models import EarnRules, MallItemCreate
from siyu.loyalty.points_tables import points_accounts
from siyu.loyalty.tier_models import TierLadder
from siyu.loyalty.tier_tables import members
from siyu.referral import livecodes
from siyu.referral import service as referral
from siyu.referral.models import (
    LiveCodeCreate,
    LiveCodeKind,
    ReferralResult,
    ReferralSettings,
    StaffAssignment,
    StaffCreate,
    StoreCreate,
)

COUPON_EVERY = 20  # every 20th member (by member number) gets the member coupon
MEMBER_COUPONS = 400  # … up to this many (every customer is a member now; keeps settle short)
REDEEM_EVERY = 3  # … and every 3rd of those uses it
MALL_BUYERS = 300
SCANS = 500
REFERRALS = 500  # the earliest Referral Accepted pairs become the referral trees


class LoyaltyReport(BaseModel):
    """What the demo's loyalty and referral stages made."""

    members: int = 0
    tiers: dict[str, int] = Field(default_factory=dict)
    referrals: int = 0
    referral_refusals: int = 0
    rewards_paid: int = 0
    coupons_issued: int = 0
    coupons_redeemed: int = 0
    mall_redemptions: int = 0
    live_codes: int = 0
    scans: int = 0
    expired_lots: int = 0


def _templates(session: Session, workspace_id: str, now: datetime) -> dict[str, str]:
    existing = {
        t.name: t.id
        for t in coupon_service.list_templates(session=session, workspace_id=workspace_id)
    }
    wanted = {
        "新人立减10元": CouponTemplateCreate(
            name="新人立减10元",
            kind="amount_off",
            amount_off_fen=1000,
            threshold_fen=3000,
            valid_days=30,
        ),
        "会员8折券": CouponTemplateCreate(
            name="会员8折券",
            kind="percent_off",
            percent_off=20,
            cap_fen=1500,
            valid_days=60,
        ),
        "金卡升级礼20元": CouponTemplateCreate(
            name="金卡升级礼20元",
            kind="amount_off",
            amount_off_fen=2000,
            threshold_fen=5000,
            valid_days=90,
        ),
    }
    for name, template in wanted.items():
        if name not in existing:
            existing[name] = coupon_service.create_template(
                session=session, workspace_id=workspace_id, template=template, now=now
            ).id
    return existing


def configure(runtime: Runtime, *, workspace_id: str, now: datetime) -> None:
    """Tiers, earn rules, coupon templates, mall items, stores, staff and live codes."""
    with runtime.sessions() as session, session.begin():
        if livecodes.list_stores(session=session, workspace_id=workspace_id):
            return  # a resumed build: configured already
        templates = _templates(session, workspace_id, now)
        points.set_rules(
            session=session,
            workspace_id=workspace_id,
            rules=EarnRules(per_yuan=1, expiry="rolling", expiry_months=12),
            now=now,
        )
        ladder = {
            "policy": {"window_days": 365, "period_days": 365, "grace_days": 30},
            "tiers": [
                {"code": "normal", "name": "普通会员", "min_growth": 0},
                {"code": "silver", "name": "银卡", "min_growth": 60, "points_multiplier_pct": 120},
                {
                    "code": "gold",
                    "name": "金卡",
                    "min_growth": 200,
                    "points_multiplier_pct": 150,
                    "upgrade_coupon_template_ids": [templates["金卡升级礼20元"]],
                    "birthday_points": 100,
                },
                {
                    "code": "black",
                    "name": "黑金",
                    "min_growth": 500,
                    "points_multiplier_pct": 200,
                    "free_shipping": True,
                    "birthday_points": 300,
                },
            ],
        }
        membership.set_tiers(
            session=session,
            workspace_id=workspace_id,
            ladder=TierLadder.model_validate(ladder),
            now=now,
        )
        for item in (
            MallItemCreate(name="山茶集帆布袋", price_points=60, stock=2_000, per_person_limit=1),
            MallItemCreate(name="定制马克杯", price_points=800, stock=500, per_person_limit=1),
            MallItemCreate(
                name="积分换8折券",
                kind="coupon",
                coupon_template_id=templates["会员8折券"],
                price_points=100,
                per_person_limit=3,
            ),
        ):
            mall.create_item(session=session, workspace_id=workspace_id, item=item, now=now)
        _stores_and_codes(session, workspace_id, now)


def _stores_and_codes(session: Session, workspace_id: str, now: datetime) -> None:
    for code, name in STORES:
        store = livecodes.create_store(
            session=session, workspace_id=workspace_id, store=StoreCreate(name=name), now=now
        )
        staff = [
            livecodes.create_staff(
                session=session,
                workspace_id=workspace_id,
                staff=StaffCreate(name=f"{name}导购{n}", store_id=store.id, daily_cap=200),
                now=now,
            )
            for n in (1, 2)
        ]
        livecodes.create_live_code(
            session=session,
            workspace_id=workspace_id,
            code=LiveCodeCreate(
                name=f"{name}桌贴码",
                kind=LiveCodeKind.STORE,
                channel="store",
                scene=f"store-{code}",
                store_id=store.id,
                staff=[StaffAssignment(staff_id=s.id) for s in staff],
            ),
            now=now,
            idempotency_key=f"demo:store:{code}",
        )
    kinds = {"xiaohongshu": LiveCodeKind.KOL, "taobao": LiveCodeKind.PACKAGE_INSERT}
    for source, _medium, campaign, _share in CHANNELS:
        if source == "store":
            continue
        livecodes.create_live_code(
            session=session,
            workspace_id=workspace_id,
            code=LiveCodeCreate(
                name=f"{source}渠道码",
                kind=kinds.get(source, LiveCodeKind.POSTER),
                channel=source,
                scene=f"ch-{source}",
            ),
            now=now,
            idempotency_key=f"demo:channel:{campaign}",
        )


def _member_person(session: Session, workspace_id: str, member_id: str) -> str | None:
    found = identity.find_person(
        session=session,
        workspace_id=workspace_id,
        identifier=Identifier(IdType.MEMBER_ID, member_id),
    )
    if found is None:
        return None
    return identity.current_person_id(session=session, workspace_id=workspace_id, person_id=found)


_ACCEPTED_SQL = {
    "duckdb": "SELECT person_id, json_extract_string(properties, '$.referrer_member_id') "
    "AS ref, timestamp FROM events WHERE event = 'Referral Accepted' "
    f"ORDER BY timestamp, message_id LIMIT {REFERRALS}",
    "clickhouse": "SELECT person_id, nullIf(JSONExtractString(ifNull(properties, ''), "
    "'referrer_member_id'), '') AS ref, timestamp FROM events "
    f"WHERE event = 'Referral Accepted' ORDER BY timestamp, message_id LIMIT {REFERRALS}",
}
_STORE_FIRST = (
    "SELECT person_id, min(timestamp) AS first_at FROM events WHERE channel = 'store' "
    f"GROUP BY person_id ORDER BY first_at, person_id LIMIT {SCANS}"
)
_STORE_FIRST_SQL = {"duckdb": _STORE_FIRST, "clickhouse": _STORE_FIRST}  # the same in both


def _referrals(runtime: Runtime, workspace_id: str, report: LoyaltyReport) -> None:
    rows = runtime.events.query(workspace_id, _ACCEPTED_SQL[runtime.events.dialect]).to_pylist()
    with runtime.sessions() as session, session.begin():
        for row in rows:
            inviter = _member_person(session, workspace_id, row["ref"])
            if inviter is None:
                continue
            at = row["timestamp"]
            code = referral.invite_code(
                session=session, workspace_id=workspace_id, person_id=inviter, now=at
            ).code
            try:
                outcome = referral.refer(
                    session=session,
                    workspace_id=workspace_id,
                    code=code,
                    invitee_id=row["person_id"],
                    now=at,
                )
            except SiyuError:
                report.referral_refusals += 1
                continue
            if isinstance(outcome, ReferralResult):
                report.referrals += 1
            else:
                report.referral_refusals += 1


def _scans(runtime: Runtime, workspace_id: str, report: LoyaltyReport) -> None:
    rows = runtime.events.query(workspace_id, _STORE_FIRST_SQL[runtime.events.dialect]).to_pylist()
    with runtime.sessions() as session, session.begin():
        codes = [
            livecodes.find_live_code_by_scene(
                session=session, workspace_id=workspace_id, scene=f"store-{code}"
            )
            for code, _ in STORES
        ]
        for n, row in enumerate(rows):
            code = codes[n % len(codes)]
            if code is None:
                continue
            person = identity.current_person_id(
                session=session, workspace_id=workspace_id, person_id=row["person_id"]
            )
            livecodes.record_scan(
                session=session,
                workspace_id=workspace_id,
                code_id=code.id,
                person_id=person,
                action="add",
                now=row["first_at"],
                zone="Asia/Shanghai",
                idempotency_key=f"demo:scan:{n}",
            )
            report.scans += 1
        report.live_codes = len(
            livecodes.list_live_codes(session=session, workspace_id=workspace_id)
        )


def _coupons_and_mall(
    runtime: Runtime, workspace_id: str, now: datetime, report: LoyaltyReport
) -> None:
    m = members.c
    with runtime.sessions() as session, session.begin():
        templates = _templates(session, workspace_id, now)
        rows = session.execute(
            select(m.person_id, m.member_no)
            .where(m.workspace_id == workspace_id)
            .order_by(m.member_no)
        ).all()
        for n, row in enumerate(rows[::COUPON_EVERY][:MEMBER_COUPONS]):
            coupon = coupon_service.issue_coupon(
                session=session,
                workspace_id=workspace_id,
                template_id=templates["会员8折券"],
                person_id=row.person_id,
                now=now,
                idempotency_key=f"demo:member-coupon:{row.member_no}",
                source="demo",
            )
            report.coupons_issued += 1
            if n % REDEEM_EVERY == 0:
                coupon_service.redeem_coupon(
                    session=session,
                    workspace_id=workspace_id,
                    coupon_id=coupon.id,
                    redemption=Redemption(order_id=f"SCR{n + 1:09d}", order_amount_fen=4_800),
                    now=now + timedelta(minutes=1),
                )
                report.coupons_redeemed += 1
        items = mall.list_items(session=session, workspace_id=workspace_id)
        bag = next(i for i in items if i.name == "山茶集帆布袋")
        a = points_accounts.c
        rich = session.execute(
            select(m.person_id, m.member_no)
            .join(
                points_accounts, (a.workspace_id == m.workspace_id) & (a.person_id == m.person_id)
            )
            .where(m.workspace_id == workspace_id, a.balance >= bag.price_points)
            .order_by(m.member_no)
            .limit(MALL_BUYERS)
        ).all()
        for row in rich:
            try:
                mall.redeem(
                    session=session,
                    workspace_id=workspace_id,
                    item_id=bag.id,
                    person_id=row.person_id,
                    idempotency_key=f"demo:mall:{row.member_no}",
                    now=now + timedelta(minutes=2),
                )
            except SiyuError:
                continue  # not enough points, or out of stock
            report.mall_redemptions += 1


def settle(runtime: Runtime, *, workspace_id: str, now: datetime) -> LoyaltyReport:
    """After ingest and flush: referrals, rewards, scans, coupons, mall and an expiry pass."""
    report = LoyaltyReport()
    with runtime.sessions() as session, session.begin():
        referral.set_settings(
            session=session,
            workspace_id=workspace_id,
            settings=ReferralSettings.model_validate(
                {
                    "milestones": [
                        {"milestone": "registered", "inviter": {"kind": "points", "amount": 50}},
                    ],
                    "max_invites_per_hour": 50,
                }
            ),
            now=now,
        )
    _referrals(runtime, workspace_id, report)
    report.rewards_paid = len(
        pipeline.pay_referral_rewards(runtime=runtime, workspace_id=workspace_id, now=now).paid
    )
    _scans(runtime, workspace_id, report)
    _coupons_and_mall(runtime, workspace_id, now, report)
    later = now + timedelta(minutes=3)
    with runtime.sessions() as session, session.begin():
        while (
            expired := points_audit.expire_due(
                session=session, now=later, workspace_id=workspace_id
            )
        ).lots:
            report.expired_lots += expired.lots
        coupon_service.expire_coupons(session=session, workspace_id=workspace_id, now=later)
        board = membership.distribution(session=session, workspace_id=workspace_id, now=later)
        report.tiers = {c.tier: c.members for c in board.tiers}
        report.members = sum(report.tiers.values())
    return report

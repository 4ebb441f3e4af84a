"""The blocking reads behind the loyalty and growth pages."""

from __future__ import annotations

import base64
from datetime import datetime

from pydantic import BaseModel

from siyu import pipeline
from siyu.core.errors import NotFoundError
from siyu.core.runtime import Runtime
from siyu.loyalty import coupon_service as coupons
from siyu.loyalty import mall, membership, points
from siyu.loyalty.coupon_models import CouponTemplate
from siyu.loyalty.points_models import EarnRules, MallItem, PointsEntry
from siyu.loyalty.tier_models import TierDistribution, TierLadder
from siyu.referral import codes, livecodes
from siyu.referral import service as referral
from siyu.referral.models import LiveCode, LiveCodeStats, ReferralSummary


class Programme(BaseModel):
    """The loyalty programme: tiers and who holds them, earn rules, coupons, the mall."""

    ladder: TierLadder | None
    distribution: TierDistribution | None
    rules: EarnRules
    templates: list[CouponTemplate]
    items: list[MallItem]


class CodeCard(BaseModel):
    """A live code, its QR image (a data URL, nothing fetched) and its results."""

    code: LiveCode
    qr_data_url: str
    stats: LiveCodeStats


class Growth(BaseModel):
    """Live codes and the referral leaderboard."""

    codes: list[CodeCard]
    summary: ReferralSummary


class Ledger(BaseModel):
    """A member's balance and latest entries."""

    person_id: str
    balance: int
    entries: list[PointsEntry]


def programme(*, runtime: Runtime, workspace_id: str, now: datetime) -> Programme:
    """Everything the loyalty page shows."""
    with runtime.sessions() as session:
        try:
            ladder: TierLadder | None = membership.get_tiers(
                session=session, workspace_id=workspace_id
            )
            spread: TierDistribution | None = membership.distribution(
                session=session, workspace_id=workspace_id, now=now
            )
        except NotFoundError:
            ladder, spread = None, None
        return Programme(
            ladder=ladder,
            distribution=spread,
            rules=points.get_rules(session=session, workspace_id=workspace_id),
            templates=coupons.list_templates(session=session, workspace_id=workspace_id),
            items=mall.list_items(session=session, workspace_id=workspace_id),
        )


def ledger(*, runtime: Runtime, workspace_id: str, member_id: str) -> Ledger:
    """The points ledger of the member with ``member_id`` (NotFoundError if none)."""
    person = pipeline.find_person(
        runtime=runtime,
        workspace_id=workspace_id,
        identifier_type="member_id",
        identifier=member_id,
    )
    with runtime.sessions() as session:
        account = points.get_account(
            session=session, workspace_id=workspace_id, person_id=person.person_id
        )
        page = points.list_entries(
            session=session, workspace_id=workspace_id, person_id=person.person_id, limit=100
        )
    return Ledger(person_id=person.person_id, balance=account.balance, entries=page.entries)


def growth(*, runtime: Runtime, workspace_id: str) -> Growth:
    """Live codes with QR images and results, and the referral summary."""
    with runtime.sessions() as session:
        found = livecodes.list_live_codes(session=session, workspace_id=workspace_id)
        cards = [
            CodeCard(
                code=code,
                qr_data_url="data:image/png;base64,"
                + base64.b64encode(codes.qr_png(code.url, 4)).decode(),
                stats=livecodes.live_code_stats(
                    session=session, workspace_id=workspace_id, code_id=code.id
                ),
            )
            for code in found
        ]
        summary = referral.summary(session=session, workspace_id=workspace_id, limit=20)
    return Growth(codes=cards, summary=summary)

"""The demo brand's three journeys: welcome series, repurchase reminder, win-back with an A/B
split and a holdout — with the templates, coupons and at-risk segment they use.

The definitions are the YAML files next to this module; ``${…}`` placeholders are filled with
the workspace's coupon template ids, the content items their messages carry (the demo
library, created first), the at-risk segment's id and the brand's median
repurchase interval (from the analytics repurchase query over the last year; 30 days when the
data has too few repeat orders). Most of the win-back audience has opted in to SMS and WeCom
(a stable share; the others' messages are held ``no_consent``). Delivery settings are left
unconfigured: the demo's messages stay queued in the outbox (no traffic leaves the machine)
until an operator configures SMS, email or WeChat accounts.
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta
from importlib import resources
from string import Template

import yaml
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from siyu import pipeline
from siyu.analytics import service as analytics
from siyu.analytics.models import RepurchaseQuery
from siyu.channels import service as channels
from siyu.channels.models import Channel
from siyu.channels.outbox_models import TemplatePut
from siyu.channels.restraint import ConsentStatus
from siyu.content import service as content
from siyu.core.runtime import Runtime
from siyu.demo import content_seed
from siyu.journeys import service as journeys
from siyu.journeys.definition import parse_definition
from siyu.journeys.triggers import members_of
from siyu.loyalty import coupon_service
from siyu.loyalty.coupon_models import CouponTemplateCreate
from siyu.pipeline import journey_checks
from siyu.segments import service as segments
from siyu.segments.models import CONDITION, SegmentCreate

FILES = ("welcome.yaml", "repurchase.yaml", "winback.yaml")
AT_RISK = "流失风险会员"
DEFAULT_INTERVAL_DAYS = 30
TEMPLATES = (
    TemplatePut(channel=Channel.WECOM, name="welcome",
                body="你好，欢迎来到山茶集！有问题随时找我。"),
    TemplatePut(channel=Channel.WECOM, name="welcome_1v1",
                body="{{ name }}，欢迎加入山茶集！新人立减10元券已备好，下单即可使用。\n"
                     "{{ content_message }}"),
    TemplatePut(channel=Channel.WECOM, name="staff_task", body="{{ task }}"),
    TemplatePut(channel=Channel.WECOM, name="winback_1v1",
                body="好久不见！送您一张会员8折券，最近有什么想喝的吗？（{{ task }}）"),
    TemplatePut(channel=Channel.MP_TEMPLATE, name="coupon_arrived", body="您的{{ coupon }}已到账",
                provider_template_id="TPL_COUPON_ARRIVED"),
    TemplatePut(channel=Channel.SMS, name="repurchase_reminder", sender="山茶集",
                provider_template_id="SMS_REPURCHASE",
                body="{{ name }}，您常买的茶该补货了。{{ content_message }}"),
    TemplatePut(channel=Channel.SMS, name="winback_sms", sender="山茶集",
                provider_template_id="SMS_WINBACK",
                body="{{ name }}，会员8折券已到账。{{ content_message }} 回T退订"),
)  # fmt: skip
COUPONS = {
    "coupon_new": CouponTemplateCreate(name="新人立减10元", kind="amount_off",
                                       amount_off_fen=1000, threshold_fen=3000, valid_days=30),
    "coupon_member": CouponTemplateCreate(name="会员8折券", kind="percent_off", percent_off=20,
                                          cap_fen=1500, valid_days=60),
}  # fmt: skip
# The library items (by title, see demo.content_seed) the journeys' messages carry.
CONTENT = {
    "content_welcome": "欢迎语：新朋友",
    "content_repurchase": "双12 主会场",
    "content_winback": "双12 会员日海报",
}
# At risk: repeat buyers (2+ orders) who have not ordered for 60 days (RFM: R low, F high).
AT_RISK_RULE = {"type": "all", "of": [
    {"type": "computed", "name": "order_count", "op": "gte", "value": 2},
    {"type": "computed", "name": "days_since_last_order", "op": "gt", "value": 60},
]}  # fmt: skip


class SeededJourneys(BaseModel):
    """What seeding made."""

    journeys: dict[str, str] = Field(description="Name → journey id (active).")
    segment_id: str
    repurchase_days: int
    consents: int = Field(default=0, description="Opt-ins recorded for the win-back audience.")


def median_repurchase_days(runtime: Runtime, *, workspace_id: str, now: datetime) -> int:
    """The brand's median days between consecutive orders over the last year (rounded up)."""
    query = RepurchaseQuery(start=now - timedelta(days=365), end=now, within_days=90)
    found = analytics.run_repurchase(runtime=runtime, workspace_id=workspace_id, query=query)
    median = found.interval_days_median
    return max(1, math.ceil(median)) if median else DEFAULT_INTERVAL_DAYS


def _coupon_ids(session: Session, workspace_id: str, now: datetime) -> dict[str, str]:
    found = coupon_service.list_templates(session=session, workspace_id=workspace_id)
    existing = {t.name: t.id for t in found}
    ids = {}
    for key, spec in COUPONS.items():
        if spec.name not in existing:
            existing[spec.name] = coupon_service.create_template(
                session=session, workspace_id=workspace_id, template=spec, now=now
            ).id
        ids[key] = existing[spec.name]
    return ids


def _content_ids(session: Session, workspace_id: str) -> dict[str, str]:
    by_title = {c.title: c.id for c in content.list_content(session=session,
                                                           workspace_id=workspace_id)}  # fmt: skip
    return {key: by_title[title] for key, title in CONTENT.items()}


def _segment(session: Session, workspace_id: str, now: datetime) -> str:
    for found in segments.list_segments(session=session, workspace_id=workspace_id):
        if found.name == AT_RISK:
            return found.id
    made = segments.create_segment(
        session=session, workspace_id=workspace_id, now=now,
        segment=SegmentCreate(name=AT_RISK, definition=CONDITION.validate_python(AT_RISK_RULE),
                              description="复购过、但 60 天未下单的会员（挽回旅程的入口）"),
    )  # fmt: skip
    return made.id


def definitions(values: dict[str, str]) -> list[dict[str, object]]:
    """The three definitions as data, placeholders filled."""
    folder = resources.files(__package__)
    return [
        yaml.safe_load(Template(folder.joinpath(name).read_text("utf-8")).substitute(values))
        for name in FILES
    ]


def seed_journeys(runtime: Runtime, *, workspace_id: str, now: datetime) -> SeededJourneys:
    """Create (once) the templates, coupons, at-risk segment and the three active journeys;
    refresh the segment so the win-back journey takes its first members."""
    days = median_repurchase_days(runtime, workspace_id=workspace_id, now=now)
    content_seed.seed_library(runtime, workspace_id=workspace_id, now=now)  # the sends carry it
    with runtime.sessions() as session, session.begin():
        for template in TEMPLATES:
            stored = channels.find_template(
                session=session, workspace_id=workspace_id, channel=template.channel,
                name=template.name,
            )  # fmt: skip
            if stored is None:
                channels.put_template(session=session, workspace_id=workspace_id,
                                      template=template, now=now)  # fmt: skip
        values = _coupon_ids(session, workspace_id, now) | _content_ids(session, workspace_id)
        segment_id = _segment(session, workspace_id, now)
        values |= {"segment_at_risk": segment_id, "repurchase_days": str(days)}
        made = _journeys(session, workspace_id, definitions(values), now)
    pipeline.refresh_segment(runtime=runtime, workspace_id=workspace_id, segment_id=segment_id,
                             now=now)  # fmt: skip
    with runtime.sessions() as session, session.begin():
        granted = _consents(session, workspace_id, segment_id, now)
    return SeededJourneys(
        journeys=made, segment_id=segment_id, repurchase_days=days, consents=granted
    )


# Shares of at-risk members who opted in when they joined (the rest are held no_consent).
CONSENT_SHARES = {Channel.SMS: 80, Channel.WECOM: 70}


def _consents(session: Session, workspace_id: str, segment_id: str, now: datetime) -> int:
    """Record the sign-up opt-ins of the win-back audience (a stable share per channel)."""
    granted = 0
    for person_id in members_of(session, workspace_id, segment_id):
        for channel, share in CONSENT_SHARES.items():
            digest = hashlib.sha256(f"{person_id}:{channel.value}".encode()).digest()
            if digest[0] * 100 < share * 256:
                channels.set_consent(session=session, workspace_id=workspace_id,
                                     person_id=person_id, channel=channel,
                                     status=ConsentStatus.GRANTED, source="demo:signup",
                                     now=now)  # fmt: skip
                granted += 1
    return granted


def _journeys(
    session: Session, workspace_id: str, data: list[dict[str, object]], now: datetime
) -> dict[str, str]:
    found = journeys.list_journeys(session=session, workspace_id=workspace_id)
    existing = {j.name: j.id for j in found}
    made = {}
    for raw in data:
        definition = parse_definition(raw)
        if definition.name not in existing:
            journey = journey_checks.create_journey(session=session, workspace_id=workspace_id,
                                                    definition=definition, now=now)  # fmt: skip
            journey_checks.set_status(session=session, workspace_id=workspace_id,
                                      journey_id=journey.id,
                                      status=journeys.JourneyStatus.ACTIVE, now=now)  # fmt: skip
            existing[definition.name] = journey.id
        made[definition.name] = existing[definition.name]
    return made

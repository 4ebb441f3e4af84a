"""A runtime over the ``db`` engine (SQLite and PostgreSQL) and one seeded person, Alice,
who reached every domain through the real services: events, a merge, a journey that sent
her an SMS, tagged her, gave points and a coupon; consent, a note, spent points."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from siyu import pipeline
from siyu.channels import service as channels
from siyu.channels.models import Channel
from siyu.channels.outbox_models import TemplatePut
from siyu.channels.restraint import ConsentStatus
from siyu.core.config import Settings
from siyu.core.runtime import Runtime, open_runtime
from siyu.journeys import service as journeys
from siyu.journeys.definition import parse_definition
from siyu.loyalty import coupon_service, points
from siyu.loyalty.coupon_models import CouponTemplateCreate
from siyu.pipeline import journey_jobs
from siyu.profiles import notes, tags
from siyu.profiles.tag_models import TagCreate, TagGroupCreate
from siyu.workspaces import service as workspaces

NOW = datetime.fromisoformat("2026-11-28T02:30:00+00:00")
ALICE_PHONE = "13800138001"
BOB_PHONE = "13900139002"


@dataclass
class Seeded:
    runtime: Runtime
    workspace_id: str
    alice: str  # the surviving person id
    alice_ids: list[str]  # every person id of Alice (survivor first)
    bob: str
    secret_key: str = ""


@pytest.fixture
def runtime(db_engine: Engine, tmp_path: Path) -> Iterator[Runtime]:
    url = db_engine.url.render_as_string(hide_password=False)
    rt = open_runtime(Settings(data_dir=tmp_path, database_url=url), run_migrations=False)
    yield rt
    rt.close()


def track(rt: Runtime, ws: str, msg: str, event: str, at: datetime, **ids: Any) -> None:
    pipeline.ingest(
        runtime=rt, workspace_id=ws, received_at=at,
        messages=[{"type": "track", "event": event, "messageId": msg,
                   "timestamp": at.isoformat(), "properties": {"revenue": 99.5}, **ids}],
    )  # fmt: skip


def _setup_workspace(rt: Runtime) -> tuple[str, str, str]:
    with rt.sessions() as s, s.begin():
        created = workspaces.create_workspace(session=s, name="品牌", now=NOW)
        ws = created.workspace_id
        tags.create_group(session=s, workspace_id=ws, group=TagGroupCreate(name="旅程"), now=NOW)
        tags.create_tag(session=s, workspace_id=ws, tag=TagCreate(group="旅程", name="新客"),
                        now=NOW)  # fmt: skip
        coupon = coupon_service.create_template(
            session=s, workspace_id=ws, now=NOW,
            template=CouponTemplateCreate(name="新客券", kind="amount_off", amount_off_fen=500,
                                          valid_days=7, per_person_limit=1),
        ).id  # fmt: skip
        hello = TemplatePut(channel=Channel.SMS, name="hello", body="你好", sender="品牌")
        channels.put_template(session=s, workspace_id=ws, now=NOW, template=hello)
    return ws, coupon, created.secret_key


def _welcome(rt: Runtime, ws: str, coupon: str) -> None:
    definition = {
        "name": "welcome",
        "trigger": {"type": "event", "spec": {"event": "Signed Up"}},
        "start": "sms",
        "nodes": [
            {"type": "action", "id": "sms", "next": "tag", "action": {
                "type": "send_message", "channel": "sms", "template": "hello", "params": {}}},
            {"type": "action", "id": "tag", "next": "points",
             "action": {"type": "add_tag", "tag": "旅程/新客"}},
            {"type": "action", "id": "points", "next": "coupon",
             "action": {"type": "award_points", "points": 50, "reason": "welcome"}},
            {"type": "action", "id": "coupon", "next": "end",
             "action": {"type": "issue_coupon", "template_id": coupon}},
            {"type": "exit", "id": "end"},
        ],
    }  # fmt: skip
    with rt.sessions() as s, s.begin():
        j = journeys.create_journey(
            session=s, workspace_id=ws, definition=parse_definition(definition), now=NOW
        )
        journeys.set_status(session=s, workspace_id=ws, journey_id=j.id,
                            status=journeys.JourneyStatus.ACTIVE, now=NOW)  # fmt: skip


def _person(rt: Runtime, ws: str, kind: str, value: str) -> pipeline.PersonView:
    return pipeline.find_person(runtime=rt, workspace_id=ws, identifier_type=kind, identifier=value)


def seed(rt: Runtime) -> Seeded:
    ws, coupon, secret_key = _setup_workspace(rt)
    _welcome(rt, ws, coupon)
    t1 = NOW - timedelta(days=40)
    # Alice browses anonymously, then signs up with her phone: two persons, merged.
    track(rt, ws, "m-001", "Product Viewed", t1, anonymousId="anon-a1")
    track(rt, ws, "m-002", "Signed Up", NOW - timedelta(minutes=5), userId="u-alice-7",
          context={"traits": {"phone": ALICE_PHONE, "name": "李丽"}})  # fmt: skip
    track(rt, ws, "m-003", "Order Completed", NOW - timedelta(minutes=4), userId="u-alice-7",
          anonymousId="anon-a1")  # fmt: skip
    track(rt, ws, "m-004", "Signed Up", NOW - timedelta(minutes=3), userId="u-bob-9",
          context={"traits": {"phone": BOB_PHONE}})  # fmt: skip
    alice = _person(rt, ws, "phone", ALICE_PHONE)
    bob = _person(rt, ws, "phone", BOB_PHONE).person_id
    with rt.sessions() as s, s.begin():
        for person in (alice.person_id, bob):
            channels.set_consent(session=s, workspace_id=ws, person_id=person,
                                 channel=Channel.SMS, status=ConsentStatus.GRANTED,
                                 source="signup form", now=NOW)  # fmt: skip
        notes.add_note(session=s, workspace_id=ws, person_id=alice.person_id,
                       text="prefers calls after 6pm", now=NOW, author="ops")  # fmt: skip
    journey_jobs.advance_journeys(rt, NOW)
    with rt.sessions() as s, s.begin():
        points.spend_points(session=s, workspace_id=ws, person_id=alice.person_id, points=20,
                            reason="redeem", idempotency_key=f"spend:{alice.person_id}",
                            now=NOW)  # fmt: skip
    pipeline.flush(runtime=rt)
    track(rt, ws, "m-005", "Page Viewed", NOW, userId="u-alice-7")  # stays in the inbox
    ids = [alice.person_id, *alice.merged_person_ids]
    return Seeded(rt, ws, alice.person_id, ids, bob, secret_key)


@pytest.fixture
def seeded(runtime: Runtime) -> Seeded:
    return seed(runtime)

"""Retention of what else holds personal information (SQLite and PostgreSQL): outbox bodies
and recipients are emptied past their period while caps, content reach and journey stats
still count them; superseded consent answers go, the current one and its record stay; old
audit rows go while erasure receipts still replay and verify; group flag excerpts and old
unanswered questions go; fresh rows stay; a second pass changes nothing, batches resume."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select

from siyu.assistant.tables import assistant_unanswered
from siyu.channels import retention as channel_retention
from siyu.channels import service as channels
from siyu.channels.dispatch import dispatch_due
from siyu.channels.models import (
    Channel,
    Delivery,
    HoldReason,
    MessageRequest,
    MessageStatus,
    OutboundMessage,
    Purpose,
)
from siyu.channels.restraint import ChannelCaps, ConsentStatus, RestraintPolicy
from siyu.channels.tables import channel_consent_history, channel_consents, channel_messages
from siyu.community.tables import community_flags
from siyu.core.errors import InvalidInputError
from siyu.core.runtime import Runtime
from siyu.journeys import service as journeys
from siyu.journeys.stats import journey_stats
from siyu.pipeline import content_performance, jobs, privacy
from siyu.privacy.models import RetentionUpdate
from siyu.privacy.tables import privacy_audit
from tests.privacy.conftest import NOW, Seeded

SHORT = RetentionUpdate(
    message_retention_days=180,
    consent_history_retention_days=180,
    audit_retention_days=180,
    group_text_retention_days=90,
)
LATER = NOW + timedelta(days=200)  # cutoffs: messages, consent, audit NOW+20d; texts NOW+110d


class Accepting:
    """An SMS provider that accepts every message (the edge; retention is what is tested)."""

    channel = Channel.SMS

    def __init__(self, at: datetime) -> None:
        self.at = at
        self.sent: list[OutboundMessage] = []

    def send(self, message: OutboundMessage) -> Delivery:
        self.sent.append(message)
        return Delivery(provider_message_id=f"p-{self.at:%j}-{len(self.sent)}", accepted_at=self.at)


def _send(rt: Runtime, ws: str, person: str, key: str, at: datetime, **params: str) -> str:
    request = MessageRequest(
        person_id=person,
        channel=Channel.SMS,
        template="hello",
        params=params,
        purpose=Purpose.TRANSACTIONAL,
        idempotency_key=key,
    )
    with rt.sessions() as s, s.begin():
        return channels.enqueue(session=s, workspace_id=ws, request=request, now=at).message_id


def _dispatch(rt: Runtime, at: datetime, batch_size: int = 100) -> None:
    transports: Any = {Channel.SMS: Accepting(at)}
    dispatch_due(session_factory=rt.sessions, transports=transports, now=at,
                 batch_size=batch_size, vault=rt.vault)  # fmt: skip


def _messages(rt: Runtime) -> dict[str, Any]:
    with rt.sessions() as s:
        return {r.id: r for r in s.execute(select(channel_messages))}


def _consent(rt: Runtime, ws: str, person: str, status: ConsentStatus, at: datetime) -> None:
    with rt.sessions() as s, s.begin():
        channels.set_consent(session=s, workspace_id=ws, person_id=person, channel=Channel.SMS,
                             status=status, source="preference centre", now=at)  # fmt: skip


def _texts(rt: Runtime, ws: str) -> None:
    with rt.sessions() as s, s.begin():
        for key, at in (("old", NOW), ("fresh", NOW + timedelta(days=150))):
            s.execute(insert(community_flags).values(
                workspace_id=ws, msg_key=key, chat_id="wr1", member_id="wm_a",
                reasons=["spam:link"], excerpt=f"加我微信 {key}", at=at))  # fmt: skip
            s.execute(insert(assistant_unanswered).values(
                workspace_id=ws, question_key=key, question=f"{key} 怎么退货", count=2,
                best_confidence=0.1, first_at=NOW, last_at=at))  # fmt: skip


def _world(seeded: Seeded) -> dict[str, str]:
    """Messages old and fresh, settled and stuck; consent changes; audit rows; group texts."""
    rt, ws = seeded.runtime, seeded.workspace_id
    content = _send(rt, ws, seeded.alice, "content", NOW + timedelta(minutes=1),
                    content_id="cnt_1", content_variant="sms", coupon_code="ABC123")  # fmt: skip
    _dispatch(rt, NOW + timedelta(minutes=2))  # the journey's two SMS and this one
    fresh = _send(rt, ws, seeded.bob, "fresh", NOW + timedelta(days=170))
    _dispatch(rt, NOW + timedelta(days=170, minutes=1))
    stuck = _send(rt, ws, seeded.alice, "stuck", NOW + timedelta(minutes=5))  # still queued
    _consent(rt, ws, seeded.alice, ConsentStatus.REVOKED, NOW + timedelta(days=1))
    _consent(rt, ws, seeded.alice, ConsentStatus.GRANTED, NOW + timedelta(days=2))
    for at in (NOW, NOW + timedelta(days=190)):
        privacy.export_person(runtime=rt, workspace_id=ws, person_id=seeded.bob,
                              actor="key:k", now=at)  # fmt: skip
    _texts(rt, ws)
    privacy.set_retention(runtime=rt, workspace_id=ws, change=SHORT, now=NOW)
    return {"content": content, "stuck": stuck, "fresh": fresh}


def _dependents(seeded: Seeded) -> tuple[Any, ...]:
    rt, ws = seeded.runtime, seeded.workspace_id
    with rt.sessions() as s:
        (journey,) = journeys.list_journeys(session=s, workspace_id=ws)
        stats = journey_stats(session=s, workspace_id=ws, journey_id=journey.id)
        reach = content_performance.reach(session=s, workspace_id=ws, start=NOW,
                                          end=NOW + timedelta(days=1))  # fmt: skip
        sources = channels.stats_by_source(session=s, workspace_id=ws)
    return stats, reach, sources


def test_expired_rows_are_redacted_or_deleted_and_fresh_ones_stay(seeded: Seeded) -> None:
    rt, ws = seeded.runtime, seeded.workspace_id
    ids = _world(seeded)
    before = _dependents(seeded)
    assert before[1] == {("cnt_1", "sms"): 1}
    run = privacy.apply_retention(runtime=rt, workspace_id=ws, now=LATER)
    assert run.counts == {
        "channel_messages.redacted": 3,  # the journey's two SMS and the content one
        "wecom_tasks.redacted": 0,
        "channel_consent_history.deleted": 2,  # Alice's first grant and her revocation
        "privacy_audit.deleted": 1,
        "community_flags.redacted": 1,
        "assistant_unanswered.deleted": 1,
    }
    rows = _messages(rt)
    redacted = [r for r in rows.values() if r.redacted_at is not None]
    assert len(redacted) == 3 and ids["content"] in {r.id for r in redacted}
    for r in redacted:
        assert (r.content, r.subject, r.recipient, r.recipient_encrypted) == ("", None, None, None)
        assert r.status == MessageStatus.SENT.value and r.sent_at is not None
    assert rows[ids["content"]].params == {"content_id": "cnt_1", "content_variant": "sms"}
    assert rows[ids["stuck"]].redacted_at is None and rows[ids["stuck"]].content == "你好"
    fresh = rows[ids["fresh"]]
    assert fresh.redacted_at is None and fresh.recipient_encrypted and fresh.content == "你好"
    assert _dependents(seeded) == before  # journey stats, content reach, per-source stats

    with rt.sessions() as s:
        history = s.execute(select(channel_consent_history.c.person_id,
                                   channel_consent_history.c.status)).all()  # fmt: skip
        current = dict(
            s.execute(select(channel_consents.c.person_id, channel_consents.c.status)).all()
        )
        audit_at = list(s.execute(select(privacy_audit.c.at)).scalars())
        flags = dict(s.execute(select(community_flags.c.msg_key, community_flags.c.excerpt)).all())
        questions = list(s.execute(select(assistant_unanswered.c.question_key)).scalars())
    assert sorted(history) == sorted([(seeded.alice, "granted"), (seeded.bob, "granted")])
    assert current == {seeded.alice: "granted", seeded.bob: "granted"}
    assert audit_at == [NOW + timedelta(days=190)]
    assert flags == {"old": "", "fresh": "加我微信 fresh"}
    assert questions == ["fresh"]

    again = privacy.apply_retention(runtime=rt, workspace_id=ws, now=LATER)
    assert set(again.counts.values()) == {0}  # idempotent


def test_batches_resume_after_a_kill_and_the_job_reports(seeded: Seeded) -> None:
    rt, ws = seeded.runtime, seeded.workspace_id
    _world(seeded)
    with rt.sessions() as s, s.begin():  # one committed batch, then the process "dies"
        assert channel_retention.redact_messages(
            session=s, workspace_id=ws, before=LATER - timedelta(days=180), now=LATER, limit=1
        ) == (1, 0)
    run = privacy.apply_retention(runtime=rt, workspace_id=ws, now=LATER, batch_size=1)
    assert run.counts["channel_messages.redacted"] == 2
    assert run.counts["channel_consent_history.deleted"] == 2
    assert sum(r.redacted_at is not None for r in _messages(rt).values()) == 3
    runs = jobs.run_jobs(runtime=rt, now=LATER + timedelta(days=1, hours=20), workspace_id=ws,
                         only=["event_retention"])  # fmt: skip
    assert [(r.status, r.detail["channel_messages.redacted"]) for r in runs] == [("ran", 0)]
    assert runs[0].summary.startswith("raw events kept; ")


def test_caps_still_count_redacted_messages(seeded: Seeded) -> None:
    rt, ws = seeded.runtime, seeded.workspace_id
    first = datetime.fromisoformat("2026-12-01T02:30:00+00:00")
    monthly = RestraintPolicy(default_caps=ChannelCaps(daily=None, weekly=None, monthly=1))
    with rt.sessions() as s, s.begin():
        channels.set_policy(session=s, workspace_id=ws, policy=monthly, now=first)
    ask = {"person_id": seeded.bob, "channel": Channel.SMS, "template": "hello"}
    with rt.sessions() as s, s.begin():
        channels.enqueue(session=s, workspace_id=ws, now=first,
                         request=MessageRequest(**ask, idempotency_key="m-dec-1"))  # fmt: skip
    _dispatch(rt, first + timedelta(minutes=1))
    later = first + timedelta(days=8)
    privacy.set_retention(runtime=rt, workspace_id=ws, now=first,
                          change=RetentionUpdate(message_retention_days=7))  # fmt: skip
    run = privacy.apply_retention(runtime=rt, workspace_id=ws, now=later)
    assert run.counts["channel_messages.redacted"] >= 1
    with rt.sessions() as s, s.begin():
        again = MessageRequest(**ask, idempotency_key="m-dec-2")
        second = channels.enqueue(session=s, workspace_id=ws, now=later, request=again)
    assert (second.status, second.reason) == (MessageStatus.HELD, HoldReason.MONTHLY_CAP)


def test_erasure_receipts_outlive_the_audit_rows(seeded: Seeded) -> None:
    rt, ws = seeded.runtime, seeded.workspace_id
    receipt = privacy.erase_person(runtime=rt, workspace_id=ws, person_id=seeded.bob,
                                   actor="key:k", now=NOW, idempotency_key="erase-bob")  # fmt: skip
    privacy.set_retention(runtime=rt, workspace_id=ws, now=NOW,
                          change=RetentionUpdate(audit_retention_days=180))  # fmt: skip
    run = privacy.apply_retention(runtime=rt, workspace_id=ws, now=NOW + timedelta(days=181))
    assert run.counts["privacy_audit.deleted"] == 1
    assert privacy.list_audit(runtime=rt, workspace_id=ws).entries == []
    again = privacy.erase_person(runtime=rt, workspace_id=ws, person_id=seeded.bob,
                                 actor="key:k", now=NOW + timedelta(days=182))  # fmt: skip
    assert again.replayed and again.id == receipt.id
    assert privacy.verify_receipt(runtime=rt, receipt=again)


def test_defaults_bounds_and_partial_changes(seeded: Seeded) -> None:
    rt, ws = seeded.runtime, seeded.workspace_id
    policy = privacy.get_retention(runtime=rt, workspace_id=ws)
    assert (policy.event_retention_days, policy.message_retention_days,
            policy.consent_history_retention_days, policy.audit_retention_days,
            policy.group_text_retention_days) == (None, 180, 1095, 1095, 90)  # fmt: skip
    changed = privacy.set_retention(runtime=rt, workspace_id=ws, now=NOW,
                                    change=RetentionUpdate(event_retention_days=30))  # fmt: skip
    assert (changed.event_retention_days, changed.message_retention_days) == (30, 180)
    kept = privacy.set_retention(runtime=rt, workspace_id=ws, now=NOW,
                                 change=RetentionUpdate(audit_retention_days=None))  # fmt: skip
    assert (kept.event_retention_days, kept.audit_retention_days) == (30, None)
    too_short = {
        "audit_retention_days": 179,
        "message_retention_days": 6,
        "consent_history_retention_days": 100,
        "group_text_retention_days": 0,
    }
    for field, days in too_short.items():
        with pytest.raises(InvalidInputError) as refused:
            privacy.set_retention(runtime=rt, workspace_id=ws, now=NOW,
                                  change=RetentionUpdate(**{field: days}))  # fmt: skip
        assert refused.value.field == field

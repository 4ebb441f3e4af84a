"""The dispatcher on SQLite and PostgreSQL: send, receipts, retries with backoff, failures,
rate limits, a crash after claiming, and two dispatchers racing — against real local servers."""
# ruff: noqa: F811  (the ws fixture is imported from outbox_fixtures and used as an argument)

from __future__ import annotations

import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from siyu.channels import service as channels
from siyu.channels.dispatch import RetryPolicy, TokenBucket, dispatch_due
from siyu.channels.models import (
    Channel,
    Delivery,
    HoldReason,
    MessageRequest,
    MessageStatus,
    OutboundMessage,
    SendError,
)
from siyu.channels.outbox_models import TemplatePut
from siyu.channels.sms import AliyunSms, SmsTransport
from siyu.channels.tables import channel_messages
from siyu.channels.webhook import WebhookTransport, verify_signature
from siyu.core.db import transaction
from siyu.core.errors import AuthError
from tests.channels.fake_http import Received, serve
from tests.channels.outbox_fixtures import VAULT, make_person, ws  # noqa: F401

NOON = datetime(2026, 11, 26, 4, 0, tzinfo=UTC)
SECRET = b"whsec"
M = channel_messages.c


class Receiver:
    """A webhook receiver that verifies signatures, honours Idempotency-Key, fails on cue."""

    def __init__(self, fail_first: int = 0, status: int = 503) -> None:
        self.fail_first, self.status = fail_first, status
        self.calls: list[str] = []
        self.done: dict[str, str] = {}
        self.lock = threading.Lock()

    def __call__(self, req: Received) -> tuple[int, object, dict[str, str]]:
        try:
            verify_signature(
                secret=SECRET, header=req.headers["x-siyu-signature"], body=req.body, now=NOON
            )
        except AuthError:
            return 401, {}, {}
        key = req.headers["idempotency-key"]
        with self.lock:
            self.calls.append(key)
            if len(self.calls) <= self.fail_first:
                return self.status, {"error": "not now"}, {}
            first = self.done.setdefault(key, f"rcv-{len(self.done) + 1}")
        return 200, {}, {"X-Request-Id": first}


def hooks(
    db: sessionmaker[Session], ws: str, url: str, n: int, source: str = "journey:j:n"
) -> list[str]:
    person = make_person(db, ws, NOON, user_id=f"u-{url[-5:]}-{n}")
    with transaction(db) as session:
        channels.put_template(
            session=session,
            workspace_id=ws,
            template=TemplatePut(
                channel=Channel.WEBHOOK, name="crm", body="{{ tier }}", endpoint=url
            ),
            now=NOON,
        )
        return [
            channels.enqueue(
                session=session,
                workspace_id=ws,
                request=MessageRequest(
                    person_id=person,
                    channel=Channel.WEBHOOK,
                    template="crm",
                    params={"tier": "gold"},
                    source=source,
                    idempotency_key=f"hook-{i}",
                ),
                now=NOON,
            ).message_id
            for i in range(n)
        ]


def status_of(db: sessionmaker[Session], message_id: str) -> dict[str, object]:
    with db() as session:
        return dict(
            session.execute(select(channel_messages).where(M.id == message_id)).one()._mapping
        )


def webhook(client: httpx.Client) -> dict[Channel, WebhookTransport]:
    return {Channel.WEBHOOK: WebhookTransport(SECRET, client, lambda: NOON)}


def test_sms_goes_out_decrypted_and_a_receipt_marks_it_delivered(
    db: sessionmaker[Session], ws: str
) -> None:
    p = make_person(db, ws, NOON, phone="13800138000", consent=(Channel.SMS,))
    with transaction(db) as session:
        msg = channels.enqueue(
            session=session,
            workspace_id=ws,
            request=MessageRequest(
                person_id=p,
                channel=Channel.SMS,
                template="SMS_1",
                params={"code": "9"},
                source="journey:j1:n1",
                idempotency_key="s1",
            ),
            now=NOON,
        ).message_id
    phones: list[bytes] = []

    def gateway(req: Received) -> tuple[int, object, dict[str, str]]:
        phones.append(req.body)
        return 200, {"Code": "OK", "BizId": "biz-7"}, {}

    with serve(gateway) as gw, httpx.Client(timeout=5) as client:
        sms = SmsTransport(
            AliyunSms("id", "s", base_url=gw.url, client=client), default_sign="私域"
        )
        report = dispatch_due(
            session_factory=db, transports={Channel.SMS: sms}, now=NOON, vault=VAULT
        )
    assert (report.claimed, report.sent) == (1, 1)
    assert b"PhoneNumbers=13800138000" in phones[0]
    row = status_of(db, msg)
    assert (row["status"], row["provider_message_id"], row["attempts"]) == ("sent", "biz-7", 1)
    with transaction(db) as session:
        done = channels.record_receipt(
            session=session, workspace_id=ws, provider_message_id="biz-7", delivered=True, at=NOON
        )
        again = channels.record_receipt(
            session=session, workspace_id=ws, message_id=msg, delivered=False, at=NOON
        )
        (stats,) = channels.stats_by_source(session=session, workspace_id=ws)
    assert (
        done.status is again.status is MessageStatus.DELIVERED
    )  # a late failure receipt is ignored
    assert stats.sent == 1 and stats.failed == 0


def test_not_due_before_send_at(db: sessionmaker[Session], ws: str) -> None:
    with serve(Receiver()) as rcv, httpx.Client(timeout=5) as client:
        (msg,) = hooks(db, ws, rcv.url, 1)
        with transaction(db) as session:
            session.execute(
                channel_messages.update()
                .where(M.id == msg)
                .values(due_at=NOON + timedelta(hours=1))
            )
        assert dispatch_due(session_factory=db, transports=webhook(client), now=NOON).claimed == 0
        later = dispatch_due(
            session_factory=db, transports=webhook(client), now=NOON + timedelta(hours=1)
        )
    assert later.sent == 1 and rcv.received


def test_retries_back_off_then_give_up(db: sessionmaker[Session], ws: str) -> None:
    retry = RetryPolicy(max_attempts=3, base_backoff=timedelta(seconds=30))
    rng = random.Random(7)
    with serve(Receiver(fail_first=10)) as rcv, httpx.Client(timeout=5) as client:
        (msg,) = hooks(db, ws, rcv.url, 1)
        at, dues = NOON, []
        for _ in range(3):
            report = dispatch_due(
                session_factory=db, transports=webhook(client), now=at, retry=retry, rng=rng
            )
            row = status_of(db, msg)
            if row["status"] == "queued":
                dues.append(row["due_at"] - at)  # type: ignore[operator]
                assert report.retried == 1
                at = row["due_at"]  # type: ignore[assignment]
    assert timedelta(seconds=15) <= dues[0] <= timedelta(seconds=30)
    assert timedelta(seconds=30) <= dues[1] <= timedelta(seconds=60)  # doubled, with jitter
    assert (row["status"], row["attempts"]) == ("failed", 3)
    assert "503" in str(row["last_error"])
    assert len(rcv.received) == 3


def test_a_permanent_refusal_fails_at_once(db: sessionmaker[Session], ws: str) -> None:
    with serve(Receiver(fail_first=1, status=422)) as rcv, httpx.Client(timeout=5) as client:
        (msg,) = hooks(db, ws, rcv.url, 1)
        report = dispatch_due(session_factory=db, transports=webhook(client), now=NOON)
    assert report.failed == 1 and status_of(db, msg)["status"] == "failed"


def test_a_token_bucket_limits_each_pass(db: sessionmaker[Session], ws: str) -> None:
    bucket = TokenBucket(rate=1.0, burst=2)
    limits = {Channel.WEBHOOK: bucket}
    with serve(rec := Receiver()) as rcv, httpx.Client(timeout=5) as client:
        hooks(db, ws, rcv.url, 5)
        first = dispatch_due(
            session_factory=db, transports=webhook(client), now=NOON, limits=limits
        )
        second = dispatch_due(
            session_factory=db,
            transports=webhook(client),
            now=NOON + timedelta(seconds=1),
            limits=limits,
        )
        third = dispatch_due(
            session_factory=db,
            transports=webhook(client),
            now=NOON + timedelta(seconds=60),
            limits=limits,
        )
    assert (first.sent, first.rate_limited) == (2, {"webhook": 3})
    assert (second.sent, second.rate_limited) == (1, {"webhook": 2})
    assert (third.sent, third.rate_limited) == (2, {})
    assert len(set(rec.calls)) == 5


class Crash(BaseException):
    """The process dies (kill -9 stand-in): nothing after the send runs."""


class CrashAfterSend:
    """Sends for real through the webhook transport, then 'dies' before the commit."""

    channel = Channel.WEBHOOK

    def __init__(self, inner: WebhookTransport) -> None:
        self.inner = inner

    def send(self, message: OutboundMessage):  # type: ignore[no-untyped-def]
        self.inner.send(message)
        raise Crash


def test_a_crash_after_claim_and_send_loses_nothing_and_reuses_the_key(
    db: sessionmaker[Session], ws: str
) -> None:
    with serve(rec := Receiver()) as rcv, httpx.Client(timeout=5) as client:
        (msg,) = hooks(db, ws, rcv.url, 1)
        crashing = {Channel.WEBHOOK: CrashAfterSend(WebhookTransport(SECRET, client, lambda: NOON))}
        with pytest.raises(Crash):
            dispatch_due(session_factory=db, transports=crashing, now=NOON)  # type: ignore[arg-type]
        assert status_of(db, msg)["status"] == "sending"
        soon = dispatch_due(
            session_factory=db, transports=webhook(client), now=NOON + timedelta(minutes=1)
        )
        assert soon.claimed == 0  # the lease still holds
        later = dispatch_due(
            session_factory=db, transports=webhook(client), now=NOON + timedelta(minutes=6)
        )
    row = status_of(db, msg)
    assert later.sent == 1 and (row["status"], row["attempts"]) == ("sent", 2)
    assert rec.calls == ["hook-0", "hook-0"]  # the same key both times…
    assert row["provider_message_id"] == "rcv-1"  # …so the receiver answered its first result


def test_two_dispatchers_never_send_a_message_twice(db: sessionmaker[Session], ws: str) -> None:
    with serve(rec := Receiver()) as rcv, httpx.Client(timeout=5) as client:
        hooks(db, ws, rcv.url, 30)

        def run(_: int) -> int:
            total = 0
            for _ in range(6):
                total += dispatch_due(
                    session_factory=db, transports=webhook(client), now=NOON, batch_size=4
                ).sent
            return total

        with ThreadPoolExecutor(2) as pool:
            sent = sum(pool.map(run, range(2)))
    assert sent == 30
    assert Counter(rec.calls).most_common(1)[0][1] == 1 and len(rec.calls) == 30
    with db() as session:
        (stats,) = channels.stats_by_source(session=session, workspace_id=ws)
    assert stats.by_status == {"sent": 30}


class StaffLoop:
    """A transport like WeCom's staff loop: the first message waits on staff, the second
    meets the monthly cap at send time."""

    channel = Channel.WEBHOOK

    def __init__(self) -> None:
        self.n = 0

    def send(self, message: OutboundMessage) -> Delivery:
        self.n += 1
        if self.n == 1:
            return Delivery(
                provider_message_id="task-1", accepted_at=NOON, status=MessageStatus.AWAITING_STAFF
            )
        raise SendError("monthly cap of WeCom mass sends", reason=HoldReason.MONTHLY_CAP.value)


def test_awaiting_staff_then_settled_and_a_send_time_cap_is_a_hold(
    db: sessionmaker[Session], ws: str
) -> None:
    first, second = hooks(db, ws, "http://127.0.0.1:9/unused", 2)
    report = dispatch_due(session_factory=db, transports={Channel.WEBHOOK: StaffLoop()}, now=NOON)  # type: ignore[dict-item]
    assert (report.awaiting_staff, report.held, report.sent) == (1, 1, 0)
    assert status_of(db, first)["status"] == "awaiting_staff"
    assert (status_of(db, second)["status"], status_of(db, second)["reason"]) == (
        "held",
        "monthly_cap",
    )
    with transaction(db) as session:
        done = channels.settle_awaiting(
            session=session, workspace_id=ws, message_id=first, sent=True, at=NOON
        )
        again = channels.settle_awaiting(
            session=session, workspace_id=ws, message_id=first, sent=False, at=NOON
        )
    assert done.status is again.status is MessageStatus.SENT and done.sent_at == NOON

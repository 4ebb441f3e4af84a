"""A journey message naming the next-best offer issues its coupon with the send (SQLite and
PostgreSQL): once per step even when the round is retried, the message carrying the coupon's
id and expiry; a refused issue (the person's limit) sends the message with the offer emptied;
a held message issues nothing; ``offer: show`` only names the coupon."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from siyu import pipeline
from siyu.channels import service as channels
from siyu.channels.models import Channel, MessageRequest
from siyu.channels.outbox_models import TemplatePut
from siyu.channels.restraint import ConsentStatus
from siyu.channels.tables import channel_messages
from siyu.core.config import Settings
from siyu.core.errors import InvalidInputError
from siyu.core.runtime import Runtime, open_runtime
from siyu.journeys import service as journeys
from siyu.journeys.actions import SendMessage
from siyu.journeys.definition import parse_definition
from siyu.loyalty import coupon_service
from siyu.loyalty.coupon_models import Coupon, CouponTemplateCreate, Redemption
from siyu.pipeline import journey_jobs, journey_offers
from siyu.pipeline.journeys import apply_actions
from siyu.pipeline.personalise import Personaliser, recommendation_values
from siyu.workspaces import service as workspaces

NOW = datetime.fromisoformat("2026-11-28T02:30:00+00:00")  # 10:30 in Shanghai
OFFER_BODY = (
    "{% if offer_coupon_id %}送你一张{{ offer_title }}，券号 {{ offer_coupon_id }}，"
    "{{ offer_coupon_expires }} 前有效{% else %}欢迎回来{% endif %}"
)


@pytest.fixture
def runtime(db_engine: Engine, tmp_path: Path) -> Iterator[Runtime]:
    url = db_engine.url.render_as_string(hide_password=False)
    rt = open_runtime(Settings(data_dir=tmp_path, database_url=url), run_migrations=False)
    yield rt
    rt.close()


def _setup(rt: Runtime) -> tuple[str, str]:
    with rt.sessions() as s, s.begin():
        ws = workspaces.create_workspace(session=s, name="品牌", now=NOW).workspace_id
        coupon = coupon_service.create_template(
            session=s, workspace_id=ws, now=NOW,
            template=CouponTemplateCreate(name="新客券", kind="amount_off", amount_off_fen=500,
                                          valid_days=7, per_person_limit=1),
        ).id  # fmt: skip
        for name, body in (("offer", OFFER_BODY), ("show", "看看 {{ offer_title }}")):
            template = TemplatePut(channel=Channel.SMS, name=name, body=body, sender="品牌")
            channels.put_template(session=s, workspace_id=ws, now=NOW, template=template)
    return ws, coupon


def _signs_up(rt: Runtime, ws: str, user: str, n: int, *, consent: bool = True) -> str:
    pipeline.ingest(
        runtime=rt, workspace_id=ws, received_at=NOW,
        messages=[{"type": "track", "event": "Signed Up", "messageId": f"{user}-{n}",
                   "userId": user, "timestamp": NOW.isoformat(),
                   "context": {"traits": {"phone": f"1380013{n:04d}"}}}],
    )  # fmt: skip
    found = pipeline.find_person(
        runtime=rt, workspace_id=ws, identifier_type="user_id", identifier=user
    )
    assert found is not None
    if consent:
        with rt.sessions() as s, s.begin():
            channels.set_consent(session=s, workspace_id=ws, person_id=found.person_id,
                                 channel=Channel.SMS, status=ConsentStatus.GRANTED,
                                 source="test", now=NOW)  # fmt: skip
    return found.person_id


def _journey(rt: Runtime, ws: str, template: str = "offer", **offer: str) -> str:
    data: dict[str, Any] = {
        "name": f"offer-{template}",
        "trigger": {"type": "event", "spec": {"event": "Signed Up"}},
        "start": "sms",
        "nodes": [
            {"type": "action", "id": "sms", "next": "end", "action": {
                "type": "send_message", "channel": "sms", "template": template, **offer}},
            {"type": "exit", "id": "end"},
        ],
    }  # fmt: skip
    with rt.sessions() as s, s.begin():
        j = journeys.create_journey(
            session=s, workspace_id=ws, definition=parse_definition(data), now=NOW
        )
        journeys.set_status(session=s, workspace_id=ws, journey_id=j.id,
                            status=journeys.JourneyStatus.ACTIVE, now=NOW)  # fmt: skip
    return j.id


def _messages(rt: Runtime, ws: str) -> list[Any]:
    m = channel_messages.c
    with rt.sessions() as s:
        return list(
            s.execute(
                select(m.person_id, m.status, m.reason, m.content, m.params).where(
                    m.workspace_id == ws
                )
            )
        )


def _coupons(rt: Runtime, ws: str, person: str) -> list[Coupon]:
    with rt.sessions() as s:
        return coupon_service.list_coupons(session=s, workspace_id=ws, person_id=person, now=NOW)


def _personaliser(rt: Runtime, ws: str) -> Personaliser:
    found = recommendation_values(runtime=rt, workspace_id=ws, now=NOW)
    assert found is not None  # an available coupon and a due person: an offer to make
    return found


def _send(jid: str, person: str, template: str = "offer", offer: str = "issue") -> SendMessage:
    key = f"journey:st_1:sms:1:{person}"
    request = MessageRequest(person_id=person, channel=Channel.SMS, template=template,
                             source=f"journey:{jid}:sms", idempotency_key=key)  # fmt: skip
    return SendMessage(key=key, journey_id=jid, node_id="sms", person_id=person,
                       request=request, offer=offer)  # fmt: skip


def test_the_offered_coupon_is_issued_with_the_send(runtime: Runtime) -> None:
    ws, coupon = _setup(runtime)
    _journey(runtime, ws)
    alice = _signs_up(runtime, ws, "alice", 1)
    assert journey_jobs.advance_journeys(runtime, NOW) == 1
    assert journey_jobs.advance_journeys(runtime, NOW) == 0
    issued = _coupons(runtime, ws, alice)
    assert [(c.template_id, c.source.startswith("journey:")) for c in issued] == [(coupon, True)]
    [message] = _messages(runtime, ws)
    assert message.status == "queued"
    assert message.content == (
        f"送你一张新客券，券号 {issued[0].id}，2026-12-05 10:30 前有效"  # 7 days, Shanghai time
    )
    assert message.params["offer_coupon_id"] == issued[0].id


def test_a_retried_round_issues_once(runtime: Runtime) -> None:
    ws, coupon = _setup(runtime)
    jid = _journey(runtime, ws)
    bob = _signs_up(runtime, ws, "bob", 2)
    personalise = _personaliser(runtime, ws)
    action = _send(jid, bob)

    class Crash(Exception):
        pass

    with pytest.raises(Crash), runtime.sessions() as s, s.begin():  # the round dies unsaved
        assert apply_actions(session=s, workspace_id=ws, actions=[action], now=NOW,
                             personalise=personalise) == []  # fmt: skip
        raise Crash
    assert _coupons(runtime, ws, bob) == [] and _messages(runtime, ws) == []
    for _ in range(2):  # the rerun, then a second application of the same keys
        with runtime.sessions() as s, s.begin():
            assert apply_actions(session=s, workspace_id=ws, actions=[action], now=NOW,
                                 personalise=personalise) == []  # fmt: skip
    issued = _coupons(runtime, ws, bob)
    assert [c.template_id for c in issued] == [coupon]
    [message] = _messages(runtime, ws)
    assert message.params["offer_coupon_id"] == issued[0].id


def test_a_refused_issue_sends_without_the_offer(runtime: Runtime) -> None:
    ws, coupon = _setup(runtime)
    jid = _journey(runtime, ws)
    carol = _signs_up(runtime, ws, "carol", 3)
    personalise = _personaliser(runtime, ws)  # gathered while carol held none
    with runtime.sessions() as s, s.begin():  # then she got one: her limit (1) is reached
        coupon_service.issue_coupon(session=s, workspace_id=ws, template_id=coupon,
                                    person_id=carol, now=NOW)  # fmt: skip
    with runtime.sessions() as s, s.begin():
        failures = apply_actions(session=s, workspace_id=ws, actions=[_send(jid, carol)],
                                 now=NOW, personalise=personalise)  # fmt: skip
    assert failures == []
    assert len(_coupons(runtime, ws, carol)) == 1  # only the one she had
    [message] = _messages(runtime, ws)
    assert (message.status, message.content) == ("queued", "欢迎回来")
    offer = {k: v for k, v in message.params.items() if k.startswith("offer")}
    assert offer["offer_coupon_id"] == "" and set(offer.values()) == {""}  # emptied


def test_a_held_message_issues_nothing(runtime: Runtime) -> None:
    ws, _ = _setup(runtime)
    jid = _journey(runtime, ws)
    dave = _signs_up(runtime, ws, "dave", 4, consent=False)
    personalise = _personaliser(runtime, ws)
    with runtime.sessions() as s, s.begin():
        assert apply_actions(session=s, workspace_id=ws, actions=[_send(jid, dave)], now=NOW,
                             personalise=personalise) == []  # fmt: skip
    assert _coupons(runtime, ws, dave) == []
    [message] = _messages(runtime, ws)
    assert (message.status, message.reason) == ("held", "no_consent")
    assert message.params["offer_coupon_id"] == ""


def test_without_any_offer_the_coupon_fields_are_empty(runtime: Runtime) -> None:
    ws, _ = _setup(runtime)
    jid = _journey(runtime, ws)
    fay = _signs_up(runtime, ws, "fay", 6)
    with runtime.sessions() as s, s.begin():  # no personaliser: nothing offered at all
        assert apply_actions(session=s, workspace_id=ws, actions=[_send(jid, fay)],
                             now=NOW) == []  # fmt: skip
    [message] = _messages(runtime, ws)
    assert (message.status, message.content) == ("queued", "欢迎回来")
    assert _coupons(runtime, ws, fay) == []


def test_show_only_names_the_coupon(runtime: Runtime) -> None:
    ws, _ = _setup(runtime)
    _journey(runtime, ws, template="show", offer="show")
    erin = _signs_up(runtime, ws, "erin", 5)
    assert journey_jobs.advance_journeys(runtime, NOW) == 1
    assert _coupons(runtime, ws, erin) == []
    [message] = _messages(runtime, ws)
    assert message.content == "看看 新客券"


def test_the_offer_setting_is_validated_naming_the_field() -> None:
    data = {
        "name": "x", "trigger": {"type": "event", "spec": {"event": "Signed Up"}},
        "start": "sms", "nodes": [
            {"type": "action", "id": "sms", "next": "end", "action": {
                "type": "send_message", "channel": "sms", "template": "t", "offer": "give"}},
            {"type": "exit", "id": "end"}],
    }  # fmt: skip
    with pytest.raises(InvalidInputError) as caught:
        parse_definition(data)
    assert caught.value.field is not None
    assert caught.value.field.startswith("nodes.0.") and caught.value.field.endswith(".offer")


def test_a_bumped_offer_message_takes_its_coupon_back(runtime: Runtime) -> None:
    ws, coupon = _setup(runtime)
    _journey(runtime, ws)
    carol = _signs_up(runtime, ws, "carol", 3)
    assert journey_jobs.advance_journeys(runtime, NOW) == 1
    [issued] = _coupons(runtime, ws, carol)
    assert issued.status.value == "issued"
    # A higher-priority send the same day: the daily cap (1 SMS) bumps the queued offer one.
    urgent = MessageRequest(person_id=carol, channel=Channel.SMS, template="show",
                            params={"offer_title": "顺丰"}, priority=10, source="api",
                            idempotency_key="api:urgent")  # fmt: skip
    with runtime.sessions() as s, s.begin():
        done = journey_offers.enqueue(session=s, workspace_id=ws, request=urgent, now=NOW)
    assert done.status.value == "queued" and len(done.bumped) == 1
    statuses = sorted((m.status, m.reason or "") for m in _messages(runtime, ws))
    assert statuses == [("held", "lower_priority"), ("queued", "")]
    # The bumped person holds no usable offer coupon; void does not return stock, so the
    # template still counts it issued (the ledger: one issued, now voided, none usable).
    [voided] = _coupons(runtime, ws, carol)
    assert (voided.id, voided.status.value) == (issued.id, "voided")
    assert voided.void_reason == f"bumped:{done.bumped[0]}"
    with runtime.sessions() as s:
        template = coupon_service.get_template(session=s, workspace_id=ws, template_id=coupon)
    assert template.issued == 1
    # Voiding again (a retried round, a second look) changes nothing.
    with runtime.sessions() as s, s.begin():
        journey_offers.void_bumped(session=s, workspace_id=ws, message_ids=done.bumped,
                                   now=NOW)  # fmt: skip
    assert [(c.id, c.status.value) for c in _coupons(runtime, ws, carol)] == [(issued.id, "voided")]
    # The same key again is a duplicate and bumps nothing more.
    with runtime.sessions() as s, s.begin():
        again = journey_offers.enqueue(session=s, workspace_id=ws, request=urgent, now=NOW)
    assert again.duplicate and again.bumped == []


def test_a_bumped_message_whose_coupon_was_redeemed_keeps_it(runtime: Runtime) -> None:
    ws, _ = _setup(runtime)
    _journey(runtime, ws)
    dan = _signs_up(runtime, ws, "dan", 4)
    assert journey_jobs.advance_journeys(runtime, NOW) == 1
    [issued] = _coupons(runtime, ws, dan)
    with runtime.sessions() as s, s.begin():
        coupon_service.redeem_coupon(session=s, workspace_id=ws, coupon_id=issued.id, now=NOW,
                                     redemption=Redemption(order_id="o-1",
                                                           order_amount_fen=9900))  # fmt: skip
    urgent = MessageRequest(person_id=dan, channel=Channel.SMS, template="show",
                            params={"offer_title": "顺丰"}, priority=10, source="api",
                            idempotency_key="api:urgent-dan")  # fmt: skip
    with runtime.sessions() as s, s.begin():
        done = journey_offers.enqueue(session=s, workspace_id=ws, request=urgent, now=NOW)
    assert len(done.bumped) == 1
    assert [c.status.value for c in _coupons(runtime, ws, dan)] == ["redeemed"]

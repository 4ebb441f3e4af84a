"""Per-workspace WeChat transports built from stored accounts, and the worker's poll pass."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from siyu.channels import wechat_accounts
from siyu.channels.models import Channel, MessageStatus, OutboundMessage, SendError
from siyu.channels.wechat_accounts import AccountKind, WechatAccountSet
from siyu.channels.wechat_transports import poll_all_staff_tasks, wechat_transports
from siyu.channels.wechat_xml import ContactChange, WecomContactEvent
from siyu.channels.wecom_contacts import apply_contact_event
from siyu.channels.wecom_models import StaffTaskState
from siyu.core.crypto import Vault
from siyu.core.errors import NotFoundError
from tests.channels.fake_wechat import FakeState, serve_fake_wechat

VAULT = Vault(bytes(range(32)))
NOW = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)
AES = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"


@pytest.fixture
def fake() -> Iterator[tuple[str, FakeState]]:
    with serve_fake_wechat() as served:
        yield served


def _configure(db: sessionmaker[Session], state: FakeState) -> None:
    with db.begin() as session:
        for kind, app_id, secret in (
            (AccountKind.WECOM, state.corp_id, state.secret),
            (AccountKind.MP, state.appid, state.app_secret),
        ):
            account = WechatAccountSet(
                app_id=app_id, token="tok123", encoding_aes_key=AES, secret=secret
            )
            wechat_accounts.set_account(
                session=session,
                vault=VAULT,
                workspace_id="ws_a",
                kind=kind,
                account=account,
                now=NOW,
            )
        event = WecomContactEvent(
            corp_id=state.corp_id,
            change=ContactChange.ADD,
            userid="zhangsan",
            external_userid="wmA",
            at=NOW,
        )
        apply_contact_event(session=session, workspace_id="ws_a", event=event, now=NOW)


def _message(ws: str, channel: Channel, to: str, mid: str) -> OutboundMessage:
    return OutboundMessage(
        id=mid,
        workspace_id=ws,
        person_id="p",
        channel=channel,
        recipient=to,
        template="TPL",
        params={"first": "x"},
        content="你好",
        idempotency_key=mid,
    )


def test_secrets_are_stored_encrypted(
    db: sessionmaker[Session], fake: tuple[str, FakeState]
) -> None:
    _, state = fake
    _configure(db, state)
    with db() as session:
        raw = session.execute(
            wechat_accounts.wechat_accounts.select().where(
                wechat_accounts.wechat_accounts.c.kind == "wecom"
            )
        ).first()
        assert (
            raw is not None and state.secret not in raw.secret_enc and "tok123" not in raw.token_enc
        )
        crypto = wechat_accounts.callback_crypto(
            session=session, vault=VAULT, workspace_id="ws_a", kind=AccountKind.WECOM
        )
        assert (crypto.token, crypto.receive_id) == ("tok123", state.corp_id)
        with pytest.raises(NotFoundError):
            wechat_accounts.get_account(session=session, workspace_id="ws_b", kind=AccountKind.MP)


def test_each_workspace_sends_through_its_own_account(
    db: sessionmaker[Session], fake: tuple[str, FakeState]
) -> None:
    url, state = fake
    _configure(db, state)
    transports = wechat_transports(
        sessions=db, vault=VAULT, wecom_base_url=url, mp_base_url=url, clock=lambda: NOW
    )
    wecom = transports[Channel.WECOM].send(_message("ws_a", Channel.WECOM, "wmA", "m1"))
    assert wecom.status is MessageStatus.AWAITING_STAFF
    template = transports[Channel.MP_TEMPLATE].send(
        _message("ws_a", Channel.MP_TEMPLATE, "o1", "m2")
    )
    assert template.status is MessageStatus.SENT
    with pytest.raises(SendError, match="no wecom account"):
        transports[Channel.WECOM].send(_message("ws_b", Channel.WECOM, "wmA", "m3"))
    with pytest.raises(SendError, match="no miniprogram account"):
        transports[Channel.MINIPROGRAM].send(_message("ws_a", Channel.MINIPROGRAM, "o1", "m4"))

    state.confirm(wecom.provider_message_id, "zhangsan", int(NOW.timestamp()) + 60)
    outcomes = poll_all_staff_tasks(
        sessions=db, vault=VAULT, now=NOW + timedelta(minutes=5), wecom_base_url=url
    )
    assert [(o.message_id, o.status) for o in outcomes["ws_a"]] == [
        ("m1", StaffTaskState.CONFIRMED)
    ]
    assert poll_all_staff_tasks(sessions=db, vault=VAULT, now=NOW, wecom_base_url=url) == {}

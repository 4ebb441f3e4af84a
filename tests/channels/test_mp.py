"""Official account and mini program against the fake WeChat server: templates with a daily
quota, QR scenes, subscription messages (SQLite and PostgreSQL for the stored parts)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from siyu.channels import mp
from siyu.channels.models import Channel, OutboundMessage, RetryableSendError, SendError
from siyu.core.errors import ConflictError, InvalidInputError
from tests.channels.fake_wechat import FakeState, serve_fake_wechat

WS = "ws_1"
NOW = datetime(2026, 11, 28, 15, 30, tzinfo=UTC)  # 23:30 in Beijing


@pytest.fixture
def fake() -> Iterator[tuple[str, FakeState]]:
    with serve_fake_wechat() as served:
        yield served


@pytest.fixture
def client(fake: tuple[str, FakeState]) -> Iterator[mp.MpClient]:
    url, state = fake
    c = mp.MpClient(app_id=state.appid, secret=state.app_secret, base_url=url)
    yield c
    c.close()


def _message(mid: str, channel: Channel = Channel.MP_TEMPLATE, **extra: str) -> OutboundMessage:
    return OutboundMessage(
        id=mid,
        workspace_id=WS,
        person_id="p_1",
        channel=channel,
        recipient="oOPENID",
        template="TPL_ORDER",
        params={"first": "您的订单已发货", "keyword1": "SY123"},
        idempotency_key=f"k-{mid}",
        extra=dict(extra),
    )


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def test_template_send_shape(
    db: sessionmaker[Session], client: mp.MpClient, fake: tuple[str, FakeState]
) -> None:
    _, state = fake
    transport = mp.MpTemplateTransport(client=client, sessions=db, clock=Clock())
    delivery = transport.send(_message("m1", url="https://brand.example/o/1"))
    assert delivery.provider_message_id
    body = state.calls("/cgi-bin/message/template/send")[0].body
    assert body == {
        "touser": "oOPENID",
        "template_id": "TPL_ORDER",
        "data": {"first": {"value": "您的订单已发货"}, "keyword1": {"value": "SY123"}},
        "url": "https://brand.example/o/1",
        "client_msg_id": "k-m1",
    }
    assert state.calls("/cgi-bin/token")[0].query["appid"] == state.appid


def test_daily_quota_holds_and_resets_at_beijing_midnight(
    db: sessionmaker[Session], client: mp.MpClient, fake: tuple[str, FakeState]
) -> None:
    _, state = fake
    clock = Clock()
    transport = mp.MpTemplateTransport(client=client, sessions=db, daily_quota=2, clock=clock)
    transport.send(_message("m1"))
    transport.send(_message("m2"))
    with pytest.raises(mp.QuotaExhaustedError) as caught:
        transport.send(_message("m3"))
    assert caught.value.details["reason"] == "quota"
    assert caught.value.details["retry_at"] == "2026-11-28T16:00:00+00:00"
    assert len(state.calls("/cgi-bin/message/template/send")) == 2  # nothing went out
    clock.now = NOW + timedelta(minutes=31)  # 00:01 next day in Beijing
    transport.send(_message("m3"))
    with db() as session:
        assert mp.quota_used(session=session, workspace_id=WS, app_id=state.appid, now=NOW) == 2
        assert (
            mp.quota_used(session=session, workspace_id=WS, app_id=state.appid, now=clock.now) == 1
        )


def test_failed_send_gives_quota_back_and_wechat_quota_error_spends_the_day(
    db: sessionmaker[Session], client: mp.MpClient, fake: tuple[str, FakeState]
) -> None:
    _, state = fake
    transport = mp.MpTemplateTransport(client=client, sessions=db, daily_quota=10, clock=Clock())
    state.fail_next("/cgi-bin/message/template/send", 43004)  # user not subscribed
    with pytest.raises(SendError):
        transport.send(_message("m1"))
    state.fail_next("/cgi-bin/message/template/send", -1)
    with pytest.raises(RetryableSendError):
        transport.send(_message("m2"))
    with db() as session:
        assert mp.quota_used(session=session, workspace_id=WS, app_id=state.appid, now=NOW) == 0
    state.fail_next("/cgi-bin/message/template/send", 45009)
    with pytest.raises(mp.QuotaExhaustedError):
        transport.send(_message("m3"))
    with pytest.raises(mp.QuotaExhaustedError):
        transport.send(_message("m4"))  # refused locally now
    assert len(state.calls("/cgi-bin/message/template/send")) == 3


def test_mini_program_subscription_message(
    client: mp.MpClient, fake: tuple[str, FakeState]
) -> None:
    _, state = fake
    transport = mp.MiniProgramTransport(client=client)
    transport.send(_message("m1", Channel.MINIPROGRAM, page="pages/order?id=1"))
    body = state.calls("/cgi-bin/message/subscribe/send")[0].body
    assert body is not None and body["page"] == "pages/order?id=1"
    assert body["data"]["keyword1"] == {"value": "SY123"}
    state.fail_next("/cgi-bin/message/subscribe/send", 43101)
    with pytest.raises(SendError) as caught:
        transport.send(_message("m2", Channel.MINIPROGRAM))
    assert caught.value.details["reason"] == "no_subscription"


def test_qr_scenes_map_to_channels(
    db: sessionmaker[Session], client: mp.MpClient, fake: tuple[str, FakeState]
) -> None:
    _, state = fake
    with db.begin() as session:
        temp = mp.create_qr_scene(
            session=session,
            client=client,
            workspace_id=WS,
            scene="store_7",
            channel="offline_store",
            now=NOW,
            expire_seconds=3600,
        )
        perm = mp.create_qr_scene(
            session=session,
            client=client,
            workspace_id=WS,
            scene="pack_insert",
            channel="package",
            now=NOW,
            permanent=True,
        )
        again = mp.create_qr_scene(
            session=session,
            client=client,
            workspace_id=WS,
            scene="store_7",
            channel="offline_store",
            now=NOW,
        )
        with pytest.raises(ConflictError):
            mp.create_qr_scene(
                session=session,
                client=client,
                workspace_id=WS,
                scene="store_7",
                channel="douyin",
                now=NOW,
            )
        with pytest.raises(InvalidInputError) as caught:
            mp.create_qr_scene(
                session=session,
                client=client,
                workspace_id=WS,
                scene="bad scene!",
                channel="x",
                now=NOW,
            )
        assert caught.value.field == "scene"
    assert temp.expires_at == NOW + timedelta(hours=1) and perm.expires_at is None
    assert again.ticket == temp.ticket
    sent = [c.body for c in state.calls("/cgi-bin/qrcode/create")]
    assert [b["action_name"] for b in sent if b] == ["QR_STR_SCENE", "QR_LIMIT_STR_SCENE"]
    with db() as session:
        found = mp.find_qr_scene(session=session, workspace_id=WS, scene="pack_insert")
        assert found is not None and found.channel == "package"
        assert mp.find_qr_scene(session=session, workspace_id=WS, scene="nope") is None


def test_follower_unionid(client: mp.MpClient, fake: tuple[str, FakeState]) -> None:
    _, state = fake
    state.mp_users.update({"oA": "uA", "oB": None})
    assert client.user_unionid(openid="oA") == "uA"
    assert client.user_unionid(openid="oB") is None
    with pytest.raises(SendError, match="40003"):
        client.user_unionid(openid="oNOBODY")

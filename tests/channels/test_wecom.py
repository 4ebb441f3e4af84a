"""The WeCom client against the fake WeCom server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from siyu.channels.models import RetryableSendError, SendError
from siyu.channels.wecom import WecomClient
from siyu.channels.wecom_models import RecipientStatus, TaskStatus
from tests.channels.fake_wechat import FakeState, serve_fake_wechat

EC = "/cgi-bin/externalcontact"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def fake() -> Iterator[tuple[str, FakeState]]:
    with serve_fake_wechat() as served:
        yield served


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(fake: tuple[str, FakeState], clock: Clock) -> Iterator[WecomClient]:
    url, state = fake
    wecom = WecomClient(corp_id=state.corp_id, secret=state.secret, base_url=url, clock=clock)
    yield wecom
    wecom.close()


def _seed(state: FakeState) -> None:
    state.add_contact(
        "wmA",
        [{"userid": "zhangsan", "createtime": 1700000000, "state": "lc_1", "add_way": 1}],
        name="客户A",
        unionid="uA",
        type=1,
    )
    state.add_contact(
        "wmB",
        [
            {"userid": "lisi", "createtime": 1700000100},
            {"userid": "zhangsan", "createtime": 1700000200, "state": "lc_2"},
        ],
        name="客户B",
        type=1,
    )


def test_token_is_cached_until_near_expiry(
    client: WecomClient, fake: tuple[str, FakeState], clock: Clock
) -> None:
    _, state = fake
    _seed(state)
    client.follow_users()
    client.list_contacts(userid="zhangsan")
    assert len(state.calls("/cgi-bin/gettoken")) == 1
    clock.now += timedelta(seconds=7200 - 200)  # inside the 5-minute margin
    client.follow_users()
    assert len(state.calls("/cgi-bin/gettoken")) == 2


def test_an_expired_token_is_refreshed_once(
    client: WecomClient, fake: tuple[str, FakeState]
) -> None:
    _, state = fake
    _seed(state)
    assert client.follow_users() == ["lisi", "zhangsan"]
    state.expire_tokens()
    assert client.list_contacts(userid="lisi") == ["wmB"]
    assert len(state.calls("/cgi-bin/gettoken")) == 2
    state.fail_next(f"{EC}/get_follow_user_list", 40014, 40014)
    with pytest.raises(SendError) as caught:
        client.follow_users()
    assert caught.value.details["errcode"] == 40014
    assert not isinstance(caught.value, RetryableSendError)


def test_wrong_secret_is_a_send_error(fake: tuple[str, FakeState]) -> None:
    url, state = fake
    wecom = WecomClient(corp_id=state.corp_id, secret="wrong", base_url=url)
    with pytest.raises(SendError, match="40001"):
        wecom.follow_users()


def test_busy_and_frequency_limits_are_retryable(
    client: WecomClient, fake: tuple[str, FakeState]
) -> None:
    _, state = fake
    state.fail_next(f"{EC}/add_msg_template", -1, 45009)
    for code in (-1, 45009):
        with pytest.raises(RetryableSendError) as caught:
            client.add_msg_template(sender="zhangsan", text="hi", external_userids=["wmA"])
        assert caught.value.details["errcode"] == code
    assert client.add_msg_template(sender="zhangsan", text="hi", external_userids=["wmA"]).msgid


def test_a_dead_server_is_retryable(clock: Clock) -> None:
    wecom = WecomClient(corp_id="c", secret="s", base_url="http://127.0.0.1:9", clock=clock)
    with pytest.raises(RetryableSendError):
        wecom.follow_users()


def test_contacts_get_and_batch_paging(client: WecomClient, fake: tuple[str, FakeState]) -> None:
    _, state = fake
    _seed(state)
    contact = client.get_contact(external_userid="wmB")
    assert [f.userid for f in contact.follow_users] == ["lisi", "zhangsan"]
    assert contact.follow_users[1].state == "lc_2"
    rows = list(client.contacts_by_user(userids=["zhangsan", "lisi"], page_size=2))
    assert [(r.external_userid, r.follow_users[0].userid) for r in rows] == [
        ("wmA", "zhangsan"),
        ("wmB", "lisi"),
        ("wmB", "zhangsan"),
    ]
    assert len(state.calls(f"{EC}/batch/get_by_user")) == 2
    assert client.list_contacts(userid="nobody") == []


def test_contact_way_carries_state(client: WecomClient, fake: tuple[str, FakeState]) -> None:
    _, state = fake
    way = client.add_contact_way(state="lc_store7", userids=["zhangsan", "lisi"])
    assert way.config_id and way.state == "lc_store7"
    sent = state.calls(f"{EC}/add_contact_way")[0].body
    assert sent is not None and sent["state"] == "lc_store7" and sent["type"] == 2


def test_mass_send_confirmation_and_results(
    client: WecomClient, fake: tuple[str, FakeState]
) -> None:
    _, state = fake
    task = client.add_msg_template(sender="zhangsan", text="新品到店", external_userids=["wmA"])
    assert client.groupmsg_tasks(msgid=task.msgid)[0].status == TaskStatus.PENDING
    assert client.groupmsg_results(msgid=task.msgid, userid="zhangsan")[0].status == (
        RecipientStatus.PENDING
    )
    state.confirm(task.msgid, "zhangsan", 1764302400)
    staff = client.groupmsg_tasks(msgid=task.msgid)[0]
    assert staff.status == TaskStatus.SENT
    assert staff.sent_at == datetime.fromtimestamp(1764302400, tz=UTC)
    result = client.groupmsg_results(msgid=task.msgid, userid="zhangsan")[0]
    assert (result.external_userid, result.status) == ("wmA", RecipientStatus.SENT)
    group = client.add_msg_template(
        sender="zhangsan", text="群发", chat_type="group", chat_ids=["wrG1"]
    )
    assert state.tasks[group.msgid]["chat_type"] == "group"
    assert client.groupmsg_results(msgid=group.msgid, userid="zhangsan")[0].chat_id == "wrG1"


def test_remind_and_welcome(client: WecomClient, fake: tuple[str, FakeState]) -> None:
    _, state = fake
    task = client.add_msg_template(sender="zhangsan", text="x", external_userids=["wmA"])
    client.remind(msgid=task.msgid)
    assert state.tasks[task.msgid]["reminders"] == 1
    client.send_welcome(welcome_code="WC", text="欢迎")
    body = state.calls(f"{EC}/send_welcome_msg")[0].body
    assert body == {"welcome_code": "WC", "text": {"content": "欢迎"}}

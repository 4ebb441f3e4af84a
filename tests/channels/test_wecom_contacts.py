"""WeCom contacts in the store: callbacks, owners, history, full sync (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from siyu.channels import wecom_contacts as contacts
from siyu.channels.wechat_tables import wecom_contact_history
from siyu.channels.wechat_xml import ContactChange, WecomContactEvent
from siyu.channels.wecom import WecomClient
from tests.channels.fake_wechat import FakeState, serve_fake_wechat

WS = "ws_1"
T0 = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)


def _event(change: ContactChange, userid: str, ext: str, minutes: int, state: str | None = None):
    return WecomContactEvent(
        corp_id="ww1",
        change=change,
        userid=userid,
        external_userid=ext,
        state=state,
        at=T0 + timedelta(minutes=minutes),
    )


def _apply(session: Session, event: WecomContactEvent):
    return contacts.apply_contact_event(session=session, workspace_id=WS, event=event, now=event.at)


def test_first_adder_owns_until_removed(db: sessionmaker[Session]) -> None:
    with db.begin() as session:
        first = _apply(session, _event(ContactChange.ADD, "zhangsan", "wmA", 0, "lc_store7"))
        assert first.new_contact and first.contact.owner_userid == "zhangsan"
        second = _apply(session, _event(ContactChange.ADD, "lisi", "wmA", 5, "lc_other"))
        assert not second.new_contact
        assert second.contact.owner_userid == "zhangsan"
        assert second.contact.first_state == "lc_store7"
        assert second.contact.follow_userids == ["zhangsan", "lisi"]
        gone = _apply(session, _event(ContactChange.DEL_FOLLOW, "zhangsan", "wmA", 9))
        assert gone.contact.owner_userid == "lisi" and gone.contact.active
        last = _apply(session, _event(ContactChange.DEL_EXTERNAL, "lisi", "wmA", 10))
        assert last.contact.owner_userid is None and not last.contact.active
        back = _apply(session, _event(ContactChange.ADD, "zhangsan", "wmA", 60, "lc_again"))
        assert back.contact.owner_userid == "zhangsan" and back.contact.active
        assert back.contact.first_state == "lc_store7"  # first touch stays


def test_a_retried_callback_changes_nothing(db: sessionmaker[Session]) -> None:
    event = _event(ContactChange.ADD, "zhangsan", "wmB", 0, "s")
    with db.begin() as session:
        _apply(session, event)
        again = _apply(session, event)
        assert again.duplicate and not again.new_contact
        count = session.execute(
            select(func.count()).select_from(wecom_contact_history)
        ).scalar_one()
        assert count == 1


@pytest.fixture
def fake() -> Iterator[tuple[str, FakeState]]:
    with serve_fake_wechat() as served:
        yield served


def test_sync_writes_contacts_and_removes_stale_follows(
    db: sessionmaker[Session], fake: tuple[str, FakeState]
) -> None:
    url, state = fake
    state.add_contact(
        "wmA",
        [{"userid": "zhangsan", "createtime": 1761962400, "state": "lc_1"}],
        unionid="uA",
        name="甲",
        type=1,
    )
    state.add_contact(
        "wmB",
        [
            {"userid": "wangwu", "createtime": 1761966000},
            {"userid": "lisi", "createtime": 1761962400, "state": "lc_2"},
        ],
        type=1,
    )
    client = WecomClient(corp_id=state.corp_id, secret=state.secret, base_url=url)
    with db.begin() as session:
        report = contacts.sync_contacts(session=session, client=client, workspace_id=WS, now=T0)
    by_id = {c.external_userid: c for c in report.contacts}
    assert by_id["wmA"].unionid == "uA" and by_id["wmA"].first_state == "lc_1"
    assert by_id["wmB"].owner_userid == "lisi"  # the earlier add owns
    assert by_id["wmB"].first_state == "lc_2"
    assert report.follows_added == 3
    state.follows["wmB"] = [f for f in state.follows["wmB"] if f["userid"] != "lisi"]
    with db.begin() as session:
        report = contacts.sync_contacts(session=session, client=client, workspace_id=WS, now=T0)
        assert report.follows_removed == 1 and report.follows_added == 0
        assert (
            contacts.owner_of(session=session, workspace_id=WS, external_userid="wmB") == "wangwu"
        )
    client.close()

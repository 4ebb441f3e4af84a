"""The knowledge base, answering, hand-over, opt-out and group statistics on the operational
store (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from siyu.assistant import service as assistant
from siyu.assistant.models import EntryCreate, EntryUpdate, GroupSet, Outcome, RuleCreate
from siyu.channels.wechat_group_messages import MemberChange, WecomGroupMembers, WecomGroupMessage
from siyu.core.errors import ConflictError, InvalidInputError, NotFoundError

WS = "ws_assist"
CHAT = "wrCHAT1"


def _msg(n: int, content: str, now: datetime, sender: str = "wmCUST1") -> WecomGroupMessage:
    return WecomGroupMessage(corp_id="ww", chat_id=CHAT, msg_id=f"m{n}", sender=sender,
                             content=content, at=now)  # fmt: skip


@pytest.fixture
def seeded(db: sessionmaker[Session], now: datetime) -> sessionmaker[Session]:
    with db() as session, session.begin():
        summary = assistant.seed_demo(session=session, workspace_id=WS, now=now)
        assert summary.created == 40 and not summary.rejected
    return db


def test_entries_crud_and_conflicts(db: sessionmaker[Session], now: datetime) -> None:
    with db() as s, s.begin():
        entry = EntryCreate(
            id="e1", question="包邮吗", alternatives=["免运费吗"], answer="满59包邮"
        )
        made = assistant.create_entry(session=s, workspace_id=WS, entry=entry, now=now)
        assert made.id == "e1"
        with pytest.raises(ConflictError):
            assistant.create_entry(session=s, workspace_id=WS, entry=entry, now=now)
        later = now + timedelta(minutes=1)
        change = EntryUpdate(answer="满69包邮", enabled=False)
        assistant.update_entry(session=s, workspace_id=WS, entry_id="e1", change=change, now=later)
    with db() as s, s.begin():
        got = assistant.get_entry(session=s, workspace_id=WS, entry_id="e1")
        assert (got.answer, got.enabled, got.alternatives) == ("满69包邮", False, ["免运费吗"])
        assert got.updated_at == now + timedelta(minutes=1)
        assert assistant.list_entries(session=s, workspace_id="other") == []
        assistant.delete_entry(session=s, workspace_id=WS, entry_id="e1")
        with pytest.raises(NotFoundError):
            assistant.get_entry(session=s, workspace_id=WS, entry_id="e1")


def test_csv_import_reads_gbk_and_reports_bad_rows(
    db: sessionmaker[Session], now: datetime
) -> None:
    csv_text = (
        "id,question,alternatives,answer,tags\n"
        "inv,怎么开发票,能开票吗|要发票,订单详情里申请,发票\n"
        "bad,,,没有问题的行,\n"
        ",营业时间,几点开门,10点到22点,门店\n"
    )
    with db() as s, s.begin():
        summary = assistant.import_entries(
            session=s, workspace_id=WS, data=csv_text.encode("gbk"), now=now
        )
        assert (summary.created, summary.updated) == (2, 0)
        assert len(summary.rejected) == 1 and summary.rejected[0].startswith("line 3")
        again = assistant.import_entries(
            session=s, workspace_id=WS, data=csv_text.encode("utf-8-sig"), now=now
        )
        assert (again.created, again.updated) == (1, 1)  # the id-less row is new each time
        inv = assistant.get_entry(session=s, workspace_id=WS, entry_id="inv")
        assert inv.alternatives == ["能开票吗", "要发票"] and inv.tags == ["发票"]
        with pytest.raises(InvalidInputError):
            assistant.import_entries(session=s, workspace_id=WS, data=b"a,b\n1,2\n", now=now)
        with pytest.raises(InvalidInputError):
            assistant.import_entries(session=s, workspace_id=WS, data=b"\xff\xfe\xfa", now=now)


def test_rule_beats_retrieval_and_bad_regex_refused(
    seeded: sessionmaker[Session], now: datetime
) -> None:
    with seeded() as s, s.begin():
        reply = assistant.ask(session=s, workspace_id=WS, question="我要投诉，满多少包邮都不说清楚")
        assert reply.outcome is Outcome.RULE and reply.rule_id == "rule-complaint"
        reply = assistant.ask(session=s, workspace_id=WS, question="转人工")
        assert reply.rule_id == "rule-human"  # priority 100 over everything
        with pytest.raises(InvalidInputError) as err:
            bad = RuleCreate(pattern="([", is_regex=True, answer="x")
            assistant.create_rule(session=s, workspace_id=WS, rule=bad, now=now)
        assert err.value.field == "pattern"


def test_answer_and_handover_recorded_with_counts(
    seeded: sessionmaker[Session], now: datetime
) -> None:
    with seeded() as s, s.begin():
        answered = assistant.handle_message(
            session=s, workspace_id=WS, message=_msg(1, "买多少可以包邮啊", now), now=now
        )
        assert answered.outcome is Outcome.ANSWERED and answered.entry_id == "ship-free"
        assert answered.text is not None and "59" in answered.text
        for n in (2, 3):
            handed = assistant.handle_message(
                session=s, workspace_id=WS, message=_msg(n, "今天天气怎么样？", now), now=now
            )
            assert handed.outcome is Outcome.HANDOVER
        retry = assistant.handle_message(
            session=s, workspace_id=WS, message=_msg(3, "今天天气怎么样？", now), now=now
        )
        assert retry.outcome is Outcome.IGNORED  # WeCom retried: counted once
        chatter = assistant.handle_message(
            session=s, workspace_id=WS, message=_msg(4, "哈哈哈好的", now), now=now
        )
        assert chatter.outcome is Outcome.IGNORED and chatter.text is None
    with seeded() as s:
        [row] = assistant.list_unanswered(session=s, workspace_id=WS)
        assert (row.question, row.count, row.chat_id) == ("今天天气怎么样？", 2, CHAT)


def test_threshold_setting_decides_handover(seeded: sessionmaker[Session], now: datetime) -> None:
    with seeded() as s, s.begin():
        settings = assistant.get_settings(session=s, workspace_id=WS)
        strict = settings.model_copy(update={"threshold": 0.99})
        assistant.set_settings(session=s, workspace_id=WS, settings=strict, now=now)
        reply = assistant.ask(session=s, workspace_id=WS, question="买多少可以包邮啊")
        assert reply.outcome is Outcome.HANDOVER and reply.entry_id == "ship-free"
        assert reply.confidence < 0.99


def test_opt_out_and_muted_group(seeded: sessionmaker[Session], now: datetime) -> None:
    with seeded() as s, s.begin():
        out = assistant.handle_message(
            session=s, workspace_id=WS, message=_msg(1, "别回复我了", now), now=now
        )
        assert out.outcome is Outcome.OPTED_OUT
        quiet = assistant.handle_message(
            session=s, workspace_id=WS, message=_msg(2, "积分怎么用？", now), now=now
        )
        assert quiet.outcome is Outcome.IGNORED and quiet.text is None
        other = assistant.handle_message(
            session=s, workspace_id=WS, message=_msg(3, "积分怎么用？", now, "wmB"), now=now
        )
        assert other.outcome is Outcome.ANSWERED
        assistant.set_group(session=s, workspace_id=WS, chat_id=CHAT,
                            group=GroupSet(name="上海1群", muted=True), now=now)  # fmt: skip
        muted = assistant.handle_message(
            session=s, workspace_id=WS, message=_msg(4, "积分怎么用？", now, "wmB"), now=now
        )
        assert muted.outcome is Outcome.IGNORED


def test_a_negated_opt_in_opts_out_and_opting_in_again_answers(
    seeded: sessionmaker[Session], now: datetime
) -> None:
    with seeded() as s, s.begin():
        said = [
            assistant.handle_message(
                session=s, workspace_id=WS, message=_msg(n, text, now), now=now
            )
            for n, text in enumerate(["不可以回复我", "积分怎么用？", "恢复回复", "积分怎么用？"])
        ]
    assert [r.outcome for r in said] == [
        Outcome.OPTED_OUT, Outcome.IGNORED, Outcome.IGNORED, Outcome.ANSWERED
    ]  # fmt: skip
    assert said[1].text is None and said[2].text is not None


def test_group_stats_count_joins_speakers_and_outcomes(
    seeded: sessionmaker[Session], now: datetime
) -> None:
    with seeded() as s, s.begin():
        assistant.set_group(session=s, workspace_id=WS, chat_id=CHAT,
                            group=GroupSet(name="上海1群"), now=now)  # fmt: skip
        joined = WecomGroupMembers(corp_id="ww", chat_id=CHAT, change=MemberChange.JOINED,
                                   members=["wmA", "wmB", "wmC"], at=now)  # fmt: skip
        welcome = assistant.handle_members(session=s, workspace_id=WS, change=joined)
        assert welcome is not None and "上海1群" in welcome
        assert assistant.handle_members(session=s, workspace_id=WS, change=joined) is None  # retry
        left = joined.model_copy(update={"change": MemberChange.LEFT, "members": ["wmC"]})
        assert assistant.handle_members(session=s, workspace_id=WS, change=left) is None
        for n, (who, text) in enumerate(
            [("wmA", "怎么开发票"), ("wmA", "加盟多少钱？"), ("wmB", "好的谢谢")]
        ):
            assistant.handle_message(
                session=s, workspace_id=WS, message=_msg(n, text, now, who), now=now
            )
    with seeded() as s:
        [stats] = assistant.group_stats(
            session=s,
            workspace_id=WS,
            since=now - timedelta(hours=1),
            until=now + timedelta(hours=1),
        )
        assert (stats.name, stats.members, stats.joins, stats.leaves) == ("上海1群", 2, 3, 1)
        assert (stats.active_speakers, stats.messages) == (2, 3)
        assert (stats.questions, stats.answered, stats.handed_over) == (2, 1, 1)
        assert (
            assistant.group_stats(
                session=s,
                workspace_id=WS,
                since=now + timedelta(hours=1),
                until=now + timedelta(hours=2),
            )
            == []
        )
        with pytest.raises(InvalidInputError):
            assistant.group_stats(session=s, workspace_id=WS, since=now, until=now)

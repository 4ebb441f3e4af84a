"""What the assistant says to a group message or a newcomer: rules, retrieval, hand-over,
opt-out. Effects are on the session only; sending is the caller's (:mod:`robot`)."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy.orm import Session

from siyu.assistant import groups, knowledge, ranking
from siyu.assistant.events import member_message_id
from siyu.assistant.models import AssistantSettings, Outcome, Reply
from siyu.channels.wechat_group_messages import MemberChange, WecomGroupMembers, WecomGroupMessage
from siyu.community import service as community

OPT_OUT = re.compile(
    r"别(再)?(回复|回|理|@|艾特)我|不(要|用|可以|许)(再)?(回复|回|@)我|退订|取消订阅|闭嘴"
)
OPT_IN = re.compile(r"恢复回复|可以回复我|重新订阅")  # checked after OPT_OUT (不可以回复我)
QUESTION = re.compile(
    r"[?？]|吗|呢|么|怎|什么|啥|多少|多久|几|哪|能不能|可不可以|可以|是否|有没有|如何|咋|求|请问"
)
OPTED_OUT_TEXT = "好的，之后不再回复您。想恢复时说「恢复回复」即可。"
OPTED_IN_TEXT = "好的，之后有问题可以直接问我～"
WELCOMED = "welcomed"  # the outcome of a join the assistant welcomed


def build_index(session: Session, workspace_id: str) -> ranking.KnowledgeIndex:
    """A BM25 index over the workspace's enabled entries and its synonyms.

    Built per call: tokenising a few hundred phrasings takes milliseconds, and a fresh
    index never serves a deleted answer.
    """
    entries = knowledge.list_entries(session=session, workspace_id=workspace_id, enabled_only=True)
    phrasings = [
        ranking.Phrasing(e.id, phrase) for e in entries for phrase in [e.question, *e.alternatives]
    ]
    synonyms = knowledge.list_synonyms(session=session, workspace_id=workspace_id)
    return ranking.KnowledgeIndex(phrasings, {s.word: s.canonical for s in synonyms})


def answer_question(
    *, session: Session, workspace_id: str, question: str, settings: AssistantSettings
) -> tuple[Reply, ranking.Match | None]:
    """Rules first (highest priority), then retrieval with the workspace threshold."""
    rules = knowledge.list_rules(session=session, workspace_id=workspace_id)
    rule = knowledge.first_rule(rules, question)
    if rule is not None:
        return Reply(outcome=Outcome.RULE, text=rule.answer, rule_id=rule.id, confidence=1.0), None
    match = build_index(session, workspace_id).match(question)
    confident = ranking.confident(
        match, threshold=settings.threshold, min_margin=settings.min_margin
    )
    if confident and match.entry_id is not None:
        entry = knowledge.get_entry(
            session=session, workspace_id=workspace_id, entry_id=match.entry_id
        )
        return Reply(
            outcome=Outcome.ANSWERED,
            text=entry.answer,
            entry_id=entry.id,
            confidence=match.score,
            margin=match.margin,
        ), match
    return Reply(
        outcome=Outcome.HANDOVER,
        text=settings.handover_text,
        entry_id=match.entry_id,
        confidence=match.score,
        margin=match.margin,
    ), match


def _muted(session: Session, workspace_id: str, chat_id: str) -> bool:
    group = groups.find_group(session=session, workspace_id=workspace_id, chat_id=chat_id)
    return group is not None and group.muted


def _consent(session: Session, workspace_id: str, message: WecomGroupMessage) -> Reply | None:
    """Opt-out / opt-in handling; a reply when the message was about consent or the sender
    opted out."""
    if OPT_OUT.search(message.content):
        groups.opt_out(session, workspace_id, message.sender, message.at)
        return Reply(outcome=Outcome.OPTED_OUT, text=OPTED_OUT_TEXT)
    if OPT_IN.search(message.content):
        groups.opt_in(session, workspace_id, message.sender)
        return Reply(outcome=Outcome.IGNORED, text=OPTED_IN_TEXT)
    if groups.opted_out(session, workspace_id, message.sender):
        return Reply(outcome=Outcome.IGNORED)
    return None


def handle_message(
    *, session: Session, workspace_id: str, message: WecomGroupMessage, now: datetime
) -> Reply:
    """Record a group message (in community's group activity, under the key every feed of
    it uses) and decide the reply once: nothing for a retry, a muted group, an opted-out
    sender or chatter; a rule's answer; an entry's answer; or a hand-over that records the
    question as unanswered."""
    key = community.message_key(message.chat_id, message.msg_id)
    community.record_activity(
        session,
        workspace_id,
        event_key=key,
        chat_id=message.chat_id,
        kind="message",
        member_id=message.sender,
        at=message.at,
    )
    claimed = community.claim_outcome(session, workspace_id, key, Outcome.IGNORED.value)
    if not claimed or _muted(session, workspace_id, message.chat_id):
        return Reply(outcome=Outcome.IGNORED)
    reply = _consent(session, workspace_id, message)
    if reply is None:
        reply = _answer(session, workspace_id, message, now)
    community.set_outcome(session, workspace_id, key, reply.outcome.value)
    return reply


def _answer(
    session: Session, workspace_id: str, message: WecomGroupMessage, now: datetime
) -> Reply:
    settings = groups.get_settings(session=session, workspace_id=workspace_id)
    reply, match = answer_question(
        session=session, workspace_id=workspace_id, question=message.content, settings=settings
    )
    if reply.outcome is Outcome.HANDOVER:
        if not QUESTION.search(message.content):
            return Reply(outcome=Outcome.IGNORED)  # chatter, not a question
        groups.record_unanswered(
            session, workspace_id, message.content, message.chat_id, match, now
        )
    return reply


def member_key(change: WecomGroupMembers, member: str) -> str:
    """The event key of one member's join or leave: the one ingest gives its track."""
    return community.event_key(member_message_id(change, member))


def handle_members(*, session: Session, workspace_id: str, change: WecomGroupMembers) -> str | None:
    """Record joins or leaves (in community's group activity); the welcome text to send for
    joins not welcomed before (once per member and time, whichever callback brought it
    first), if any."""
    muted = _muted(session, workspace_id, change.chat_id)
    fresh = []
    for member in change.members:
        key = member_key(change, member)
        community.record_activity(
            session,
            workspace_id,
            event_key=key,
            chat_id=change.chat_id,
            kind=change.change.value,
            member_id=member,
            at=change.at,
        )
        joined = change.change is MemberChange.JOINED and not muted
        if joined and community.claim_outcome(session, workspace_id, key, WELCOMED):
            fresh.append(member)
    if not fresh:
        return None
    settings = groups.get_settings(session=session, workspace_id=workspace_id)
    return settings.welcome_text.replace("{group}", _name(session, workspace_id, change.chat_id))


def _name(session: Session, workspace_id: str, chat_id: str) -> str:
    """The assistant's name for the group, else the name WeCom gave it (synced), else 本群."""
    mine = groups.find_group(session=session, workspace_id=workspace_id, chat_id=chat_id)
    if mine is not None and mine.name:
        return mine.name
    synced = community.find_group(session=session, workspace_id=workspace_id, chat_id=chat_id)
    return synced.name if synced is not None and synced.name else "本群"

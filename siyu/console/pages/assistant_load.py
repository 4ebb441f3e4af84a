"""The blocking calls behind the assistant's knowledge-base page (siyu.assistant.service only)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from siyu.assistant import service as assistant
from siyu.assistant.models import (
    Entry,
    EntryCreate,
    EntryUpdate,
    ImportSummary,
    Reply,
    Rule,
    RuleCreate,
    Unanswered,
)
from siyu.core.runtime import Runtime


class Knowledge(BaseModel):
    """The knowledge base, its keyword rules and the questions handed over."""

    entries: list[Entry]
    rules: list[Rule]
    unanswered: list[Unanswered]


def board(*, runtime: Runtime, workspace_id: str) -> Knowledge:
    """Entries, rules and unanswered questions."""
    with runtime.sessions() as session:
        return Knowledge(
            entries=assistant.list_entries(session=session, workspace_id=workspace_id),
            rules=assistant.list_rules(session=session, workspace_id=workspace_id),
            unanswered=assistant.list_unanswered(session=session, workspace_id=workspace_id),
        )


def save_entry(
    *, runtime: Runtime, workspace_id: str, entry_id: str | None, entry: EntryCreate, now: datetime
) -> Entry:
    """Add an entry (``entry_id`` None) or change one."""
    with runtime.sessions() as session, session.begin():
        if entry_id is None:
            return assistant.create_entry(
                session=session, workspace_id=workspace_id, entry=entry, now=now
            )
        change = EntryUpdate(**entry.model_dump(exclude={"id"}))
        return assistant.update_entry(
            session=session, workspace_id=workspace_id, entry_id=entry_id, change=change, now=now
        )


def delete_entry(*, runtime: Runtime, workspace_id: str, entry_id: str) -> str:
    """Remove an entry; answers its id."""
    with runtime.sessions() as session, session.begin():
        assistant.delete_entry(session=session, workspace_id=workspace_id, entry_id=entry_id)
    return entry_id


def import_csv(*, runtime: Runtime, workspace_id: str, data: bytes, now: datetime) -> ImportSummary:
    """Create or update entries from CSV bytes (UTF-8 or GBK)."""
    with runtime.sessions() as session, session.begin():
        return assistant.import_entries(
            session=session, workspace_id=workspace_id, data=data, now=now
        )


def add_rule(*, runtime: Runtime, workspace_id: str, rule: RuleCreate, now: datetime) -> Rule:
    """Add a keyword rule."""
    with runtime.sessions() as session, session.begin():
        return assistant.create_rule(session=session, workspace_id=workspace_id, rule=rule, now=now)


def delete_rule(*, runtime: Runtime, workspace_id: str, rule_id: str) -> str:
    """Remove a keyword rule; answers its id."""
    with runtime.sessions() as session, session.begin():
        assistant.delete_rule(session=session, workspace_id=workspace_id, rule_id=rule_id)
    return rule_id


def ask(*, runtime: Runtime, workspace_id: str, question: str) -> Reply:
    """What the assistant would answer (nothing recorded)."""
    with runtime.sessions() as session:
        return assistant.ask(session=session, workspace_id=workspace_id, question=question)

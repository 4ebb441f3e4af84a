"""The assistant's public surface: the knowledge base, settings and groups, answering group
messages, statistics, the demo seed and the held-out evaluation."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from siyu.assistant import evaluation
from siyu.assistant.answering import answer_question, handle_members, handle_message
from siyu.assistant.events import member_events, message_events
from siyu.assistant.groups import (
    find_group,
    get_settings,
    group_stats,
    list_groups,
    list_unanswered,
    require_group,
    set_group,
    set_settings,
    webhook_for,
)
from siyu.assistant.knowledge import (
    create_entry,
    create_rule,
    delete_entry,
    delete_rule,
    get_entry,
    import_entries,
    list_entries,
    list_rules,
    list_synonyms,
    set_synonyms,
    update_entry,
)
from siyu.assistant.models import (
    AssistantSettings,
    EvalReport,
    ImportSummary,
    Reply,
    RuleCreate,
    Synonym,
)

__all__ = [
    "ask",
    "create_entry",
    "create_rule",
    "delete_entry",
    "delete_rule",
    "evaluate",
    "find_group",
    "get_entry",
    "get_settings",
    "group_stats",
    "handle_members",
    "handle_message",
    "import_entries",
    "list_entries",
    "list_groups",
    "list_rules",
    "list_synonyms",
    "list_unanswered",
    "member_events",
    "message_events",
    "require_group",
    "seed_demo",
    "set_group",
    "set_settings",
    "set_synonyms",
    "update_entry",
    "webhook_for",
]


def ask(*, session: Session, workspace_id: str, question: str) -> Reply:
    """What the assistant would answer to ``question`` (nothing is recorded)."""
    settings = get_settings(session=session, workspace_id=workspace_id)
    reply, _ = answer_question(
        session=session, workspace_id=workspace_id, question=question, settings=settings
    )
    return reply


def evaluate(*, threshold: float | None = None, min_margin: float | None = None) -> EvalReport:
    """The shipped 山茶集 knowledge base against the held-out questions, with baselines."""
    defaults = AssistantSettings()
    return evaluation.evaluate(
        entries=evaluation.demo_entries(),
        synonyms=evaluation.demo_synonyms(),
        cases=evaluation.demo_cases(),
        threshold=defaults.threshold if threshold is None else threshold,
        min_margin=defaults.min_margin if min_margin is None else min_margin,
    )


def seed_demo(*, session: Session, workspace_id: str, now: datetime) -> ImportSummary:
    """Load the shipped 山茶集 knowledge base, synonyms and keyword rules (idempotent: a
    second run updates the entries and leaves existing rules)."""
    from importlib import resources

    data = resources.files("siyu.assistant.data").joinpath("knowledge.csv").read_bytes()
    summary = import_entries(session=session, workspace_id=workspace_id, data=data, now=now)
    synonyms = [Synonym(word=w, canonical=c) for w, c in evaluation.demo_synonyms().items()]
    set_synonyms(session=session, workspace_id=workspace_id, synonyms=synonyms)
    existing = {r.id for r in list_rules(session=session, workspace_id=workspace_id)}
    for row in evaluation.demo_rules():
        if row["id"] in existing:
            continue
        rule = RuleCreate(
            id=row["id"],
            pattern=row["pattern"],
            is_regex=row["is_regex"] == "true",
            answer=row["answer"],
            priority=int(row["priority"]),
        )
        create_rule(session=session, workspace_id=workspace_id, rule=rule, now=now)
    return summary

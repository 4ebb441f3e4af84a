"""Knowledge-base builders: entry, rule and unanswered rows; the try-a-question verdict."""

from __future__ import annotations

from typing import Any

from siyu.assistant.models import Entry, EntryCreate, Outcome, Reply, Rule, Unanswered
from siyu.console.i18n import translate
from siyu.console.views.common import column, percent
from siyu.console.views.people import local_time

SEPARATOR = "|"


def split(text: str | None) -> list[str]:
    """``a | b`` → ["a", "b"] (blanks dropped)."""
    return [part.strip() for part in (text or "").split(SEPARATOR) if part.strip()]


def entry_from_form(question: str, alternatives: str, answer: str, tags: str) -> EntryCreate:
    """The entry form's text → an EntryCreate (ValidationError names the field)."""
    return EntryCreate(
        question=question.strip(),
        alternatives=split(alternatives),
        answer=answer.strip(),
        tags=split(tags),
    )


def entry_rows(entries: list[Entry], zone: str) -> list[dict[str, Any]]:
    """One row per entry, the latest changed first (so an edit shows on the first page)."""
    ordered = sorted(entries, key=lambda entry: (entry.updated_at, entry.id), reverse=True)
    return [
        {
            "key": entry.id,
            "question": entry.question,
            "alternatives": f" {SEPARATOR} ".join(entry.alternatives),
            "answer": entry.answer,
            "tags": f" {SEPARATOR} ".join(entry.tags),
            "updated": local_time(entry.updated_at, zone),
        }
        for entry in ordered
    ]


def entry_columns(lang: str) -> list[dict[str, Any]]:
    """The entry table's columns."""
    names = ("question", "alternatives", "answer", "tags", "updated")
    return [column(n, translate(lang, f"kb.col.{n}")) for n in names]


def rule_rows(rules: list[Rule]) -> list[dict[str, Any]]:
    """One row per keyword rule, highest priority first."""
    return [
        {
            "key": rule.id,
            "pattern": rule.pattern,
            "regex": "regex" if rule.is_regex else "",
            "answer": rule.answer,
            "priority": rule.priority,
        }
        for rule in rules
    ]


def rule_columns(lang: str) -> list[dict[str, Any]]:
    """The rule table's columns."""
    names = ("pattern", "regex", "answer", "priority")
    return [column(n, translate(lang, f"kb.col.{n}")) for n in names]


def unanswered_rows(found: list[Unanswered], zone: str) -> list[dict[str, Any]]:
    """Questions handed over, most asked first, with the best (too weak) match's confidence."""
    return [
        {
            "key": item.question,
            "question": item.question,
            "count": item.count,
            "confidence": percent(item.best_confidence),
            "last": local_time(item.last_at, zone),
        }
        for item in sorted(found, key=lambda u: (-u.count, u.question))
    ]


def unanswered_columns(lang: str) -> list[dict[str, Any]]:
    """The unanswered table's columns."""
    names = ("question", "count", "confidence", "last")
    return [column(n, translate(lang, f"kb.col.{n}")) for n in names]


def verdict(reply: Reply, lang: str) -> dict[str, str]:
    """What the try-a-question box shows: the answer, the confidence, hand-over or not."""
    handover = reply.outcome == Outcome.HANDOVER
    source = reply.entry_id or reply.rule_id or "—"
    return {
        "answer": reply.text or "—",
        "confidence": percent(reply.confidence),
        "outcome": translate(lang, f"kb.outcome.{reply.outcome.value}"),
        "handover": translate(lang, "kb.handover_yes" if handover else "kb.handover_no"),
        "source": source,
    }

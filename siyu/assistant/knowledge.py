"""The knowledge base of a workspace: entries, synonyms, keyword rules, and CSV import."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from siyu.assistant.models import (
    Entry,
    EntryCreate,
    EntryUpdate,
    ImportSummary,
    Rule,
    RuleCreate,
    Synonym,
)
from siyu.assistant.tables import assistant_entries, assistant_rules, assistant_synonyms
from siyu.core.errors import ConflictError, InvalidInputError, NotFoundError
from siyu.core.ids import new_id

MAX_IMPORT_BYTES = 2 * 1024 * 1024
CSV_COLUMNS = ("question", "answer")

# -- entries -------------------------------------------------------------------------------


def _entry(row: Any) -> Entry:
    return Entry(
        id=row.id,
        question=row.question,
        alternatives=list(row.alternatives),
        answer=row.answer,
        tags=list(row.tags),
        enabled=row.enabled,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _find(session: Session, workspace_id: str, entry_id: str) -> Entry | None:
    t = assistant_entries.c
    row = session.execute(
        select(assistant_entries).where(t.workspace_id == workspace_id, t.id == entry_id)
    ).first()
    return _entry(row) if row is not None else None


def create_entry(
    *, session: Session, workspace_id: str, entry: EntryCreate, now: datetime
) -> Entry:
    """Add a question and its answer.

    Raises:
        ConflictError: an entry with this id exists.
    """
    entry_id = entry.id or new_id("kb")
    if _find(session, workspace_id, entry_id) is not None:
        raise ConflictError(f"entry {entry_id} exists", field="id")
    row = Entry(**{**entry.model_dump(), "id": entry_id}, created_at=now, updated_at=now)
    session.execute(insert(assistant_entries).values(workspace_id=workspace_id, **row.model_dump()))
    return row


def get_entry(*, session: Session, workspace_id: str, entry_id: str) -> Entry:
    """One entry.

    Raises:
        NotFoundError: no such entry.
    """
    found = _find(session, workspace_id, entry_id)
    if found is None:
        raise NotFoundError(f"no entry {entry_id}", field="entry_id")
    return found


def list_entries(*, session: Session, workspace_id: str, enabled_only: bool = False) -> list[Entry]:
    """Every entry, by id."""
    t = assistant_entries.c
    query = select(assistant_entries).where(t.workspace_id == workspace_id).order_by(t.id)
    if enabled_only:
        query = query.where(t.enabled.is_(True))
    return [_entry(row) for row in session.execute(query)]


def update_entry(
    *, session: Session, workspace_id: str, entry_id: str, change: EntryUpdate, now: datetime
) -> Entry:
    """Change the given fields of an entry.

    Raises:
        NotFoundError: no such entry.
    """
    current = get_entry(session=session, workspace_id=workspace_id, entry_id=entry_id)
    values = change.model_dump(exclude_none=True)
    t = assistant_entries.c
    session.execute(
        update(assistant_entries)
        .where(t.workspace_id == workspace_id, t.id == entry_id)
        .values(**values, updated_at=now)
    )
    return current.model_copy(update={**values, "updated_at": now})


def delete_entry(*, session: Session, workspace_id: str, entry_id: str) -> None:
    """Remove an entry.

    Raises:
        NotFoundError: no such entry.
    """
    t = assistant_entries.c
    gone = session.execute(
        delete(assistant_entries).where(t.workspace_id == workspace_id, t.id == entry_id)
    )
    if not gone.rowcount:  # type: ignore[attr-defined]
        raise NotFoundError(f"no entry {entry_id}", field="entry_id")


# -- CSV import ----------------------------------------------------------------------------


def decode_csv(data: bytes) -> str:
    """CSV bytes as text: UTF-8 (with or without BOM), else GBK (Excel on Chinese Windows).

    Raises:
        InvalidInputError: too large, or neither encoding reads it.
    """
    if len(data) > MAX_IMPORT_BYTES:
        raise InvalidInputError(f"CSV over {MAX_IMPORT_BYTES} bytes", field="file")
    for encoding in ("utf-8-sig", "gbk"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InvalidInputError("CSV is neither UTF-8 nor GBK", field="file")


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split("|") if part.strip()]


def _row_entry(row: dict[str, str]) -> EntryCreate:
    enabled = (row.get("enabled") or "true").strip().lower() not in {"false", "0", "no", "否"}
    return EntryCreate(
        id=(row.get("id") or "").strip() or None,
        question=(row.get("question") or "").strip(),
        alternatives=_split(row.get("alternatives")),
        answer=(row.get("answer") or "").strip(),
        tags=_split(row.get("tags")),
        enabled=enabled,
    )


def import_entries(
    *, session: Session, workspace_id: str, data: bytes, now: datetime
) -> ImportSummary:
    """Create or update entries from CSV (columns id, question, alternatives, answer, tags,
    enabled; ``|`` separates alternatives and tags). A row with an existing id updates it;
    a bad row is reported by its line number and the others are imported.

    Raises:
        InvalidInputError: not UTF-8/GBK, or the question/answer columns are missing.
    """
    reader = csv.DictReader(io.StringIO(decode_csv(data)))
    missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise InvalidInputError(f"CSV lacks columns {', '.join(missing)}", field="file")
    created = updated = 0
    rejected: list[str] = []
    for line, row in enumerate(reader, start=2):
        try:
            entry = _row_entry(row)
        except ValidationError as exc:
            rejected.append(f"line {line}: {exc.errors()[0]['loc'][0]} {exc.errors()[0]['msg']}")
            continue
        if entry.id and _find(session, workspace_id, entry.id) is not None:
            change = EntryUpdate(**entry.model_dump(exclude={"id"}))
            update_entry(
                session=session,
                workspace_id=workspace_id,
                entry_id=entry.id,
                change=change,
                now=now,
            )
            updated += 1
        else:
            create_entry(session=session, workspace_id=workspace_id, entry=entry, now=now)
            created += 1
    return ImportSummary(created=created, updated=updated, rejected=rejected)


# -- synonyms ------------------------------------------------------------------------------


def set_synonyms(*, session: Session, workspace_id: str, synonyms: Sequence[Synonym]) -> None:
    """Replace the workspace's synonyms.

    Raises:
        InvalidInputError: a word is listed twice, or maps to itself.
    """
    words = [s.word for s in synonyms]
    if len(set(words)) != len(words):
        raise InvalidInputError("a word is listed twice", field="synonyms")
    t = assistant_synonyms.c
    session.execute(delete(assistant_synonyms).where(t.workspace_id == workspace_id))
    if synonyms:
        session.execute(
            insert(assistant_synonyms),
            [{"workspace_id": workspace_id, **s.model_dump()} for s in synonyms],
        )


def list_synonyms(*, session: Session, workspace_id: str) -> list[Synonym]:
    """Every synonym, by word."""
    t = assistant_synonyms.c
    rows = session.execute(
        select(t.word, t.canonical).where(t.workspace_id == workspace_id).order_by(t.word)
    )
    return [Synonym(word=r.word, canonical=r.canonical) for r in rows]


# -- keyword rules -------------------------------------------------------------------------


def _check_pattern(rule: RuleCreate) -> None:
    if not rule.is_regex:
        return
    try:
        re.compile(rule.pattern)
    except re.error as exc:
        raise InvalidInputError(f"pattern is not a valid regex: {exc}", field="pattern") from None


def create_rule(*, session: Session, workspace_id: str, rule: RuleCreate, now: datetime) -> Rule:
    """Add a keyword rule.

    Raises:
        InvalidInputError: the regex does not compile.
        ConflictError: a rule with this id exists.
    """
    _check_pattern(rule)
    rule_id = rule.id or new_id("rule")
    t = assistant_rules.c
    taken = session.execute(
        select(t.id).where(t.workspace_id == workspace_id, t.id == rule_id)
    ).first()
    if taken is not None:
        raise ConflictError(f"rule {rule_id} exists", field="id")
    row = Rule(**{**rule.model_dump(), "id": rule_id}, created_at=now)
    session.execute(insert(assistant_rules).values(workspace_id=workspace_id, **row.model_dump()))
    return row


def list_rules(*, session: Session, workspace_id: str) -> list[Rule]:
    """Every rule, highest priority first (then by id)."""
    t = assistant_rules.c
    rows = session.execute(
        select(assistant_rules)
        .where(t.workspace_id == workspace_id)
        .order_by(t.priority.desc(), t.id)
    )
    return [
        Rule(
            id=r.id,
            pattern=r.pattern,
            is_regex=r.is_regex,
            answer=r.answer,
            priority=r.priority,
            enabled=r.enabled,
            created_at=r.created_at,
        )
        for r in rows
    ]


def delete_rule(*, session: Session, workspace_id: str, rule_id: str) -> None:
    """Remove a rule.

    Raises:
        NotFoundError: no such rule.
    """
    t = assistant_rules.c
    gone = session.execute(
        delete(assistant_rules).where(t.workspace_id == workspace_id, t.id == rule_id)
    )
    if not gone.rowcount:  # type: ignore[attr-defined]
        raise NotFoundError(f"no rule {rule_id}", field="rule_id")


def first_rule(rules: Sequence[Rule], question: str) -> Rule | None:
    """The highest-priority enabled rule whose keyword or regex is in ``question``."""
    lowered = question.lower()
    for rule in sorted(rules, key=lambda r: (-r.priority, r.id)):
        if not rule.enabled:
            continue
        if rule.is_regex and re.search(rule.pattern, question, flags=re.IGNORECASE):
            return rule
        if not rule.is_regex and rule.pattern.lower() in lowered:
            return rule
    return None

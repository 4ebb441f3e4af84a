"""Segments and rule tags: definitions run on the event store, refreshed on schedule."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from siyu.collect import normalize
from siyu.collect.models import IdType
from siyu.core.errors import InvalidInputError
from siyu.core.runtime import Runtime
from siyu.identity import service as identity
from siyu.journeys.triggers import members_of
from siyu.pipeline import journeys
from siyu.pipeline.ingest import flush
from siyu.pipeline.jobs import run_jobs
from siyu.profiles import tags
from siyu.profiles.tag_models import TagChanges, TagImportReport, TagImportRow
from siyu.segments import service as segments
from siyu.segments import sources
from siyu.segments.compile import to_sql
from siyu.segments.models import CONDITION, Condition, Preview, RefreshResult
from siyu.workspaces import service as workspaces

log = logging.getLogger("siyu.jobs")

# -- segments and rule tags -----------------------------------------------------------------


def run_definition(
    *,
    runtime: Runtime,
    workspace_id: str,
    definition: Condition,
    now: datetime,
    dialect: str = "duckdb",
) -> list[str]:
    """The persons a segment definition selects now, sorted (the inbox is flushed first).

    Compiles for the engine's dialect, ships the operational relations it reads as Arrow,
    and runs it over the events with merged persons mapped to their survivors.
    """
    from siyu.analytics.engine import engine_for

    engine = engine_for(runtime, dialect)
    compiled = to_sql(definition, engine.dialect.value, now=now)
    if compiled.reads_events:
        flush(runtime=runtime)
    with runtime.sessions() as session:
        tables = sources.load_relations(
            session=session, workspace_id=workspace_id, names=compiled.relations
        )
        person_map = (
            identity.person_map(session=session, workspace_id=workspace_id)
            if compiled.reads_events
            else []
        )
    result = engine.run(
        workspace_id=workspace_id, sql=compiled.sql, tables=tables, person_map=person_map
    )
    return sorted(set(result.column(0).to_pylist()))


def preview_segment(
    *, runtime: Runtime, workspace_id: str, definition: Condition, now: datetime, sample: int = 20
) -> Preview:
    """How many persons a definition selects now, and a few of them, before saving."""
    with runtime.sessions() as session:
        checked = segments.check_definition(
            session=session, workspace_id=workspace_id, definition=definition, now=now
        )
    members = run_definition(
        runtime=runtime, workspace_id=workspace_id, definition=checked, now=now
    )
    return Preview(count=len(members), sample=members[:sample])


def refresh_segment(
    *, runtime: Runtime, workspace_id: str, segment_id: str, now: datetime
) -> RefreshResult:
    """Recompute a saved segment's members and log who entered and left."""
    with runtime.sessions() as session:
        found = segments.get_segment(
            session=session, workspace_id=workspace_id, segment_id=segment_id
        )
    members = run_definition(
        runtime=runtime, workspace_id=workspace_id, definition=found.definition, now=now
    )
    with runtime.sessions() as session, session.begin():
        before = _members_if_journeys(session, workspace_id, found.id)
        result = segments.store_members(
            session=session,
            workspace_id=workspace_id,
            segment_id=found.id,
            person_ids=members,
            now=now,
        )
        if before is not None:  # journeys enter on this segment: in the same transaction
            journeys.on_segment_refresh(session=session, workspace_id=workspace_id,
                segment_id=found.id, before=before, after=set(members), now=now)  # fmt: skip
        return result


def _members_if_journeys(session: Session, workspace_id: str, segment_id: str) -> set[str] | None:
    if not journeys.wants_segment(
        session=session, workspace_id=workspace_id, segment_id=segment_id
    ):
        return None
    return set(members_of(session, workspace_id, segment_id))


def refresh_due(*, runtime: Runtime, workspace_id: str, now: datetime) -> list[RefreshResult]:
    """Refresh the segments whose schedule is due (segments they read first)."""
    with runtime.sessions() as session:
        due = segments.due_segments(session=session, workspace_id=workspace_id, now=now)
        ordered = segments.refresh_order(
            session=session, workspace_id=workspace_id, segment_ids=due
        )
    return [
        refresh_segment(runtime=runtime, workspace_id=workspace_id, segment_id=s, now=now)
        for s in ordered
    ]


def refresh_rule_tags(*, runtime: Runtime, workspace_id: str, now: datetime) -> TagChanges:
    """Recompute every rule tag from its definition (a group at a time)."""
    with runtime.sessions() as session:
        rule_tags = tags.rule_tags(session=session, workspace_id=workspace_id)
    by_group: dict[str, dict[str, list[str]]] = {}
    for tag in rule_tags:
        definition = CONDITION.validate_python(tag.rule)
        members = run_definition(
            runtime=runtime, workspace_id=workspace_id, definition=definition, now=now
        )
        by_group.setdefault(tag.group_id, {})[tag.id] = members
    total = TagChanges()
    with runtime.sessions() as session, session.begin():
        for group_id, members_by_tag in by_group.items():
            changes = tags.replace_rule_members(
                session=session,
                workspace_id=workspace_id,
                group=group_id,
                members=members_by_tag,
                now=now,
            )
            total = TagChanges(gained=total.gained + changes.gained, lost=total.lost + changes.lost)
    return total


def refresh_scheduled(*, runtime: Runtime, now: datetime) -> int:
    """What a server's background thread calls: due segments and rule tags of every
    workspace, then the due loyalty and referral jobs (each claimed once per period, so
    several servers may all call this); returns how many segments were refreshed."""
    with runtime.sessions() as session:
        ids = [w.id for w in workspaces.list_workspaces(session=session)]
    refreshed = 0
    try:
        for workspace_id in ids:
            refreshed += len(refresh_due(runtime=runtime, workspace_id=workspace_id, now=now))
            refresh_rule_tags(runtime=runtime, workspace_id=workspace_id, now=now)
    finally:  # a failing segment never holds up points expiry or payouts
        for run in run_jobs(runtime=runtime, now=now):
            if run.status in ("ran", "failed"):
                log.info("job %s %s for %s (%s): %s", run.job, run.status, run.workspace_id,
                         run.period, run.summary)  # fmt: skip
    return refreshed


def check_rule(
    *, runtime: Runtime, workspace_id: str, rule: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """A rule tag's definition validated, tag names resolved (stored form)."""
    try:
        definition = CONDITION.validate_python(rule)
    except ValidationError as exc:  # the rule is a free-form dict in the body: a 400, not a 500
        first = exc.errors()[0]
        field = ".".join(str(part) for part in ("rule", *first["loc"]))
        raise InvalidInputError(f"rule: {first['msg']}", field=field) from None
    with runtime.sessions() as session:
        checked = segments.check_definition(
            session=session, workspace_id=workspace_id, definition=definition, now=now
        )
    dumped: dict[str, Any] = CONDITION.dump_python(checked, mode="json")
    return dumped


def tag_from_csv(
    *, runtime: Runtime, workspace_id: str, tag: str, text: str, now: datetime, actor: str | None
) -> TagImportReport:
    """Give a manual tag to the persons a CSV of identifiers names (header ``type,value``);
    rows naming nobody are reported, not fatal."""
    import csv
    import io

    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in next(reader, [])]
    if header[:2] != ["type", "value"]:
        raise normalize.FieldError("file", "the header must be type,value")
    unresolved: list[TagImportRow] = []
    found: set[str] = set()
    rows = 0
    with runtime.sessions() as session, session.begin():
        target = tags.get_tag(session=session, workspace_id=workspace_id, tag=tag)
        for line, row in enumerate(reader, start=2):
            if not row or not any(cell.strip() for cell in row):
                continue
            rows += 1
            kind, value = [*row, "", ""][:2]
            person_id, reason = _person_of(
                runtime, session, workspace_id, kind.strip(), value.strip()
            )
            if person_id is None:
                unresolved.append(TagImportRow(line=line, type=kind, value=value, reason=reason))
            else:
                found.add(person_id)
        changes = (
            tags.apply_tag(
                session=session,
                workspace_id=workspace_id,
                tag=target.id,
                person_ids=sorted(found),
                now=now,
                actor=actor,
                reason="csv import",
            )
            if found
            else TagChanges()
        )
    return TagImportReport(
        rows=rows, persons=len(found), gained=changes.gained, unresolved=unresolved
    )


def _person_of(
    runtime: Runtime, session: Session, workspace_id: str, kind: str, value: str
) -> tuple[str | None, str]:
    try:
        id_type = IdType(kind)
    except ValueError:
        return None, f"unknown identifier type {kind!r}"
    try:
        key = normalize.make_identifier(runtime.vault, id_type, value, "value")
    except normalize.FieldError as exc:
        return None, exc.reason
    person_id = identity.find_person(session=session, workspace_id=workspace_id, identifier=key)
    if person_id is None:
        return None, "no person has this identifier"
    return identity.current_person_id(
        session=session, workspace_id=workspace_id, person_id=person_id
    ), ""

"""Saved segments: definitions checked and stored, members kept current with an entered/left
log (journeys trigger on it), pages of members and changes, and export rows.

Running a definition needs the event engine, which sits above this layer: the pipeline
compiles (:mod:`siyu.segments.compile`), fetches the relations (:mod:`.sources`), runs the SQL
and hands the member list to :func:`store_members`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from siyu.collect.models import PII_TYPES, IdType
from siyu.core.errors import ConflictError, InvalidInputError, NotFoundError
from siyu.core.ids import new_id
from siyu.identity.tables import identity_identifiers
from siyu.profiles import tags
from siyu.segments.compile import referenced_segments, to_sql, walk
from siyu.segments.dialects import Dialect
from siyu.segments.models import (
    CONDITION,
    Change,
    Condition,
    MemberChange,
    MemberChangesPage,
    MembersPage,
    RefreshResult,
    Segment,
    SegmentCreate,
    SegmentUpdate,
    Tag,
)
from siyu.segments.tables import segment_changes, segment_members, segments

MAX_PAGE = 10_000
_CHUNK = 5000


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _model(row: Row[Any]) -> Segment:
    return Segment.model_validate(dict(row._mapping))


def check_definition(
    *, session: Session, workspace_id: str, definition: Condition, now: datetime, own_id: str = ""
) -> Condition:
    """The definition with tag names resolved to ids, after checking what it references.

    Raises:
        NotFoundError: a tag or segment it names does not exist.
        InvalidInputError: it would read itself (directly or through other segments), or a
            value does not fit its field.
    """
    raw = CONDITION.dump_python(definition, mode="json")
    resolved = CONDITION.validate_python(_resolve_tags(session, workspace_id, raw))
    _check_cycles(session, workspace_id, resolved, own_id)
    to_sql(resolved, Dialect.DUCKDB, now=now)  # values that do not fit their field
    return resolved


def _resolve_tags(session: Session, workspace_id: str, node: Any) -> Any:
    if isinstance(node, dict):
        if node.get("type") == "tag":
            found = tags.get_tag(session=session, workspace_id=workspace_id, tag=node["tag"])
            return {**node, "tag": found.id}
        return {k: _resolve_tags(session, workspace_id, v) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve_tags(session, workspace_id, v) for v in node]
    return node


def _check_cycles(session: Session, workspace_id: str, definition: Condition, own_id: str) -> None:
    seen: set[str] = set()
    todo = list(referenced_segments(definition))
    while todo:
        segment_id = todo.pop()
        if own_id and segment_id == own_id:
            raise InvalidInputError("a segment cannot contain itself", field="definition")
        if segment_id in seen:
            continue
        seen.add(segment_id)
        todo += referenced_segments(
            get_segment(
                session=session, workspace_id=workspace_id, segment_id=segment_id
            ).definition
        )


def create_segment(
    *, session: Session, workspace_id: str, segment: SegmentCreate, now: datetime
) -> Segment:
    """Save a segment (members are empty until its first refresh).

    Raises:
        ConflictError: a segment of that name exists.
        NotFoundError / InvalidInputError: see :func:`check_definition`.
    """
    definition = check_definition(
        session=session, workspace_id=workspace_id, definition=segment.definition, now=now
    )
    _name_free(session, workspace_id, segment.name)
    segment_id = new_id("seg")
    session.execute(
        insert(segments).values(
            id=segment_id,
            workspace_id=workspace_id,
            name=segment.name.strip(),
            description=segment.description,
            definition=CONDITION.dump_python(definition, mode="json"),
            refresh_minutes=segment.refresh_minutes,
            members=0,
            created_at=now,
            updated_at=now,
        )
    )
    return get_segment(session=session, workspace_id=workspace_id, segment_id=segment_id)


def _name_free(session: Session, workspace_id: str, name: str) -> None:
    s = segments.c
    taken = session.execute(
        select(s.id).where(s.workspace_id == workspace_id, s.name == name.strip())
    ).first()
    if taken is not None:
        raise ConflictError(f"a segment named {name.strip()!r} exists", field="name")


def get_segment(*, session: Session, workspace_id: str, segment_id: str) -> Segment:
    """A saved segment by id (or by name).

    Raises:
        NotFoundError: no such segment.
    """
    s = segments.c
    row = session.execute(
        select(segments).where(
            s.workspace_id == workspace_id, (s.id == segment_id) | (s.name == segment_id)
        )
    ).first()
    if row is None:
        raise NotFoundError(f"no segment {segment_id!r}", field="segment_id")
    return _model(row)


def list_segments(*, session: Session, workspace_id: str) -> list[Segment]:
    """The workspace's segments, oldest first."""
    s = segments.c
    rows = session.execute(
        select(segments).where(s.workspace_id == workspace_id).order_by(s.created_at, s.id)
    )
    return [_model(row) for row in rows]


def update_segment(
    *, session: Session, workspace_id: str, segment_id: str, changes: SegmentUpdate, now: datetime
) -> Segment:
    """Rename, describe, reschedule or redefine a segment; a new definition applies at the next
    refresh."""
    current = get_segment(session=session, workspace_id=workspace_id, segment_id=segment_id)
    values: dict[str, Any] = {"updated_at": now}
    if changes.name is not None and changes.name.strip() != current.name:
        _name_free(session, workspace_id, changes.name)
        values["name"] = changes.name.strip()
    if changes.definition is not None:
        definition = check_definition(
            session=session,
            workspace_id=workspace_id,
            definition=changes.definition,
            now=now,
            own_id=current.id,
        )
        values["definition"] = CONDITION.dump_python(definition, mode="json")
    for key in ("description", "refresh_minutes"):
        if getattr(changes, key) is not None:
            values[key] = getattr(changes, key)
    session.execute(update(segments).where(segments.c.id == current.id).values(**values))
    return get_segment(session=session, workspace_id=workspace_id, segment_id=current.id)


def delete_segment(*, session: Session, workspace_id: str, segment_id: str) -> None:
    """Delete a segment that no other segment reads.

    Raises:
        ConflictError: another segment contains it.
    """
    current = get_segment(session=session, workspace_id=workspace_id, segment_id=segment_id)
    for other in list_segments(session=session, workspace_id=workspace_id):
        if current.id in referenced_segments(other.definition):
            raise ConflictError(f"segment {other.name!r} contains it", field="segment_id")
    for table in (segment_members, segment_changes):
        session.execute(
            delete(table).where(
                table.c.workspace_id == workspace_id, table.c.segment_id == current.id
            )
        )
    session.execute(delete(segments).where(segments.c.id == current.id))


def refresh_order(
    *, session: Session, workspace_id: str, segment_ids: Collection[str]
) -> list[str]:
    """``segment_ids`` with the segments they read first (so a refresh sees fresh members)."""
    ordered: list[str] = []

    def visit(segment_id: str) -> None:
        if segment_id in ordered:
            return
        found = get_segment(session=session, workspace_id=workspace_id, segment_id=segment_id)
        for dependency in sorted(referenced_segments(found.definition)):
            visit(dependency)
        ordered.append(found.id)

    for segment_id in segment_ids:
        visit(segment_id)
    return ordered


def due_segments(*, session: Session, workspace_id: str, now: datetime) -> list[str]:
    """Scheduled segments whose interval has passed since their last refresh."""
    return [
        s.id
        for s in list_segments(session=session, workspace_id=workspace_id)
        if s.refresh_minutes is not None
        and (s.refreshed_at is None or s.refreshed_at + timedelta(minutes=s.refresh_minutes) <= now)
    ]


def store_members(
    *,
    session: Session,
    workspace_id: str,
    segment_id: str,
    person_ids: Collection[str],
    now: datetime,
) -> RefreshResult:
    """Make ``person_ids`` the segment's members; log who entered and who left.

    Args:
        session: an open session; the caller commits.
        workspace_id: the workspace.
        segment_id: the segment.
        person_ids: every member now (surviving persons).
        now: time of the refresh.
    """
    current = get_segment(session=session, workspace_id=workspace_id, segment_id=segment_id)
    m = segment_members.c
    held = set(
        session.execute(
            select(m.person_id).where(m.workspace_id == workspace_id, m.segment_id == current.id)
        ).scalars()
    )
    wanted = set(person_ids)
    entered, left = sorted(wanted - held), sorted(held - wanted)
    for part in _chunks(entered):
        session.execute(
            insert(segment_members),
            [
                {
                    "workspace_id": workspace_id,
                    "segment_id": current.id,
                    "person_id": p,
                    "entered_at": now,
                }
                for p in part
            ],
        )
    gone = delete(segment_members).where(
        and_(
            m.workspace_id == workspace_id,
            m.segment_id == current.id,
            m.person_id == bindparam("p"),
        )
    )
    for part in _chunks(left):
        session.connection().execute(gone, [{"p": p} for p in part])
    log = [(p, Change.ENTERED) for p in entered] + [(p, Change.LEFT) for p in left]
    for part in _chunks(log):
        session.execute(
            insert(segment_changes),
            [
                {
                    "workspace_id": workspace_id,
                    "segment_id": current.id,
                    "person_id": p,
                    "change": c.value,
                    "at": now,
                }
                for p, c in part
            ],
        )
    session.execute(
        update(segments)
        .where(segments.c.id == current.id)
        .values(members=len(wanted), refreshed_at=now)
    )
    return RefreshResult(
        segment_id=current.id,
        members=len(wanted),
        entered=len(entered),
        left=len(left),
        refreshed_at=now,
    )


def members_page(
    *,
    session: Session,
    workspace_id: str,
    segment_id: str,
    after: str | None = None,
    limit: int = 1000,
) -> MembersPage:
    """Members in person id order, from after ``after``."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInputError(f"limit must be 1–{MAX_PAGE}", field="limit")
    current = get_segment(session=session, workspace_id=workspace_id, segment_id=segment_id)
    m = segment_members.c
    query = select(m.person_id).where(m.workspace_id == workspace_id, m.segment_id == current.id)
    if after:
        query = query.where(m.person_id > after)
    items = list(session.execute(query.order_by(m.person_id).limit(limit)).scalars())
    return MembersPage(
        items=items, total=current.members, next_after=items[-1] if len(items) == limit else None
    )


def changes_page(
    *,
    session: Session,
    workspace_id: str,
    segment_id: str | None = None,
    after: int = 0,
    limit: int = 1000,
) -> MemberChangesPage:
    """Entered/left changes in id order (of one segment, or of all), from after ``after``."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInputError(f"limit must be 1–{MAX_PAGE}", field="limit")
    c = segment_changes.c
    query = select(segment_changes).where(c.workspace_id == workspace_id, c.id > after)
    if segment_id is not None:
        current = get_segment(session=session, workspace_id=workspace_id, segment_id=segment_id)
        query = query.where(c.segment_id == current.id)
    rows = session.execute(query.order_by(c.id).limit(limit)).all()
    items = [MemberChange.model_validate(dict(row._mapping)) for row in rows]
    return MemberChangesPage(items=items, next_after=items[-1].id if len(items) == limit else None)


def _mask(value: str) -> str:
    if len(value) <= 4:
        return "*" * len(value)
    return f"{value[:3]}****{value[-2:]}"


def export_rows(
    *, session: Session, workspace_id: str, segment_id: str, id_types: Sequence[IdType], clear: bool
) -> Iterator[list[str]]:
    """CSV rows of the members: a header, then person_id and each chosen identifier type.

    Phone and email are always masked (siyu holds them only encrypted); other identifiers are
    masked unless ``clear``. Several identifiers of one type are joined with ``|``.
    """
    current = get_segment(session=session, workspace_id=workspace_id, segment_id=segment_id)
    yield ["person_id", *(t.value for t in id_types)]
    after: str | None = None
    while True:
        page = members_page(
            session=session,
            workspace_id=workspace_id,
            segment_id=current.id,
            after=after,
            limit=MAX_PAGE,
        )
        found = _identifiers(session, workspace_id, page.items, id_types)
        for person_id in page.items:
            row = [person_id]
            for kind in id_types:
                values = found.get((person_id, kind.value), [])
                shown = [
                    v if (clear and kind not in PII_TYPES) else m or _mask(v) for v, m in values
                ]
                row.append("|".join(shown))
            yield row
        if page.next_after is None:
            return
        after = page.next_after


def _identifiers(
    session: Session, workspace_id: str, person_ids: Sequence[str], id_types: Sequence[IdType]
) -> dict[tuple[str, str], list[tuple[str, str | None]]]:
    found: dict[tuple[str, str], list[tuple[str, str | None]]] = {}
    if not id_types:
        return found
    i = identity_identifiers.c
    for part in _chunks(person_ids, 1000):
        rows = session.execute(
            select(i.person_id, i.id_type, i.key, i.masked)
            .where(
                i.workspace_id == workspace_id,
                i.person_id.in_(part),
                i.id_type.in_([t.value for t in id_types]),
            )
            .order_by(i.person_id, i.id_type, i.first_seen, i.key)
        )
        for row in rows:
            found.setdefault((row.person_id, row.id_type), []).append((row.key, row.masked))
    return found


def uses_tags(definition: Condition) -> bool:
    """Whether a definition reads tags."""
    return any(isinstance(node, Tag) for node in walk(definition))


def count_members(*, session: Session, workspace_id: str, segment_id: str) -> int:
    """Members now (a count over the members table)."""
    m = segment_members.c
    return int(
        session.execute(
            select(func.count()).where(m.workspace_id == workspace_id, m.segment_id == segment_id)
        ).scalar_one()
    )

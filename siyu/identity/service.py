"""OneID: resolve messages to persons, look persons up, split wrong merges, edit merge rules."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import orjson
from sqlalchemy import Row, and_, delete, func, insert, or_, select
from sqlalchemy.orm import Session

from siyu.collect.models import Identifier, IdType
from siyu.core.errors import InvalidInputError, NotFoundError
from siyu.core.ids import new_id
from siyu.identity import batch_store, replay, store
from siyu.identity import split as splitting
from siyu.identity.models import (
    ConflictsPage,
    IdentifierRef,
    IdentifierView,
    IdentityConflict,
    IdentityRule,
    IdentityRules,
    PersonMerge,
    RebuildReport,
    SplitResult,
)
from siyu.identity.rebuild import rebuild_labels
from siyu.identity.resolve import Graph, IdRef, resolve_links
from siyu.identity.rules import Rule, ordered_types, validate_rules
from siyu.identity.tables import (
    identity_conflicts,
    identity_identifiers,
    identity_merges,
    identity_persons,
    identity_rules,
)
from siyu.workspaces import service as workspaces

MAX_PAGE = 500
_TYPE_NAMES = {t: t.value for t in IdType}  # a dict look-up is cheaper than Enum.value


def resolve_batch(
    *,
    session: Session,
    workspace_id: str,
    links: Sequence[Sequence[Identifier]],
    message_ids: Sequence[str],
    now: datetime,
) -> list[str]:
    """Resolve a batch of links (the identifiers of one message each) to person ids, in order.

    New identifiers are attached, persons merged within the workspace's limits, refused merges
    recorded as conflicts, and the links stored for :func:`rebuild` — all but the no-ops (see
    :attr:`siyu.identity.resolve.Outcome.effective`): a batch of known persons' messages writes
    nothing. Reads every identifier of the batch in one or a few SELECTs, then only the persons
    the batch may change, and writes in bulk; the caller commits.

    Args:
        session: an open session inside a transaction.
        workspace_id: the workspace the messages belong to.
        links: per message its identifiers (at least one each).
        message_ids: per message its id, same length as ``links``.
        now: ingest time (aware UTC).

    Returns:
        The person id of each link, as it stands at the end of the batch.
    """
    if len(links) != len(message_ids):
        raise InvalidInputError("links and message_ids differ in length", field="message_ids")
    refs, details = _link_refs(links)
    if not refs:
        return []
    store.lock_workspace(session, workspace_id)
    owners = batch_store.load_owners(session, workspace_id, details)
    settled, involved = _settled(refs, owners)
    if settled:  # the steady state: known persons sending more messages; nothing to write
        return [owners[link[0]] for link in refs]
    rules = store.load_rules(session, workspace_id)
    first_seq, next_rank = store.next_numbers(session, workspace_id)
    graph = Graph(
        owner=owners,
        persons=batch_store.load_persons(session, workspace_id, involved),
        next_rank=next_rank,
    )
    outcome = resolve_links(graph, refs, rules, mint=lambda: new_id("p"))
    batch_store.write_outcome(
        session,
        workspace_id=workspace_id,
        graph=graph,
        outcome=outcome,
        links=refs,
        message_ids=message_ids,
        details=details,
        first_seq=first_seq,
        now=now,
    )
    return [graph.root(pid) for pid in outcome.person_of_link]


def _link_refs(
    links: Sequence[Sequence[Identifier]],
) -> tuple[list[list[IdRef]], dict[IdRef, Identifier]]:
    refs: list[list[IdRef]] = []
    details: dict[IdRef, Identifier] = {}
    for i, link in enumerate(links):
        if not link:
            raise InvalidInputError("a link needs at least one identifier", field=f"links[{i}]")
        row: list[IdRef] = []
        for ident in link:
            ref: IdRef = (_TYPE_NAMES[ident.type], ident.key)
            if ref not in details:
                details[ref] = ident
            row.append(ref)
        refs.append(row if len(row) == 1 or len(set(row)) == len(row) else list(dict.fromkeys(row)))
    return refs, details


def _settled(refs: Sequence[Sequence[IdRef]], owners: dict[IdRef, str]) -> tuple[bool, set[str]]:
    """Whether every link is already held by one person; the persons of the others.

    A link whose identifiers one stored person holds stays held by it (or its survivor)
    through the batch, since persons only grow: the resolver settles it without reading any
    person, so only the persons of the other links are loaded.
    """
    involved: set[str] = set()
    settled = True
    get = owners.get
    for link in refs:
        first = get(link[0])
        if first is not None:
            for ref in link:
                if get(ref) != first:
                    break
            else:
                continue
        settled = False
        involved.update(pid for ref in link if (pid := get(ref)) is not None)
    return settled, involved


def find_person(*, session: Session, workspace_id: str, identifier: Identifier) -> str | None:
    """The person holding ``identifier`` now, or None if it was never seen."""
    ids = identity_identifiers.c
    return session.execute(
        select(ids.person_id).where(
            ids.workspace_id == workspace_id,
            ids.key == identifier.key,
            ids.id_type == identifier.type.value,
        )
    ).scalar_one_or_none()


LOOKUP_CHUNK = 500  # identifiers per IN list: far under every driver's parameter limit


def find_persons(
    *, session: Session, workspace_id: str, identifiers: Sequence[Identifier]
) -> dict[Identifier, str]:
    """The persons holding ``identifiers`` now, in one query per type and 500 keys; an
    identifier never seen is absent from the answer."""
    ids = identity_identifiers.c
    keys_by_type: dict[IdType, list[str]] = {}
    for identifier in dict.fromkeys(identifiers):
        keys_by_type.setdefault(identifier.type, []).append(identifier.key)
    found: dict[Identifier, str] = {}
    for id_type, keys in keys_by_type.items():
        for start in range(0, len(keys), LOOKUP_CHUNK):
            rows = session.execute(
                select(ids.key, ids.person_id).where(
                    ids.workspace_id == workspace_id,
                    ids.id_type == id_type.value,
                    ids.key.in_(keys[start : start + LOOKUP_CHUNK]),
                )
            )
            found.update((Identifier(id_type, r.key), r.person_id) for r in rows)
    return found


def current_person_id(*, session: Session, workspace_id: str, person_id: str) -> str:
    """The surviving person ``person_id`` was merged into, or ``person_id`` itself if alive.

    Raises:
        NotFoundError: no such person in the workspace.
    """
    ps = identity_persons.c
    row = session.execute(
        select(ps.survivor_id).where(ps.workspace_id == workspace_id, ps.id == person_id)
    ).first()
    if row is None:
        raise NotFoundError(f"no person {person_id}", field="person_id")
    return row.survivor_id or person_id


def person_ids_of(*, session: Session, workspace_id: str, person_id: str) -> list[str]:
    """The surviving person of ``person_id`` first, then every person it absorbed (transitively).

    Events carry the person id of their ingest; selecting events of all these ids gives the
    events of the person as it is now.
    """
    root = current_person_id(session=session, workspace_id=workspace_id, person_id=person_id)
    ps = identity_persons.c
    absorbed = session.execute(
        select(ps.id)
        .where(ps.workspace_id == workspace_id, ps.survivor_id == root)
        .order_by(ps.rank)
    ).scalars()
    return [root, *absorbed]


def identifiers_of(*, session: Session, workspace_id: str, person_id: str) -> list[IdentifierView]:
    """The identifiers the (surviving) person holds, oldest first; PII only masked."""
    root = current_person_id(session=session, workspace_id=workspace_id, person_id=person_id)
    ids = identity_identifiers.c
    rows = session.execute(
        select(ids.id_type, ids.key, ids.masked, ids.first_seen, ids.origin_person_id)
        .where(ids.workspace_id == workspace_id, ids.person_id == root)
        .order_by(ids.first_seen, ids.id_type, ids.key)
    ).all()
    return [
        IdentifierView(
            type=IdType(r.id_type),
            key=r.key,
            masked=r.masked,
            first_seen=r.first_seen,
            introduced_by=r.origin_person_id,
        )
        for r in rows
    ]


def merge_history(*, session: Session, workspace_id: str, person_id: str) -> list[PersonMerge]:
    """Every merge (and its split, if any) among the persons that make up ``person_id`` now."""
    lineage = person_ids_of(session=session, workspace_id=workspace_id, person_id=person_id)
    ms = identity_merges.c
    rows: list[Row[tuple[object, ...]]] = []
    for part in store.chunked(lineage):
        rows += session.execute(
            select(identity_merges).where(
                ms.workspace_id == workspace_id,
                or_(ms.survivor_id.in_(part), ms.absorbed_id.in_(part)),
            )
        ).all()
    unique = {r.id: r for r in rows}
    return [PersonMerge.model_validate(unique[k]._mapping) for k in sorted(unique)]


def list_conflicts(
    *, session: Session, workspace_id: str, limit: int = 50, offset: int = 0
) -> ConflictsPage:
    """Refused merges of the workspace, newest first."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInputError(f"limit must be 1–{MAX_PAGE}", field="limit")
    if offset < 0:
        raise InvalidInputError("offset must be ≥ 0", field="offset")
    cs = identity_conflicts.c
    total = session.execute(
        select(func.count()).select_from(identity_conflicts).where(cs.workspace_id == workspace_id)
    ).scalar_one()
    rows = session.execute(
        select(identity_conflicts)
        .where(cs.workspace_id == workspace_id)
        .order_by(cs.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return ConflictsPage(
        items=[_conflict(r) for r in rows], total=total, limit=limit, offset=offset
    )


def shared_identifiers(
    *, session: Session, workspace_id: str, person_id: str, other_person_id: str
) -> list[IdentifierRef]:
    """Identifiers on the refused merges (conflicts) between two persons, whatever their age.

    When a device or phone seen on one person arrives with another's account id, OneID keeps
    them apart and records a conflict: the two share that identifier all the same. Each side
    counts every id merged into it; oldest first, each identifier once. Indexed by person.
    """
    ours = person_ids_of(session=session, workspace_id=workspace_id, person_id=person_id)
    theirs = person_ids_of(session=session, workspace_id=workspace_id, person_id=other_person_id)
    cs = identity_conflicts.c
    rows = session.execute(
        select(cs.identifiers)
        .where(
            cs.workspace_id == workspace_id,
            or_(
                and_(cs.person_id.in_(ours), cs.other_person_id.in_(theirs)),
                and_(cs.person_id.in_(theirs), cs.other_person_id.in_(ours)),
            ),
        )
        .order_by(cs.id)
    ).scalars()
    seen: dict[tuple[str, str], IdentifierRef] = {}
    for pairs in rows:
        for kind, key in orjson.loads(str(pairs)):
            seen.setdefault((kind, key), IdentifierRef(type=IdType(kind), key=key))
    return list(seen.values())


def _conflict(row: Row[tuple[object, ...]]) -> IdentityConflict:
    pairs = orjson.loads(str(row.identifiers))
    return IdentityConflict(
        id=int(str(row.id)),
        person_id=str(row.person_id),
        other_person_id=str(row.other_person_id),
        id_type=IdType(str(row.id_type)),
        identifiers=[IdentifierRef(type=IdType(t), key=k) for t, k in pairs],
        message_id=None if row.message_id is None else str(row.message_id),
        reason=str(row.reason),
        created_at=row.created_at,
    )


def get_rules(*, session: Session, workspace_id: str) -> IdentityRules:
    """The workspace's merge rules (defaults where not set), strongest type first."""
    rules = store.load_rules(session, workspace_id)
    return _rules_model(workspace_id, rules)


def set_rules(
    *, session: Session, workspace_id: str, rules: Sequence[IdentityRule], now: datetime
) -> IdentityRules:
    """Change some types' rules; the whole set must stay valid (distinct priorities, limits ≥ 1).

    New rules apply to later batches; run :func:`rebuild` to apply them to the past.

    Raises:
        NotFoundError: no such workspace.
        InvalidInputError: a type given twice, a priority reused, a limit out of range.
    """
    workspaces.get_workspace(session=session, workspace_id=workspace_id)
    merged = store.load_rules(session, workspace_id)
    seen: set[str] = set()
    for rule in rules:
        if rule.id_type.value in seen:
            raise InvalidInputError("type given twice", field=f"rules.{rule.id_type.value}")
        seen.add(rule.id_type.value)
        merged[rule.id_type.value] = Rule(rule.priority, rule.limit)
    valid = validate_rules(merged)
    session.execute(delete(identity_rules).where(identity_rules.c.workspace_id == workspace_id))
    session.execute(
        insert(identity_rules),
        [
            {"workspace_id": workspace_id, "id_type": name, "priority": rule.priority,
             "max_per_person": rule.limit, "updated_at": now}
            for name, rule in valid.items()
        ],
    )  # fmt: skip
    return _rules_model(workspace_id, valid)


def _rules_model(workspace_id: str, rules: dict[str, Rule]) -> IdentityRules:
    return IdentityRules(
        workspace_id=workspace_id,
        rules=[
            IdentityRule(
                id_type=IdType(name), priority=rules[name].priority, limit=rules[name].limit
            )
            for name in ordered_types(rules)
        ],
    )


def split_person(
    *,
    session: Session,
    workspace_id: str,
    person_id: str,
    absorbed_person_id: str,
    now: datetime,
    reason: str,
) -> SplitResult:
    """Undo a wrong merge: restore ``absorbed_person_id`` with the identifiers it brought.

    The restored person takes back every identifier first introduced by it or by a person it
    had itself absorbed; the merge is marked split; and a block keeps later links from merging
    the two again (they record a conflict instead). Events keep their ingest person id: the
    caller re-attributes the events of the moved identifiers.

    Args:
        session: an open session; the caller commits.
        workspace_id: the workspace.
        person_id: the person holding the wrong merge (or any person merged into it).
        absorbed_person_id: a person it absorbed, directly or not.
        now: time of the split (aware UTC).
        reason: why, for the history (required).

    Raises:
        NotFoundError: no such person.
        InvalidInputError: empty reason, or ``absorbed_person_id`` is not absorbed by the person.
    """
    if not reason.strip():
        raise InvalidInputError("a reason is required", field="reason")
    store.lock_workspace(session, workspace_id)
    lineage = person_ids_of(session=session, workspace_id=workspace_id, person_id=person_id)
    return splitting.split(
        session,
        workspace_id=workspace_id,
        root=lineage[0],
        lineage=lineage,
        absorbed_person_id=absorbed_person_id,
        now=now,
        reason=reason.strip(),
    )


def rebuild(
    *,
    session: Session,
    workspace_id: str,
    now: datetime,
    progress: replay.Progress | None = None,
) -> RebuildReport:
    """Recompute every person from all stored links under the current rules and blocks.

    Each rebuilt person keeps the id that most of its identifiers had; persons that no longer
    hold anything are recorded as merged (reason ``rebuild``). With unchanged rules and no
    splits the result equals the incremental one, ids included. Links that found all their
    identifiers with one person were never stored, so under changed rules the past is replayed
    without them: identifiers only they connected may end apart.

    Args:
        session: an open session; the caller commits.
        workspace_id: the workspace.
        now: time of the rebuild (aware UTC).
        progress: called as ``progress(stage, done, total)``.
    """
    store.lock_workspace(session, workspace_id)
    rules = store.load_rules(session, workspace_id)
    names = list(rules)
    graph = replay.load(session, workspace_id, names, progress)
    result = rebuild_labels(
        link_ptr=graph.link_ptr,
        members=graph.members,
        node_type=graph.node_type,
        type_names=names,
        rules=rules,
        blocks=graph.blocks,
    )
    assignment = replay.assign_ids(graph, result)
    moved = replay.write(
        session, workspace_id=workspace_id, graph=graph, assignment=assignment, now=now
    )
    if progress is not None:
        progress("write", 1, 1)
    return RebuildReport(
        links=int(graph.link_ptr.size - 1),
        identifiers=len(graph.keys),
        persons=len(set(assignment.person_of_node)),
        slow_components=result.slow_components,
        slow_links=result.slow_links,
        persons_new=len(assignment.new_persons),
        persons_retired=len(assignment.retired),
        identifiers_moved=moved,
    )


def person_map(*, session: Session, workspace_id: str) -> list[tuple[str, str]]:
    """Every absorbed person with its current survivor, as (person_id, survivor_id) pairs.

    Analytics joins events (which keep the person of their ingest) to this small map so a
    merged customer counts once, without a join to the identity tables on the hot path.
    """
    ps = identity_persons.c
    rows = session.execute(
        select(ps.id, ps.survivor_id).where(
            ps.workspace_id == workspace_id, ps.survivor_id.is_not(None), ps.survivor_id != ps.id
        )
    ).all()
    return [(row.id, row.survivor_id) for row in rows]

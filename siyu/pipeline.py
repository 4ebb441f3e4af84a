"""The one place where the stages are chained: collect → identity → profiles → inbox → events.

Each function reads like a recipe; the stages themselves live in their domains.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from siyu.collect import normalize
from siyu.collect import service as collect
from siyu.collect.models import CollectedEvent, IdType, IngestResult, MessageType
from siyu.core.errors import ConflictError, NotFoundError, SiyuError
from siyu.core.ids import new_id
from siyu.core.runtime import Runtime
from siyu.identity import service as identity
from siyu.identity.models import (
    ConflictsPage,
    IdentifierView,
    IdentityRule,
    IdentityRules,
    SplitResult,
)
from siyu.loyalty import coupon_service, membership, points
from siyu.loyalty.tier_models import GrowthCreate, MemberEnrol
from siyu.loyalty.tier_tables import members
from siyu.profiles import service as profiles
from siyu.profiles import tags
from siyu.profiles.models import Profile
from siyu.profiles.tag_models import TagChanges, TagImportReport, TagImportRow
from siyu.referral import livecodes
from siyu.referral import service as referral
from siyu.referral.models import (
    ReferralCreate,
    ReferralResult,
    Refusal,
    RewardAction,
    RewardFailure,
    RewardPayout,
    ScanCreate,
    ScanResult,
)
from siyu.segments import service as segments
from siyu.segments import sources
from siyu.segments.compile import to_sql
from siyu.segments.models import CONDITION, Condition, Preview, RefreshResult
from siyu.workspaces import service as workspaces


def ingest_events(
    *, session: Session, workspace_id: str, events: Sequence[CollectedEvent], now: datetime
) -> int:
    """Dedupe, resolve, profile and durably enqueue parsed events in the caller's transaction.

    Returns how many were new (the rest were duplicates of earlier message ids).
    """
    return ingest_many(session=session, workspace_id=workspace_id, batches=[events], now=now)[0]


def ingest_many(
    *,
    session: Session,
    workspace_id: str,
    batches: Sequence[Sequence[CollectedEvent]],
    now: datetime,
) -> list[int]:
    """:func:`ingest_events` for several batches at once; how many were new in each.

    Batches are deduped in order (a message id in two batches counts for the first), then
    resolved, profiled and enqueued together: one pass of each stage for all of them.
    """
    fresh_by_batch = [
        collect.claim_new(session=session, workspace_id=workspace_id, events=batch, now=now)
        for batch in batches
    ]
    fresh = [event for batch in fresh_by_batch for event in batch]
    if fresh:
        person_ids = identity.resolve_batch(
            session=session,
            workspace_id=workspace_id,
            links=[event.identifiers for event in fresh],
            message_ids=[event.message_id for event in fresh],
            now=now,
        )
        profiles.apply_events(
            session=session, workspace_id=workspace_id, events=fresh, person_ids=person_ids, now=now
        )
        apply_loyalty(
            session=session, workspace_id=workspace_id, events=fresh, person_ids=person_ids, now=now
        )
        collect.enqueue(
            session=session, workspace_id=workspace_id, events=fresh, person_ids=person_ids, now=now
        )
    return [len(batch) for batch in fresh_by_batch]


@dataclass
class _Pending:
    workspace_id: str
    events: list[CollectedEvent]
    received_at: datetime
    done: Future[int] = field(default_factory=Future)


class GroupCommitter:
    """Commits batches from concurrent requests together, in one writer thread.

    Each request waits for the transaction that holds its batch: a 2xx still means
    committed, but many requests share one transaction, one pass of each stage and one WAL
    sync. If a shared transaction fails, its batches are retried one by one so only the
    bad one fails.
    """

    def __init__(self, runtime: Runtime, *, max_events: int = 10_000) -> None:
        self.runtime = runtime
        self.max_events = max_events
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="siyu-writer", daemon=True)
        self._thread.start()

    def submit(
        self, *, workspace_id: str, events: list[CollectedEvent], received_at: datetime
    ) -> Future[int]:
        """Queue a parsed batch; the future gives how many of its events were new."""
        pending = _Pending(workspace_id, events, received_at)
        self._queue.put(pending)
        return pending.done

    def close(self) -> None:
        """Commit what is queued, then stop the writer."""
        self._queue.put(None)
        self._thread.join(timeout=60)

    def _run(self) -> None:
        while (first := self._queue.get()) is not None:
            group, size = [first], len(first.events)
            stop = False
            while size < self.max_events:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                group.append(item)
                size += len(item.events)
            self._commit(group)
            if stop:
                return

    def _commit(self, group: list[_Pending]) -> None:
        try:
            with self.runtime.sessions() as session, session.begin():
                counts = self._ingest_group(session, group)
        except Exception as exc:
            if len(group) == 1:
                group[0].done.set_exception(exc)
                return
            for item in group:
                self._commit([item])
            return
        for item, count in zip(group, counts, strict=True):
            item.done.set_result(count)

    @staticmethod
    def _ingest_group(session: Session, group: list[_Pending]) -> list[int]:
        counts: dict[int, int] = {}
        for workspace_id in dict.fromkeys(item.workspace_id for item in group):
            mine = [i for i, item in enumerate(group) if item.workspace_id == workspace_id]
            now = max(group[i].received_at for i in mine)
            new = ingest_many(
                session=session,
                workspace_id=workspace_id,
                batches=[group[i].events for i in mine],
                now=now,
            )
            counts.update(zip(mine, new, strict=True))
        return [counts[i] for i in range(len(group))]


def ingest(
    *,
    runtime: Runtime,
    workspace_id: str,
    messages: list[Any],
    received_at: datetime,
    batch_sent_at: datetime | None = None,
    forced_type: MessageType | None = None,
    prefix: str = "batch[{index}]",
    committer: GroupCommitter | None = None,
) -> IngestResult:
    """Validate raw Segment-spec messages and ingest the good ones in one transaction.

    With a ``committer`` the transaction is shared with concurrent callers. When this
    returns, every accepted message is committed (a 2xx may be sent).
    """
    events, rejected = normalize.parse_batch(
        messages,
        vault=runtime.vault,
        received_at=received_at,
        batch_sent_at=batch_sent_at,
        forced_type=forced_type,
        prefix=prefix,
    )
    if committer is not None:
        submitted = committer.submit(
            workspace_id=workspace_id, events=events, received_at=received_at
        )
        accepted = submitted.result()
    else:
        with runtime.sessions() as session, session.begin():
            accepted = ingest_events(
                session=session, workspace_id=workspace_id, events=events, now=received_at
            )
    return IngestResult(accepted=accepted, duplicates=len(events) - accepted, rejected=rejected)


def flush(*, runtime: Runtime) -> int:
    """Move everything waiting in the inbox to the event store."""
    return collect.flush_all(factory=runtime.sessions, store=runtime.events)


class PersonView(BaseModel):
    """A person as the management API shows it: profile, identifiers, merged ids."""

    person_id: str
    merged_person_ids: list[str] = Field(description="Persons this one absorbed (history).")
    identifiers: list[IdentifierView]
    profile: Profile | None = Field(description="Traits and computed traits, if any event.")


def get_person(*, runtime: Runtime, workspace_id: str, person_id: str) -> PersonView:
    """The person ``person_id`` (an absorbed id answers with its survivor)."""
    with runtime.sessions() as session:
        current = identity.current_person_id(
            session=session, workspace_id=workspace_id, person_id=person_id
        )
        members = identity.person_ids_of(
            session=session, workspace_id=workspace_id, person_id=current
        )
        ids = identity.identifiers_of(session=session, workspace_id=workspace_id, person_id=current)
        try:
            profile: Profile | None = profiles.get_profile(
                session=session,
                workspace_id=workspace_id,
                person_id=current,
                member_person_ids=members,
            )
        except NotFoundError:
            profile = None
    return PersonView(
        person_id=current,
        merged_person_ids=[p for p in members if p != current],
        identifiers=ids,
        profile=profile,
    )


def find_person(
    *, runtime: Runtime, workspace_id: str, identifier_type: str, identifier: str
) -> PersonView:
    """The person holding an identifier given in clear (phone/email are hashed to look up)."""
    try:
        kind = IdType(identifier_type)
    except ValueError:
        allowed = ", ".join(t.value for t in IdType)
        raise normalize.FieldError("identifier_type", f"one of {allowed}") from None
    key = normalize.make_identifier(runtime.vault, kind, identifier, "identifier")
    with runtime.sessions() as session:
        person_id = identity.find_person(session=session, workspace_id=workspace_id, identifier=key)
    if person_id is None:
        raise NotFoundError(f"no person with {kind.value} {identifier!r}", field="identifier")
    return get_person(runtime=runtime, workspace_id=workspace_id, person_id=person_id)


def person_events(
    *, runtime: Runtime, workspace_id: str, person_id: str, limit: int, before: datetime | None
) -> list[dict[str, Any]]:
    """A person's events, newest first, across every person it absorbed (inbox included)."""
    with runtime.sessions() as session:
        current = identity.current_person_id(
            session=session, workspace_id=workspace_id, person_id=person_id
        )
        members = identity.person_ids_of(
            session=session, workspace_id=workspace_id, person_id=current
        )
        pending = collect.pending_events(
            session=session, workspace_id=workspace_id, person_ids=members
        )
    stored = runtime.events.query(
        workspace_id,
        "SELECT * FROM events WHERE person_id IN (SELECT unnest($members)) "
        "AND ($before IS NULL OR timestamp < $before) ORDER BY timestamp DESC LIMIT $limit",
        {"members": members, "before": before, "limit": limit},
    ).to_pylist()
    return merge_event_lists(stored, pending, limit=limit, before=before)


def merge_event_lists(
    stored: list[dict[str, Any]],
    pending: list[dict[str, Any]],
    *,
    limit: int,
    before: datetime | None,
) -> list[dict[str, Any]]:
    """Stored and still-pending rows as one newest-first list without duplicates."""
    seen = {row["message_id"] for row in stored}
    rows = stored + [row for row in pending if row["message_id"] not in seen]
    if before is not None:
        rows = [row for row in rows if row["timestamp"] < before]
    rows.sort(key=lambda row: row["timestamp"], reverse=True)
    return rows[:limit]


def split_person(
    *, runtime: Runtime, workspace_id: str, person_id: str, absorbed_person_id: str, now: datetime
) -> SplitResult:
    """Undo a wrong merge and give the split-off person back its events."""
    flush(runtime=runtime)
    with runtime.sessions() as session, session.begin():
        result = identity.split_person(
            session=session,
            workspace_id=workspace_id,
            person_id=person_id,
            absorbed_person_id=absorbed_person_id,
            now=now,
            reason="operator split",
        )
        rules = identity.get_rules(session=session, workspace_id=workspace_id)
    moves = {f"{ref.type.value}:{ref.key}": result.restored_person_id for ref in result.moved}
    ranks = {rule.id_type.value: rule.priority for rule in rules.rules}
    runtime.events.reattribute(workspace_id, result.person_id, moves, ranks)
    return result


def list_conflicts(
    *, runtime: Runtime, workspace_id: str, limit: int, offset: int
) -> ConflictsPage:
    """Merges refused by the workspace's rules, newest first."""
    with runtime.sessions() as session:
        return identity.list_conflicts(
            session=session, workspace_id=workspace_id, limit=limit, offset=offset
        )


def identity_rules(*, runtime: Runtime, workspace_id: str) -> IdentityRules:
    """The workspace's merge rules, strongest type first."""
    with runtime.sessions() as session:
        return identity.get_rules(session=session, workspace_id=workspace_id)


def change_identity_rules(
    *, runtime: Runtime, workspace_id: str, rules: Sequence[IdentityRule], now: datetime
) -> IdentityRules:
    """Change some types' merge rules (later batches use them; a rebuild applies them back)."""
    with runtime.sessions() as session, session.begin():
        return identity.set_rules(session=session, workspace_id=workspace_id, rules=rules, now=now)


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
        return segments.store_members(
            session=session,
            workspace_id=workspace_id,
            segment_id=found.id,
            person_ids=members,
            now=now,
        )


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
    workspace; returns how many segments were refreshed."""
    from siyu.workspaces import service as workspaces

    with runtime.sessions() as session:
        ids = [w.id for w in workspaces.list_workspaces(session=session)]
    refreshed = 0
    for workspace_id in ids:
        refreshed += len(refresh_due(runtime=runtime, workspace_id=workspace_id, now=now))
        refresh_rule_tags(runtime=runtime, workspace_id=workspace_id, now=now)
    return refreshed


def check_rule(
    *, runtime: Runtime, workspace_id: str, rule: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """A rule tag's definition validated, tag names resolved (stored form)."""
    definition = CONDITION.validate_python(rule)
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


# -- referral and acquisition (issue 4) -----------------------------------------------------


def _person_by_identifier(
    runtime: Runtime,
    workspace_id: str,
    identifier_type: str,
    identifier: str,
    *,
    now: datetime,
    event: str,
    context: dict[str, Any],
    properties: dict[str, Any],
    message_id: str,
) -> str:
    """Ingest one track event carrying the identifier, then the person holding it now.

    Going through the collect path makes a new person, and sets their first-touch channel
    from ``context.campaign`` like any other event; a retry with the same message id is
    deduplicated.
    """
    try:
        kind = IdType(identifier_type)
    except ValueError:
        allowed = ", ".join(t.value for t in IdType)
        raise normalize.FieldError("identifier_type", f"one of {allowed}") from None
    key = normalize.make_identifier(runtime.vault, kind, identifier, "identifier")
    external: dict[str, Any] = {"type": kind.value, "id": identifier}
    if kind in normalize.PER_APP_TYPES:
        appid, _, value = identifier.partition(":")
        if not value:
            raise normalize.FieldError("identifier", "give it as appid:openid")
        external = {"type": kind.value, "id": value, "collection": appid}
    message = {
        "type": "track",
        "event": event,
        "messageId": message_id,
        "anonymousId": f"idk_{key.key[:40]}",
        "timestamp": now.isoformat(),
        "context": {**context, "externalIds": [external]},
        "properties": properties,
    }
    result = ingest(runtime=runtime, workspace_id=workspace_id, messages=[message], received_at=now)
    if result.rejected:
        bad = result.rejected[0]
        raise normalize.FieldError("identifier", bad.reason)
    with runtime.sessions() as session:
        person_id = identity.find_person(session=session, workspace_id=workspace_id, identifier=key)
        if person_id is None:  # pragma: no cover - the event above made the person
            raise NotFoundError(f"no person with {kind.value}", field="identifier")
        return identity.current_person_id(
            session=session, workspace_id=workspace_id, person_id=person_id
        )


T = TypeVar("T")
_RACE_TRIES = 4


def _once_more_on_race(write: Callable[[], T]) -> T:
    """Run a keyed write; a concurrent twin that won on a unique key (same scan key, same
    invitee, same owner) makes the next try read the winner's row instead of failing. Each
    lost race commits a row the next try sees, so a few tries suffice."""
    for _ in range(_RACE_TRIES - 1):
        try:
            return write()
        except IntegrityError:
            continue  # the winner's row is committed now: the next try reads it
    return write()


def record_live_code_scan(
    *,
    runtime: Runtime,
    workspace_id: str,
    code_id: str,
    scan: ScanCreate,
    now: datetime,
    idempotency_key: str | None = None,
) -> ScanResult:
    """A scan of, or contact add through, a live code: ingest the event (first-touch channel
    and campaign from the code), then rotate to a staff member and credit the customer."""
    with runtime.sessions() as session:
        code = livecodes.get_live_code(session=session, workspace_id=workspace_id, code_id=code_id)
        zone = workspaces.get_workspace(session=session, workspace_id=workspace_id).timezone
    key = idempotency_key or new_id("lck")
    person_id = _person_by_identifier(
        runtime,
        workspace_id,
        scan.identifier_type,
        scan.identifier,
        now=now,
        event="Live Code Scanned" if scan.action == "scan" else "Live Code Contact Added",
        context={
            "campaign": {
                "source": code.channel,
                "medium": "live_code",
                "name": code.name,
                "content": code.scene,
            }
        },
        properties={"live_code_id": code.id, "scene": code.scene, "kind": code.kind.value},
        message_id=f"lc:{code.id}:{key}",
    )

    def write() -> ScanResult:
        with runtime.sessions() as session, session.begin():
            return livecodes.record_scan(
                session=session,
                workspace_id=workspace_id,
                code_id=code.id,
                person_id=person_id,
                action=scan.action,
                now=now,
                zone=zone,
                idempotency_key=key,
            )

    return _once_more_on_race(write)


def refer_person(
    *, runtime: Runtime, workspace_id: str, request: ReferralCreate, now: datetime
) -> ReferralResult:
    """An invitee arrives through an invite code: ingest a signup event, then record the
    referral (and its registration rewards) or store the refusal and raise ConflictError."""
    inviter_code = request.code.strip().upper()
    invitee = _person_by_identifier(
        runtime,
        workspace_id,
        request.identifier_type,
        request.identifier,
        now=now,
        event="Referral Accepted",
        context={"campaign": {"source": "referral", "medium": "invite", "content": inviter_code}},
        properties={"ref": inviter_code},
        message_id=f"ref:{inviter_code}:{request.identifier_type}:{request.identifier}",
    )

    def write() -> ReferralResult | Refusal:
        with runtime.sessions() as session, session.begin():
            return referral.refer(
                session=session,
                workspace_id=workspace_id,
                code=inviter_code,
                invitee_id=invitee,
                now=now,
            )

    outcome = _once_more_on_race(write)
    if isinstance(outcome, Refusal):
        raise ConflictError(
            f"referral refused: {outcome.detail}",
            field="identifier",
            reason=outcome.reason,
            refusal_id=outcome.id,
        )
    return outcome


def pending_referral_rewards(
    *, runtime: Runtime, workspace_id: str, now: datetime
) -> list[RewardAction]:
    """Settle first-order milestones from profiles, then the rewards still to hand to loyalty."""
    with runtime.sessions() as session, session.begin():
        referral.settle_first_orders(session=session, workspace_id=workspace_id, now=now)
        return referral.pending_rewards(session=session, workspace_id=workspace_id)


def _pay_reward(session: Session, workspace_id: str, reward: RewardAction, now: datetime) -> None:
    """One reward through loyalty; its idempotency key makes a retry pay nothing twice."""
    if reward.kind == "points":
        assert reward.amount is not None
        points.earn_points(
            session=session,
            workspace_id=workspace_id,
            person_id=reward.person_id,
            points=reward.amount,
            reason="referral",
            idempotency_key=reward.idempotency_key,
            now=now,
            source=f"referral:{reward.milestone.value}:{reward.role}",
        )
    else:
        assert reward.template is not None
        coupon_service.issue_coupon(
            session=session,
            workspace_id=workspace_id,
            template_id=reward.template,
            person_id=reward.person_id,
            now=now,
            idempotency_key=reward.idempotency_key,
            source="referral",
        )
    referral.mark_paid(
        session=session, workspace_id=workspace_id, idempotency_key=reward.idempotency_key, now=now
    )


def pay_referral_rewards(*, runtime: Runtime, workspace_id: str, now: datetime) -> RewardPayout:
    """Hand every pending referral reward to loyalty (points ledger or coupons), one
    transaction each; a reward loyalty refuses (no such template, out of stock…) stays
    pending and is reported."""
    payout = RewardPayout()
    for reward in pending_referral_rewards(runtime=runtime, workspace_id=workspace_id, now=now):
        try:
            with runtime.sessions() as session, session.begin():
                _pay_reward(session, workspace_id, reward, now)
        except SiyuError as exc:
            payout.failed.append(
                RewardFailure(idempotency_key=reward.idempotency_key, reason=exc.message)
            )
            continue
        payout.paid.append(reward.model_copy(update={"status": "paid"}))
    return payout


LIVE_CODE_EVENTS = ("Live Code Scanned", "Live Code Contact Added")
_SCENE_EVENTS_SQL = (
    "SELECT message_id, event, person_id, timestamp, "
    "coalesce(json_extract_string(context, '$.campaign.content'), "
    "json_extract_string(properties, '$.scene')) AS scene FROM events "
    "WHERE event IN (?, ?) AND timestamp >= ? AND timestamp < ? "
    "AND NOT starts_with(message_id, 'lc:') ORDER BY timestamp, message_id"
)


def attribute_live_code_events(
    *, runtime: Runtime, workspace_id: str, start: datetime, end: datetime
) -> list[ScanResult]:
    """Credit scans and contact adds that arrived as track events (an SDK or a WeCom
    callback): ``Live Code Scanned`` / ``Live Code Contact Added`` whose scene is in
    ``context.campaign.content`` (or ``properties.scene``), in [start, end).

    The event itself already set the first-touch channel (``context.campaign.source``); this
    rotates to staff and sets the owner as :func:`record_live_code_scan` does. Each event is
    keyed by its message id, so running a range twice credits nothing twice; events with an
    unknown scene are skipped.
    """
    flush(runtime=runtime)
    rows = runtime.events.query(
        workspace_id, _SCENE_EVENTS_SQL, [*LIVE_CODE_EVENTS, start, end]
    ).to_pylist()
    results: list[ScanResult] = []
    with runtime.sessions() as session, session.begin():
        zone = workspaces.get_workspace(session=session, workspace_id=workspace_id).timezone
        for row in rows:
            scene = row["scene"]
            code = scene and livecodes.find_live_code_by_scene(
                session=session, workspace_id=workspace_id, scene=scene
            )
            if not code:
                continue
            person = identity.current_person_id(
                session=session, workspace_id=workspace_id, person_id=row["person_id"]
            )
            results.append(
                livecodes.record_scan(
                    session=session,
                    workspace_id=workspace_id,
                    code_id=code.id,
                    person_id=person,
                    action="scan" if row["event"] == LIVE_CODE_EVENTS[0] else "add",
                    now=row["timestamp"],
                    zone=zone,
                    idempotency_key=f"ev:{row['message_id']}",
                )
            )
    return results


# -- loyalty in the flow (issue 4) ----------------------------------------------------------

ORDER_COMPLETED = "Order Completed"
ORDER_REFUNDED = "Order Refunded"
_ORDER_EVENTS = frozenset((ORDER_COMPLETED, ORDER_REFUNDED))


def _member_no(event: CollectedEvent) -> str | None:
    for ident in event.identifiers:
        if ident.type == IdType.MEMBER_ID:
            return ident.key
    return None


def _fen(value: Any) -> int | None:
    try:
        return round(float(value) * 100)
    except (TypeError, ValueError):
        return None


def apply_loyalty(
    *,
    session: Session,
    workspace_id: str,
    events: Sequence[CollectedEvent],
    person_ids: Sequence[str],
    now: datetime,
) -> int:
    """Hand the batch's loyalty actions to loyalty, in the caller's transaction.

    Only for a workspace with a tier ladder: an identify (or order) carrying a member_id
    enrols its person once; an ``Order Completed`` of a member earns points per yuan with the
    tier's multiplier and growth (成长值) per yuan; an ``Order Refunded`` reverses them (in
    proportion to ``revenue`` against the order's amount). Points are keyed by the order
    (``properties.order_id``, else the message id) and growth likewise, so a retried batch
    earns nothing twice. Returns how many actions were applied.
    """
    relevant = [
        i
        for i, event in enumerate(events)
        if event.event in _ORDER_EVENTS
        or (event.type == MessageType.IDENTIFY and event.identifiers)
    ]
    if not relevant:
        return 0
    try:
        ladder = membership.get_tiers(session=session, workspace_id=workspace_id)
    except NotFoundError:
        return 0  # loyalty is not configured here: nothing to do, nothing spent
    multiplier = {t.code: t.points_multiplier_pct for t in ladder.tiers}
    m = members.c
    tier_of: dict[str, str] = {
        row.person_id: row.tier
        for row in session.execute(
            select(m.person_id, m.tier).where(
                m.workspace_id == workspace_id,
                m.person_id.in_({person_ids[i] for i in relevant}),
            )
        )
    }
    member_of: dict[str, str] = {}  # batch person → member person, where they differ
    done = 0
    for i in relevant:
        event, person = events[i], person_ids[i]
        member_no = _member_no(event)
        try:
            if member_no is not None and person not in tier_of:
                enrolled = membership.enrol_member(
                    session=session,
                    workspace_id=workspace_id,
                    enrol=MemberEnrol(person_id=person, member_id=member_no),
                    now=now,
                    source="identify",
                )
                tier_of[person], member_of[person] = enrolled.tier, enrolled.person_id
                done += 1
            if event.event in _ORDER_EVENTS and person in tier_of:
                member = member_of.get(person, person)
                pct = multiplier.get(tier_of[person], 100)
                tier = _order_loyalty(session, workspace_id, event, member, pct, now)
                if tier is not None:
                    tier_of[person] = tier
                    done += 1
        except (SiyuError, ValueError):
            # a member number held by another member, a refund of no points, an order id too
            # long for a key: loyalty skips it, the event itself is still ingested
            continue
    return done


def _order_loyalty(
    session: Session,
    workspace_id: str,
    event: CollectedEvent,
    member: str,
    multiplier_pct: int,
    now: datetime,
) -> str | None:
    """Points and growth for one order or refund of a member; the tier after, or None when
    the order was handled before (a re-sent order under a new message id)."""
    order_id = str(event.properties.get("order_id") or event.message_id)
    amount = abs(event.revenue_fen or 0)
    if event.event == ORDER_COMPLETED:
        if amount <= 0:
            return None
        earned = points.earn_for_order(
            session=session,
            workspace_id=workspace_id,
            person_id=member,
            order_id=order_id,
            amount_fen=amount,
            now=now,
            multiplier_pct=multiplier_pct,
        )
        growth = amount // 100
        key = f"order:{order_id}"
    else:
        refund_id = str(event.properties.get("refund_id") or event.message_id)
        earned = points.reverse_order(
            session=session,
            workspace_id=workspace_id,
            person_id=member,
            order_id=order_id,
            refund_id=refund_id,
            now=now,
            refund_fen=amount or None,
            order_fen=_fen(event.properties.get("order_total")),
        )
        growth = -(amount // 100)
        key = f"refund:{order_id}:{refund_id}"
    if earned.replayed:
        return None
    if not growth:
        return None
    after = membership.add_growth(
        session=session,
        workspace_id=workspace_id,
        person_id=member,
        growth=GrowthCreate(
            amount=growth, reason=event.event or "order", at=min(event.timestamp, now)
        ),
        now=now,
        idempotency_key=key,
    )
    return after.tier

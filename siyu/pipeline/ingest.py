"""Ingest: collect → identity → profiles → loyalty → journeys → community → inbox, in one
transaction per batch."""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from siyu.collect import normalize
from siyu.collect import service as collect
from siyu.collect.models import CollectedEvent, IngestResult, MessageType
from siyu.core.runtime import Runtime
from siyu.identity import service as identity
from siyu.pipeline.community_feed import apply_community
from siyu.pipeline.journeys import apply_journeys
from siyu.pipeline.loyalty import apply_loyalty, apply_merges
from siyu.profiles import service as profiles


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
        apply_merges(session=session, workspace_id=workspace_id, person_ids=person_ids, now=now)
        profiles.apply_events(
            session=session, workspace_id=workspace_id, events=fresh, person_ids=person_ids, now=now
        )
        apply_loyalty(
            session=session, workspace_id=workspace_id, events=fresh, person_ids=person_ids, now=now
        )
        apply_journeys(
            session=session, workspace_id=workspace_id, events=fresh, person_ids=person_ids, now=now
        )
        apply_community(
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

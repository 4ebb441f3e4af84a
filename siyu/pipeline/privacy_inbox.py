"""The inbox side of an erasure: batches still waiting to reach the event store lose the
subject's events (the rest of each batch stays), and the subject itself."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from siyu.collect.tables import event_inbox


@dataclass(frozen=True)
class Subject:
    """Whom a request is about: every person id, and the raw identifier keys it holds."""

    workspace_id: str
    person_ids: tuple[str, ...]
    id_keys: tuple[tuple[str, str], ...]  # (id_type, key)

    @property
    def event_keys(self) -> list[str]:
        """The identifiers as events carry them (``type:key``)."""
        return [f"{kind}:{key}" for kind, key in self.id_keys]

    @property
    def external_userids(self) -> list[str]:
        """The person's WeCom external_userids."""
        return [key for kind, key in self.id_keys if kind == "wecom_external_userid"]


def scrub_inbox(*, session: Session, subject: Subject) -> int:
    """Drop the subject's events from batches still waiting in the inbox; events dropped."""
    t = event_inbox.c
    persons = pa.array(list(subject.person_ids), pa.string())
    keys = pa.array(subject.event_keys, pa.string())
    dropped = 0
    rows = session.execute(
        select(t.seq, t.payload).where(t.workspace_id == subject.workspace_id)
    ).all()
    for row in rows:
        table = pa.ipc.open_stream(row.payload).read_all()
        theirs = pc.or_(
            pc.is_in(table.column("person_id"), persons),
            _any_id_in(table, keys),
        )
        gone = int(pc.sum(theirs).as_py() or 0)
        if not gone:
            continue
        kept = table.filter(pc.invert(theirs))
        dropped += gone
        if kept.num_rows:
            session.execute(
                update(event_inbox)
                .where(t.seq == row.seq)
                .values(payload=_to_ipc(kept), rows=kept.num_rows)
            )
        else:
            session.execute(delete(event_inbox).where(t.seq == row.seq))
    return dropped


def _any_id_in(table: pa.Table, keys: pa.Array) -> pa.ChunkedArray:
    ids = table.column("ids")
    flat = pc.list_flatten(ids)
    parents = pc.list_parent_indices(ids)
    hits = pc.is_in(flat, keys)
    marked = [False] * table.num_rows
    for parent, hit in zip(parents.to_pylist(), hits.to_pylist(), strict=True):
        if hit:
            marked[parent] = True
    return pa.chunked_array([pa.array(marked, pa.bool_())])


def _to_ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue())

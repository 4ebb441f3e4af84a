"""A full rebuild's I/O: load every stored link as arrays, write the rebuilt partition back."""

from __future__ import annotations

from array import array
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import orjson
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from siyu.core.ids import new_id
from siyu.identity import store
from siyu.identity.rebuild import IntArray, RebuildResult
from siyu.identity.tables import (
    identity_block_members,
    identity_identifiers,
    identity_links,
    identity_merges,
    identity_persons,
)

Progress = Callable[[str, int, int], None]
"""Called as ``progress(stage, done, total)`` during long jobs."""

_READ = 50_000


@dataclass
class StoredGraph:
    """Every identifier of a workspace as a node, and every stored link over the nodes."""

    keys: list[tuple[str, str]]
    node_type: IntArray
    node_person: list[str]
    link_ptr: IntArray
    members: IntArray
    blocks: list[tuple[IntArray, IntArray]]


def load(
    session: Session, workspace_id: str, type_names: list[str], progress: Progress | None
) -> StoredGraph:
    """The workspace's identifiers, links (in order) and blocks as arrays."""
    ids = identity_identifiers.c
    type_no = {name: i for i, name in enumerate(type_names)}
    keys: list[tuple[str, str]] = []
    person: list[str] = []
    rows = session.execute(
        select(ids.id_type, ids.key, ids.person_id).where(ids.workspace_id == workspace_id)
    )
    for t, k, p in rows:
        keys.append((t, k))
        person.append(p)
    node = {ref: i for i, ref in enumerate(keys)}
    node_type = np.fromiter((type_no[t] for t, _ in keys), dtype=np.int64, count=len(keys))
    ptr, members = _links(session, workspace_id, node, progress)
    return StoredGraph(keys, node_type, person, ptr, members, _blocks(session, workspace_id, node))


def _links(
    session: Session,
    workspace_id: str,
    node: dict[tuple[str, str], int],
    progress: Progress | None,
) -> tuple[IntArray, IntArray]:
    ls = identity_links.c
    total = session.execute(
        select(func.count()).where(ls.workspace_id == workspace_id)
    ).scalar_one()
    ptr, members = array("q", [0]), array("q")
    rows = session.execute(
        select(ls.identifiers).where(ls.workspace_id == workspace_id).order_by(ls.seq),
        execution_options={"yield_per": _READ},
    ).scalars()
    for done, text in enumerate(rows, start=1):
        members.extend(node[(t, k)] for t, k in orjson.loads(text))
        ptr.append(len(members))
        if progress is not None and done % _READ == 0:
            progress("links", done, total)
    if progress is not None:
        progress("links", total, total)
    return np.frombuffer(ptr, dtype=np.int64), np.frombuffer(members, dtype=np.int64)


def _blocks(
    session: Session, workspace_id: str, node: dict[tuple[str, str], int]
) -> list[tuple[IntArray, IntArray]]:
    bm = identity_block_members.c
    sides: dict[int, tuple[list[int], list[int]]] = {}
    rows = session.execute(
        select(bm.block_id, bm.side, bm.id_type, bm.key)
        .where(bm.workspace_id == workspace_id)
        .order_by(bm.block_id)
    )
    for block_id, side, t, k in rows:
        if (t, k) in node:
            sides.setdefault(block_id, ([], []))[side].append(node[(t, k)])
    return [(np.array(a, dtype=np.int64), np.array(b, dtype=np.int64)) for a, b in sides.values()]


@dataclass(frozen=True)
class Assignment:
    """Person id of each node after the rebuild, and which persons are new or retired."""

    person_of_node: list[str]
    new_persons: list[str]
    retired: dict[str, str]  # old person → the person that now holds most of its identifiers


def assign_ids(graph: StoredGraph, result: RebuildResult) -> Assignment:
    """Give each rebuilt cluster the existing person id most of its identifiers held.

    Greedy by overlap, largest first: an id goes to at most one cluster, the others get new
    ids. When nothing changed every cluster keeps exactly its old id.
    """
    olds, old_of_node = np.unique(np.array(graph.node_person, dtype=object), return_inverse=True)
    _, cluster_of_node = np.unique(result.labels, return_inverse=True)
    n_old = len(olds)
    pair, overlap = np.unique(cluster_of_node * n_old + old_of_node, return_counts=True)
    order = np.lexsort((pair, -overlap))
    clusters, old_nos = (pair[order] // n_old).tolist(), (pair[order] % n_old).tolist()
    chosen: dict[int, str] = {}
    used: set[int] = set()
    home: dict[int, int] = {}  # old person → cluster of its largest overlap
    for cluster, old in zip(clusters, old_nos, strict=True):
        home.setdefault(old, cluster)
        if cluster not in chosen and old not in used:
            chosen[cluster] = str(olds[old])
            used.add(old)
    n_clusters = int(cluster_of_node.max()) + 1 if cluster_of_node.size else 0
    new_persons: list[str] = []
    for cluster in range(n_clusters):
        if cluster not in chosen:
            chosen[cluster] = new_id("p")
            new_persons.append(chosen[cluster])
    retired = {str(olds[o]): chosen[c] for o, c in home.items() if o not in used}
    return Assignment([chosen[c] for c in cluster_of_node.tolist()], new_persons, retired)


def write(
    session: Session,
    *,
    workspace_id: str,
    graph: StoredGraph,
    assignment: Assignment,
    now: datetime,
) -> int:
    """Store the rebuilt partition; returns how many identifiers changed person."""
    _, next_rank = store.next_numbers(session, workspace_id)
    if assignment.new_persons:
        session.execute(
            insert(identity_persons),
            [
                {"id": pid, "workspace_id": workspace_id, "rank": next_rank + i,
                 "created_at": now, "message_id": None, "survivor_id": None}
                for i, pid in enumerate(assignment.new_persons)
            ],
        )  # fmt: skip
    moved = [
        {"w": workspace_id, "t": t, "k": k, "p": new}
        for (t, k), old, new in zip(
            graph.keys, graph.node_person, assignment.person_of_node, strict=True
        )
        if old != new
    ]
    ids = identity_identifiers.c
    if moved:
        session.execute(
            update(identity_identifiers)
            .where(ids.workspace_id == bindparam("w"), ids.id_type == bindparam("t"))
            .where(ids.key == bindparam("k"))
            .values(person_id=bindparam("p")),
            moved,
        )
    for old, target in assignment.retired.items():
        store.repoint_persons(session, workspace_id, [old], target)
    if assignment.retired:
        session.execute(
            insert(identity_merges),
            [
                {"workspace_id": workspace_id, "survivor_id": target, "absorbed_id": old,
                 "message_id": None, "reason": "rebuild", "merged_at": now}
                for old, target in assignment.retired.items()
            ],
        )  # fmt: skip
    return len(moved)

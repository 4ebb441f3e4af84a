"""The pure rebuild core: every stored link replayed at once over numpy arrays.

Why this equals replaying the links one by one with :func:`siyu.identity.resolve.resolve_links`:
each link lies inside one connected component of the identifier graph, and a person only ever
holds identifiers of one component, so components never influence each other. In a component
whose count of identifiers per type stays within every limit (and that holds no two sides of an
operator block), every person the sequential pass ever forms, and every union of two of them, is
a subset of the component, so its counts are within the limits too: no attachment or merge is
ever refused, every link unites all its identifiers' persons, and the final persons are exactly
the connected components. Only the other components need the sequential pass, over their own
links in their original order — which is what the sequential replay of all links does to them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import count

import numpy as np
import numpy.typing as npt

from siyu.identity.resolve import Graph, IdRef, Tag, resolve_links
from siyu.identity.rules import Rule

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class RebuildResult:
    """Labels per identifier (equal label = same person) and what needed the slow pass."""

    labels: IntArray
    slow_components: int
    slow_links: int


def link_edges(link_ptr: IntArray, members: IntArray) -> tuple[IntArray, IntArray]:
    """Star edges of every link: its first identifier to each of the others."""
    lengths = np.diff(link_ptr)
    starts = link_ptr[:-1][lengths > 0]
    tails = np.ones(members.size, dtype=bool)
    tails[starts] = False
    return np.repeat(members[starts], lengths[lengths > 0] - 1), members[tails]


def connected_labels(n_nodes: int, u: IntArray, v: IntArray) -> IntArray:
    """Component label of each node: the smallest node of its component.

    Min-label hooking of roots plus full pointer jumping (Shiloach–Vishkin style). After each
    round every parent is a root; edges inside one component are dropped, so later rounds touch
    only the few edges still joining two components. Works in int32 when it can: the random
    gathers are memory-bound, and half the bytes is nearly half the time.
    """
    dtype = np.int32 if n_nodes < 2**31 else np.int64
    parent = np.arange(n_nodes, dtype=dtype)
    u, v = u.astype(dtype, copy=False), v.astype(dtype, copy=False)
    while u.size:
        pu, pv = parent[u], parent[v]
        cross = pu != pv
        if not cross.all():
            u, v, pu, pv = u[cross], v[cross], pu[cross], pv[cross]
            if not u.size:
                break
        # Hook each larger root onto the smallest root it touches (minimum, not an arbitrary
        # writer: with arbitrary writes a hub can need one round per neighbour).
        np.minimum.at(parent, np.maximum(pu, pv), np.minimum(pu, pv))
        while True:
            grand = parent[parent]
            if np.array_equal(grand, parent):
                break
            parent = grand
    return parent.astype(np.int64)


def _compact(labels: IntArray) -> tuple[IntArray, int]:
    """Component number 0..k-1 of each node, given root labels (a root labels itself)."""
    is_root = labels == np.arange(labels.size)
    number = np.cumsum(is_root) - 1
    return number[labels], int(is_root.sum())


def over_limit(
    comp: IntArray, n_comps: int, node_type: IntArray, limits: Sequence[int | None]
) -> npt.NDArray[np.bool_]:
    """Which components hold more identifiers of some type than its limit allows."""
    bad = np.zeros(n_comps, dtype=bool)
    for type_no, limit in enumerate(limits):
        if limit is None:
            continue
        counts = np.bincount(comp[node_type == type_no], minlength=n_comps)
        bad |= counts > limit
    return bad


def _blocked(
    comp: IntArray, n_comps: int, blocks: Sequence[tuple[IntArray, IntArray]]
) -> npt.NDArray[np.bool_]:
    bad = np.zeros(n_comps, dtype=bool)
    for side_a, side_b in blocks:
        both = np.intersect1d(comp[side_a], comp[side_b])
        bad[both] = True
    return bad


def rebuild_labels(
    *,
    link_ptr: IntArray,
    members: IntArray,
    node_type: IntArray,
    type_names: Sequence[str],
    rules: Mapping[str, Rule],
    blocks: Sequence[tuple[IntArray, IntArray]] = (),
) -> RebuildResult:
    """Persons of a full replay of links, as one label per identifier (node).

    Args:
        link_ptr: CSR offsets: link ``i`` is ``members[link_ptr[i]:link_ptr[i+1]]``.
        members: node numbers (0..n-1) of each link's identifiers, links in their stored order.
        node_type: type number of each node, an index into ``type_names``.
        type_names: identifier type names, indexed by type number.
        rules: priority and limit by type name.
        blocks: operator blocks, each two arrays of nodes that must not end in one person.
    """
    n_nodes = int(node_type.size)
    labels = connected_labels(n_nodes, *link_edges(link_ptr, members))
    comp, n_comps = _compact(labels)
    limits = [rules[name].limit for name in type_names]
    slow = over_limit(comp, n_comps, node_type, limits)
    if blocks:
        slow |= _blocked(comp, n_comps, blocks)
    if not slow.any():
        return RebuildResult(labels, 0, 0)
    nonempty = np.flatnonzero(np.diff(link_ptr) > 0)
    slow_links = nonempty[slow[comp[members[link_ptr[nonempty]]]]]
    labels = labels.copy()
    _replay(labels, slow_links, link_ptr, members, node_type, type_names, rules, blocks)
    return RebuildResult(labels, int(slow.sum()), int(slow_links.size))


def _gather(chosen: IntArray, link_ptr: IntArray, members: IntArray) -> tuple[IntArray, IntArray]:
    """The members of the ``chosen`` links, concatenated, and where each link starts in it."""
    starts, lengths = link_ptr[chosen], link_ptr[chosen + 1] - link_ptr[chosen]
    offsets = np.cumsum(lengths) - lengths
    positions = np.repeat(starts - offsets, lengths) + np.arange(int(lengths.sum()))
    return members[positions], offsets


def _first_of_each_set(chosen: IntArray, link_ptr: IntArray, members: IntArray) -> IntArray:
    """``chosen`` without links whose identifier set occurred in an earlier chosen link.

    Replaying such a link changes nothing: every merge it asks for was made or refused when
    the set first came, and a refusal stays refused because persons only grow.
    """
    lengths = link_ptr[chosen + 1] - link_ptr[chosen]
    if not chosen.size or int(lengths.max()) > 64:
        return chosen
    flat, offsets = _gather(chosen, link_ptr, members)
    row = np.repeat(np.arange(chosen.size), lengths)
    order = np.lexsort((flat, row))  # each link's nodes sorted: a set's canonical form
    padded = np.full((chosen.size, int(lengths.max())), -1, dtype=np.int64)
    padded[row, np.arange(flat.size) - offsets[row]] = flat[order]
    _, first = np.unique(padded, axis=0, return_index=True)
    return chosen[np.sort(first)]


def _replay(
    labels: IntArray,
    slow_links: IntArray,
    link_ptr: IntArray,
    members: IntArray,
    node_type: IntArray,
    type_names: Sequence[str],
    rules: Mapping[str, Rule],
    blocks: Sequence[tuple[IntArray, IntArray]],
) -> None:
    """Relabel the nodes of over-limit components by the sequential resolver (in place)."""
    names = list(type_names)
    slow_links = _first_of_each_set(slow_links, link_ptr, members)
    flat_nodes, offsets = _gather(slow_links, link_ptr, members)
    flat = list(zip(flat_nodes.tolist(), node_type[flat_nodes].tolist(), strict=True))
    bounds = np.append(offsets, flat_nodes.size).tolist()
    links = [
        [(names[t], m) for m, t in flat[bounds[i] : bounds[i + 1]]] for i in range(slow_links.size)
    ]
    tags: dict[IdRef, list[Tag]] = {}
    for block_no, sides in enumerate(blocks):
        for side_no, side in enumerate(sides):
            for m in side.tolist():
                tags.setdefault((names[int(node_type[m])], m), []).append((block_no, side_no))
    numbers = count()
    graph = Graph(ident_tags=tags)
    resolve_links(graph, links, rules, mint=lambda: str(next(numbers)))
    # Fresh labels above every node number, so they never collide with a root label.
    base = labels.size
    nodes = np.fromiter((ref[1] for ref in graph.owner), dtype=np.int64, count=len(graph.owner))
    persons = np.fromiter(
        (int(graph.person_of(ref) or 0) for ref in graph.owner),
        dtype=np.int64,
        count=len(graph.owner),
    )
    labels[nodes] = base + persons

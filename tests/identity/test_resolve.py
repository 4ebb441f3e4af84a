"""Properties of the pure resolver and the numpy rebuild core."""

from __future__ import annotations

from collections import Counter
from itertools import count

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from siyu.identity.rebuild import connected_labels, link_edges, rebuild_labels
from siyu.identity.resolve import Graph, IdRef, resolve_links
from siyu.identity.rules import DEFAULT_RULES, Rule

TYPES = ["user_id", "member_id", "phone", "device_id", "anonymous_id"]
TIGHT = {**DEFAULT_RULES, "device_id": Rule(12, 2), "anonymous_id": Rule(13, 3)}
UNLIMITED = {name: Rule(rule.priority, None) for name, rule in DEFAULT_RULES.items()}

refs = st.tuples(st.sampled_from(TYPES), st.integers(0, 6).map(str))
link_sets = st.lists(st.lists(refs, min_size=1, max_size=4), min_size=1, max_size=40)

Partition = frozenset[frozenset[IdRef]]


PERSON_NUMBERS = count()


def run(links: list[list[IdRef]], rules: dict[str, Rule], graph: Graph | None = None) -> Graph:
    graph = graph or Graph()
    resolve_links(graph, links, rules, mint=lambda: f"p{next(PERSON_NUMBERS)}")
    return graph


def partition(graph: Graph) -> Partition:
    groups: dict[str, set[IdRef]] = {}
    for ref in graph.owner:
        groups.setdefault(graph.person_of(ref) or "", set()).add(ref)
    return frozenset(frozenset(g) for g in groups.values())


@settings(max_examples=150, deadline=None)
@given(link_sets, st.randoms(use_true_random=False))
def test_same_clusters_whatever_the_order_without_limits(
    links: list[list[IdRef]], rnd: object
) -> None:
    shuffled = [list(link) for link in links]
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    for link in shuffled:
        rnd.shuffle(link)  # type: ignore[attr-defined]
    assert partition(run(links, UNLIMITED)) == partition(run(shuffled, UNLIMITED))


@settings(max_examples=150, deadline=None)
@given(link_sets)
def test_reapplying_links_changes_nothing(links: list[list[IdRef]]) -> None:
    graph = run(links, TIGHT)
    before = partition(graph)
    numbers = count()
    outcome = resolve_links(graph, links, TIGHT, mint=lambda: f"again{next(numbers)}")
    assert partition(graph) == before
    assert not outcome.created and not outcome.merges and not outcome.attached


@settings(max_examples=150, deadline=None)
@given(link_sets)
def test_limits_are_never_exceeded(links: list[list[IdRef]]) -> None:
    graph = run(links, TIGHT)
    for group in partition(graph):
        for id_type, n in Counter(t for t, _ in group).items():
            limit = TIGHT[id_type].limit
            assert limit is None or n <= limit


def as_arrays(links: list[list[IdRef]]) -> tuple[list[IdRef], np.ndarray, np.ndarray, np.ndarray]:
    node: dict[IdRef, int] = {}
    members: list[int] = []
    ptr = [0]
    for link in links:
        members += [node.setdefault(ref, len(node)) for ref in link]
        ptr.append(len(members))
    names = list(TIGHT)
    types = np.array([names.index(t) for t, _ in node], dtype=np.int64)
    return list(node), np.array(ptr, dtype=np.int64), np.array(members, dtype=np.int64), types


def rebuilt_partition(links: list[list[IdRef]]) -> Partition:
    nodes, ptr, members, types = as_arrays(links)
    result = rebuild_labels(
        link_ptr=ptr, members=members, node_type=types, type_names=list(TIGHT), rules=TIGHT
    )
    groups: dict[int, set[IdRef]] = {}
    for ref, label in zip(nodes, result.labels.tolist(), strict=True):
        groups.setdefault(label, set()).add(ref)
    return frozenset(frozenset(g) for g in groups.values())


@settings(max_examples=150, deadline=None)
@given(link_sets, st.integers(1, 10))
def test_rebuild_equals_incremental(links: list[list[IdRef]], batch: int) -> None:
    graph = Graph()
    effective: list[list[IdRef]] = []
    numbers = count()
    for start in range(0, len(links), batch):
        part = links[start : start + batch]
        outcome = resolve_links(graph, part, TIGHT, mint=lambda: f"p{next(numbers)}")
        effective += [part[i] for i in outcome.effective]
    assert rebuilt_partition(links) == partition(graph)
    # Only the effective links are stored: replaying just those ends in the same persons.
    assert rebuilt_partition(effective) == partition(graph)


@settings(max_examples=150, deadline=None)
@given(link_sets)
def test_no_op_links_change_nothing(links: list[list[IdRef]]) -> None:
    graph = run(links, TIGHT)
    persons = dict(graph.persons)
    known = [link for link in links if len({graph.person_of(ref) for ref in link}) == 1]
    outcome = resolve_links(graph, known + known, TIGHT, mint=lambda: "never")
    assert outcome.effective == [] and outcome.conflicts == []
    assert graph.persons == persons
    assert outcome.person_of_link == [graph.person_of(link[0]) for link in known + known]


def test_repeated_sets_in_a_call_are_not_effective() -> None:
    one = {**TIGHT, "member_id": Rule(2, 1)}
    links: list[list[IdRef]] = [
        [("member_id", "m1")],
        [("member_id", "m2")],
        [("member_id", "m1"), ("member_id", "m2")],
        [("member_id", "m2"), ("member_id", "m1")],
    ]
    outcome = resolve_links(Graph(), links, one, mint=lambda: f"p{next(PERSON_NUMBERS)}")
    assert outcome.effective == [0, 1, 2]
    # Each message still records its own refusal.
    assert [c.link for c in outcome.conflicts] == [2, 3]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30)), max_size=80))
def test_connected_labels_match_a_reference(edges: list[tuple[int, int]]) -> None:
    u = np.array([a for a, _ in edges], dtype=np.int64)
    v = np.array([b for _, b in edges], dtype=np.int64)
    labels = connected_labels(31, u, v).tolist()
    parent = list(range(31))

    def find(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    for a, b in edges:
        parent[max(find(a), find(b))] = min(find(a), find(b))
    assert labels == [find(x) for x in range(31)]


def test_hub_converges_in_few_rounds() -> None:
    # A hub seen after its many neighbours: arbitrary-writer hooking would need a round each.
    n = 100_000
    ptr = np.arange(0, 2 * n + 1, 2, dtype=np.int64)
    members = np.stack([np.full(n, n), np.arange(n)], axis=1).ravel()
    labels = connected_labels(n + 1, *link_edges(ptr, members))
    assert (labels == 0).all()

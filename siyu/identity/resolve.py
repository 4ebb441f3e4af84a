"""The pure identity resolver: applies links, in order, to an in-memory graph (no I/O, no clock).

Semantics (Segment Unify's): a link's identifiers are taken in priority order. The first one
fixes the message's person. Each further identifier either is unknown — it is attached to that
person if the type's limit allows, else it starts a person of its own and a conflict is recorded —
or belongs to another person, and the two persons merge only if every type's combined count stays
within its limit and no operator block separates them; otherwise a conflict is recorded.
The survivor of a merge is the person holding the higher-priority identifier, the older on a tie.

Most links change nothing: a known person's next message carries identifiers that person already
holds. The resolver settles those first, without sorting or touching any person, and reports
which links a later replay needs (see :attr:`Outcome.effective`).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from siyu.identity.rules import Rule

IdRef = tuple[str, Hashable]
"""An identifier as the resolver sees it: (type name, key)."""

Tag = tuple[int, int]
"""A side of an operator block: (block number, side 0 or 1)."""

LIMIT_REASON = "limit"
BLOCK_REASON = "blocked"


@dataclass(slots=True)
class Person:
    """One person of the graph: its age rank, identifier counts per type and block sides."""

    pid: str
    rank: int
    counts: dict[str, int] = field(default_factory=dict)
    tags: set[Tag] = field(default_factory=set)


@dataclass(slots=True)
class Graph:
    """The part of the identity graph a batch touches.

    ``owner`` maps each known identifier to the person that held it when loaded or attached;
    ``absorbed`` maps a merged-away person to the person that absorbed it (follow to the root).
    """

    owner: dict[IdRef, str] = field(default_factory=dict)
    persons: dict[str, Person] = field(default_factory=dict)
    absorbed: dict[str, str] = field(default_factory=dict)
    ident_tags: Mapping[IdRef, Iterable[Tag]] = field(default_factory=dict)
    next_rank: int = 0

    def root(self, pid: str) -> str:
        """The person that ``pid`` has (transitively) been merged into, or ``pid``."""
        top = pid
        while top in self.absorbed:
            top = self.absorbed[top]
        while pid != top:  # path compression keeps later look-ups O(1)
            parent = self.absorbed[pid]
            self.absorbed[pid] = top
            pid = parent
        return top

    def person_of(self, ref: IdRef) -> str | None:
        """The current person holding ``ref``, or None if unknown."""
        pid = self.owner.get(ref)
        return None if pid is None else self.root(pid)


@dataclass(frozen=True, slots=True)
class Attachment:
    """A new identifier and the person that introduced it."""

    ref: IdRef
    person: str
    link: int


@dataclass(frozen=True, slots=True)
class MergeStep:
    """``survivor`` absorbed ``absorbed`` while applying link number ``link``."""

    survivor: str
    absorbed: str
    link: int


@dataclass(frozen=True, slots=True)
class ConflictStep:
    """A merge or attachment that was refused, with both sides."""

    person: str
    other_person: str
    id_type: str
    identifiers: tuple[IdRef, IdRef]
    reason: str
    link: int


@dataclass(slots=True)
class Outcome:
    """What applying links did: each link's person, and every change, in order."""

    person_of_link: list[str] = field(default_factory=list)
    created: list[tuple[str, int, int]] = field(default_factory=list)  # (person, rank, link)
    attached: list[Attachment] = field(default_factory=list)
    merges: list[MergeStep] = field(default_factory=list)
    conflicts: list[ConflictStep] = field(default_factory=list)
    effective: list[int] = field(default_factory=list)
    """Links a sequential replay needs, in order: every link but the no-ops.

    A link is a no-op when every identifier of it is already held by one person, or when it has
    the same identifier set as an earlier link of this call. Applying it changed nothing (a
    repeated set may re-record conflicts, no more), and a replay of the links in order reaches
    the same state at that point, where the link changes nothing again: so a replay of only the
    effective links (of this and every other call) ends in the same persons. The first kind
    relies on the state being the same, so under changed rules or blocks a rebuild that lacks
    those links may part identifiers they alone would have kept together. The second kind holds
    under any rules: persons only grow, so every merge the set asks for was made or refused for
    good when it first came.
    """


def order_link(link: Iterable[IdRef], rules: Mapping[str, Rule]) -> list[IdRef]:
    """A link's identifiers without repeats, highest priority first (stable within a type)."""
    unique = list(dict.fromkeys(link))
    return sorted(unique, key=lambda ref: rules[ref[0]].priority)


def _ordered(link: Iterable[IdRef], priority: Mapping[str, int]) -> list[IdRef]:
    unique = list(dict.fromkeys(link))
    if len(unique) > 1:
        unique.sort(key=lambda ref: priority[ref[0]])
    return unique


def _fits(counts: Mapping[str, int], rules: Mapping[str, Rule], id_type: str, extra: int) -> bool:
    limit = rules[id_type].limit
    return limit is None or counts.get(id_type, 0) + extra <= limit


def _breaking_type(a: Person, b: Person, rules: Mapping[str, Rule]) -> str | None:
    """The highest-priority type whose combined count would exceed its limit, if any."""
    broken: str | None = None
    for id_type, n in b.counts.items():
        rule = rules[id_type]
        over = rule.limit is not None and a.counts.get(id_type, 0) + n > rule.limit
        if over and (broken is None or rule.priority < rules[broken].priority):
            broken = id_type
    return broken


def _blocked(a: Person, b: Person) -> bool:
    return any((block, 1 - side) in b.tags for block, side in a.tags)


def _best(person: Person, rules: Mapping[str, Rule]) -> int:
    return min((rules[t].priority for t, n in person.counts.items() if n), default=1 << 30)


class _Applier:
    """Applies links to a graph one at a time, recording what happens in an Outcome."""

    def __init__(self, graph: Graph, rules: Mapping[str, Rule], mint: Callable[[], str]) -> None:
        self.graph, self.rules, self.mint = graph, rules, mint
        self.priority = {name: rule.priority for name, rule in rules.items()}
        self.outcome = Outcome()
        self.seen: set[frozenset[IdRef]] = set()

    def holder(self, link: Sequence[IdRef]) -> str | None:
        """The one person that holds every identifier of ``link`` already, if there is one."""
        graph = self.graph
        owner = graph.owner
        first = owner.get(link[0])
        if first is None:
            return None
        top = graph.root(first)
        for ref in link[1:]:
            pid = owner.get(ref)
            if pid is None or (pid != first and pid != top and graph.root(pid) != top):
                return None
        return top

    def settle(self, link_no: int, link: Iterable[IdRef]) -> str:
        refs = link if isinstance(link, list | tuple) else list(link)
        if not refs:
            raise ValueError(f"link {link_no} has no identifiers")
        held = self.holder(refs)
        if held is not None:
            return held
        if len(refs) > 1:
            key = frozenset(refs)
            if key in self.seen:
                return self.apply(link_no, refs)
            self.seen.add(key)
        self.outcome.effective.append(link_no)
        return self.apply(link_no, refs)

    def apply(self, link_no: int, link: Iterable[IdRef]) -> str:
        current: str | None = None
        anchor: IdRef | None = None
        for ref in _ordered(link, self.priority):
            owner = self.graph.person_of(ref)
            if current is None or anchor is None:
                current = owner if owner is not None else self._create(ref, link_no)
                anchor = ref
            elif owner is None:
                self._attach_or_split(current, anchor, ref, link_no)
            elif owner != current:
                current = self._merge_or_conflict(current, owner, (anchor, ref), link_no)
        if current is None:
            raise ValueError(f"link {link_no} has no identifiers")
        return current

    def _create(self, ref: IdRef, link_no: int) -> str:
        pid = self.mint()
        graph = self.graph
        graph.persons[pid] = Person(pid, graph.next_rank)
        self.outcome.created.append((pid, graph.next_rank, link_no))
        graph.next_rank += 1
        self._attach(pid, ref, link_no)
        return pid

    def _attach(self, pid: str, ref: IdRef, link_no: int) -> None:
        person = self.graph.persons[pid]
        person.counts[ref[0]] = person.counts.get(ref[0], 0) + 1
        person.tags.update(self.graph.ident_tags.get(ref, ()))
        self.graph.owner[ref] = pid
        self.outcome.attached.append(Attachment(ref, pid, link_no))

    def _attach_or_split(self, current: str, anchor: IdRef, ref: IdRef, link_no: int) -> None:
        person = self.graph.persons[current]
        if _fits(person.counts, self.rules, ref[0], 1):
            self._attach(current, ref, link_no)
            return
        alone = self._create(ref, link_no)
        self.outcome.conflicts.append(
            ConflictStep(current, alone, ref[0], (anchor, ref), LIMIT_REASON, link_no)
        )

    def _outranks(self, a: Person, b: Person) -> bool:
        best_a, best_b = _best(a, self.rules), _best(b, self.rules)
        return best_a < best_b or (best_a == best_b and a.rank < b.rank)

    def _merge_or_conflict(
        self, current: str, other: str, refs: tuple[IdRef, IdRef], link_no: int
    ) -> str:
        a, b = self.graph.persons[current], self.graph.persons[other]
        reason, broken = LIMIT_REASON, _breaking_type(a, b, self.rules)
        if broken is None and _blocked(a, b):
            reason, broken = BLOCK_REASON, refs[1][0]
        if broken is not None:
            self.outcome.conflicts.append(
                ConflictStep(current, other, broken, refs, reason, link_no)
            )
            return current
        survivor, absorbed = (a, b) if self._outranks(a, b) else (b, a)
        for id_type, n in absorbed.counts.items():
            survivor.counts[id_type] = survivor.counts.get(id_type, 0) + n
        survivor.tags |= absorbed.tags
        self.graph.absorbed[absorbed.pid] = survivor.pid
        del self.graph.persons[absorbed.pid]
        self.outcome.merges.append(MergeStep(survivor.pid, absorbed.pid, link_no))
        return survivor.pid


def resolve_links(
    graph: Graph,
    links: Sequence[Iterable[IdRef]],
    rules: Mapping[str, Rule],
    mint: Callable[[], str],
) -> Outcome:
    """Apply ``links`` in order to ``graph`` (mutated in place) and report every change.

    Args:
        graph: the persons and identifiers the links touch; updated in place.
        links: each link's identifiers (any order; repeats ignored); none may be empty.
        rules: priority and limit of every type that occurs.
        mint: returns a fresh person id each call.
    """
    applier = _Applier(graph, rules, mint)
    person_of_link = applier.outcome.person_of_link
    for link_no, link in enumerate(links):
        person_of_link.append(applier.settle(link_no, link))
    return applier.outcome

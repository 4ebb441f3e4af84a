"""Compile a segment definition to SQL selecting ``person_id``: one ``match`` arm per node.

The SQL reads *relations* (combined over merged persons, one person id per customer):

=================  =====================================================================
``seg_persons``    person_id — every surviving person (the universe ``Not`` negates in)
``seg_profiles``   person_id, first_seen, last_seen, first_channel, first_campaign,
                   event_count, order_count, total_spend_fen, last_order_at (one row each)
``seg_traits``     person_id, name, value_str, value_num — latest non-null value of each
                   trait (strings and 'true'/'false' in value_str, numbers in value_num)
``seg_tags``       person_id, tag_id
``seg_identifiers`` person_id, id_type
``seg_members``    segment_id, person_id — saved segments as of their last refresh
``events``         the event store (event dialects only), persons mapped to survivors
=================  =====================================================================

On DuckDB and ClickHouse the caller ships the relations as Arrow tables (see
:mod:`siyu.segments.sources`) and the engine provides ``events``; on SQLite and PostgreSQL
the compiled SQL defines them itself over the operational tables (:mod:`.relations`), so a
definition without event conditions runs on the operational store alone.

Every node compiles to a predicate on ``person_id`` (``person_id IN (…)``), combined with
AND / OR / NOT, so negation is exact over the universe of persons. Counts that 0 satisfies
("at most 2 orders") are compiled as "not among those that fail", so persons without any
event or profile row count as 0.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from siyu.core.errors import InvalidInputError
from siyu.segments import dialects as d
from siyu.segments import relations
from siyu.segments.dialects import EVENT_DIALECTS, Dialect
from siyu.segments.models import (
    All,
    Any,
    Channel,
    ComputedName,
    ComputedTrait,
    Condition,
    CountOp,
    CountRule,
    Event,
    EventSpec,
    HasIdentifier,
    InSegment,
    Not,
    Op,
    PropertyFilter,
    Sequence,
    Tag,
    TimeWindow,
    Trait,
)

_SQL_OPS = {"eq": "=", "ne": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_PY_OPS: dict[str, Callable[[float, float], bool]] = {
    "eq": operator.eq,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}
# days_since_X op N  ⇔  X (flipped op) now − N days
_FLIPPED = {CountOp.GT: "<", CountOp.GTE: "<=", CountOp.LT: ">", CountOp.LTE: ">="}
_ADDITIVE = {ComputedName.EVENT_COUNT, ComputedName.ORDER_COUNT, ComputedName.TOTAL_SPEND_FEN}
_DAYS_SINCE = {
    ComputedName.DAYS_SINCE_FIRST_SEEN: "first_seen",
    ComputedName.DAYS_SINCE_LAST_SEEN: "last_seen",
    ComputedName.DAYS_SINCE_LAST_ORDER: "last_order_at",
}


@dataclass(frozen=True)
class CompiledSegment:
    """SQL selecting the members' ``person_id`` and what it reads."""

    sql: str
    dialect: Dialect
    relations: frozenset[str]  # what the caller ships (event dialects) or the SQL defines
    reads_events: bool = False


def to_sql(
    definition: Condition, dialect: Dialect | str, *, now: datetime, workspace_id: str = ""
) -> CompiledSegment:
    """Compile ``definition`` to SQL of ``dialect`` selecting the persons it describes.

    Args:
        definition: the rule tree.
        dialect: duckdb or clickhouse (relations shipped, events read), sqlite or postgresql
            (operational tables read directly; event conditions refused).
        now: the instant relative windows count back from (aware UTC).
        workspace_id: the workspace (operational dialects filter the tables by it).

    Raises:
        InvalidInputError: an event condition on an operational dialect, or a value that
            does not fit its field.
    """
    dialect = Dialect(dialect)
    if now.tzinfo is None:
        raise InvalidInputError("now must be timezone-aware", field="now")
    compiler = _Compiler(dialect, now)
    body = compiler.body(definition)
    if dialect in EVENT_DIALECTS:
        return CompiledSegment(body, dialect, frozenset(compiler.used), compiler.reads_events)
    if compiler.reads_events:
        raise InvalidInputError(
            f"event conditions need an event engine (duckdb or clickhouse), not {dialect.value}",
            field="definition",
        )
    ctes = relations.operational_ctes(compiler.used, dialect, workspace_id)
    return CompiledSegment(f"WITH {ctes}\n{body}", dialect, frozenset(compiler.used))


def referenced_segments(definition: Condition) -> set[str]:
    """Saved segments a definition reads (to refuse cycles and refresh in order)."""
    return {node.segment_id for node in walk(definition) if isinstance(node, InSegment)}


def referenced_tags(definition: Condition) -> set[str]:
    """Tags a definition reads."""
    return {node.tag for node in walk(definition) if isinstance(node, Tag)}


def walk(node: Condition) -> Iterator[Condition]:
    """Every node of the tree, depth first."""
    yield node
    match node:
        case All(of=children) | Any(of=children):
            for child in children:
                yield from walk(child)
        case Not(condition=child):
            yield from walk(child)


def _zero_fits(rule: CountOp, value: float) -> bool:
    return _PY_OPS[rule.value](0, value)


_NEGATIVE = 9
_RANKS: dict[type, int] = {
    Event: 0,
    Sequence: 1,
    InSegment: 2,
    Tag: 3,
    HasIdentifier: 4,
    Channel: 5,
    Trait: 6,
    ComputedTrait: 7,
}


def _rank(node: Condition) -> int:
    """How early a condition goes in an ``All``: usually selective kinds first; conditions
    that hold for persons without any row (negations, counts 0 satisfies) last, since they
    cannot drive."""
    match node:
        case Event(count=rule) if _zero_fits(rule.op, rule.value):
            return _NEGATIVE
        case ComputedTrait(name=name, op=op, value=value) if name in _ADDITIVE and _zero_fits(
            op, value
        ):
            return _NEGATIVE
        case Not() | Any() | All():
            return _NEGATIVE
    return _RANKS.get(type(node), _NEGATIVE)


def _ordered(children: list[Condition]) -> list[Condition]:
    return sorted(children, key=_rank)  # stable: the operator's order within a kind


@dataclass
class _Compiler:
    dialect: Dialect
    now: datetime
    used: set[str] = field(default_factory=set)
    reads_events: bool = False

    # -- tree ------------------------------------------------------------------------------

    def body(self, definition: Condition) -> str:
        """The whole query. An ``All`` with a condition that selects persons by itself is
        driven by it (the most selective kind first) and the others filter its rows; that
        lets the engine start from a small set instead of probing every person."""
        children = _ordered(definition.of) if isinstance(definition, All) else [definition]
        driver = children[0]
        if _rank(driver) >= _NEGATIVE:
            self.used.add(relations.PERSONS)
            where = self.predicate(definition)
            return f"SELECT person_id FROM {relations.PERSONS} WHERE {where}"
        rows = self.predicate(driver)[len("person_id IN (") : -1]
        if isinstance(driver, HasIdentifier):  # a person may hold several of one type
            rows = rows.replace("SELECT person_id", "SELECT DISTINCT person_id", 1)
        rest = [self.predicate(c) for c in children[1:]]
        where = f" WHERE {' AND '.join(rest)}" if rest else ""
        return f"SELECT person_id FROM ({rows}) AS driver{where}"

    def predicate(self, node: Condition) -> str:
        match node:
            case All(of=children):
                return "(" + " AND ".join(self.predicate(c) for c in _ordered(children)) + ")"
            case Any(of=children):
                return "(" + " OR ".join(self.predicate(c) for c in children) + ")"
            case Not(condition=child):
                return f"(NOT {self.predicate(child)})"
            case Trait():
                return self._in(self.trait_sql(node))
            case ComputedTrait():
                return self.computed_sql(node)
            case Event():
                return self.event_sql(node)
            case Sequence():
                return self._in(self.sequence_sql(node))
        return self._in(self.membership_sql(node))

    def membership_sql(self, node: Condition) -> str:
        """Conditions that look a person up in one relation."""

        def lit(value: str) -> str:
            return d.string(value, self.dialect)

        match node:
            case Tag(tag=tag):
                return self._select(relations.TAGS, f"tag_id = {lit(tag)}")
            case InSegment(segment_id=segment_id):
                return self._select(relations.MEMBERS, f"segment_id = {lit(segment_id)}")
            case Channel(field=column, values=values):
                listed = ", ".join(lit(v) for v in values)
                return self._select(relations.PROFILES, f"first_{column} IN ({listed})")
            case HasIdentifier(id_type=id_type):
                return self._select(relations.IDENTIFIERS, f"id_type = {lit(id_type.value)}")
        raise InvalidInputError(f"unknown condition {node!r}", field="definition")

    @staticmethod
    def _in(subquery: str) -> str:
        return f"person_id IN ({subquery})"

    def _select(self, relation: str, where: str) -> str:
        self.used.add(relation)
        return f"SELECT person_id FROM {relation} WHERE {where}"

    def _counted(
        self, relation: str, rule: CountOp, value: float, test: str, tail: str = ""
    ) -> str:
        """``test`` (an SQL predicate on the count) over rows of ``relation``; a person with no
        row counts as 0."""
        self.used.add(relation)
        if _zero_fits(rule, value):
            return (
                f"(NOT (person_id IN (SELECT person_id FROM {relation}{tail} HAVING NOT ({test}))))"
            )
        return f"person_id IN (SELECT person_id FROM {relation}{tail} HAVING {test})"

    # -- traits ----------------------------------------------------------------------------

    def comparison(self, column_of: Callable[[str], str], op: Op, value: object) -> str:
        """``op value`` on the column ``column_of(kind)`` picks for the value's kind."""
        if op is Op.EXISTS:
            return f"{column_of('any')} IS NOT NULL"
        sample = value[0] if isinstance(value, list) else value
        kind = "bool" if isinstance(sample, bool) else "str" if isinstance(sample, str) else "num"
        column = column_of(kind)
        if op is Op.CONTAINS:
            return d.contains(column, d.string(str(value), self.dialect), self.dialect)
        if op in (Op.IN, Op.NOT_IN):
            assert isinstance(value, list)
            listed = ", ".join(d.scalar(v, self.dialect) for v in value)
            return f"{column} {'IN' if op is Op.IN else 'NOT IN'} ({listed})"
        assert isinstance(value, str | int | float)
        return f"{column} {_SQL_OPS[op.value]} {d.scalar(value, self.dialect)}"

    def trait_sql(self, node: Trait) -> str:
        name = d.string(node.name, self.dialect)
        if node.op is Op.EXISTS:  # the relation holds present values only
            return self._select(relations.TRAITS, f"name = {name}")

        def column(kind: str) -> str:
            return "value_num" if kind == "num" else "value_str"

        test = self.comparison(column, node.op, node.value)
        return self._select(relations.TRAITS, f"name = {name} AND {test}")

    def computed_sql(self, node: ComputedTrait) -> str:
        name, value = node.name, node.value
        if name in _ADDITIVE:
            # One profile row per person, so the row's total is the person's: a filter, not a
            # GROUP BY (a hash aggregate over every profile). A person without a profile row
            # has 0, so a test 0 passes selects those whose row does not fail it.
            test = f"{name.value} {_SQL_OPS[node.op.value]} {d.number(value, self.dialect)}"
            if _zero_fits(node.op, value):
                fails = self._select(relations.PROFILES, f"NOT ({test})")
                return f"(NOT {self._in(fails)})"
            return self._in(self._select(relations.PROFILES, test))
        if name is ComputedName.AVG_SPEND_FEN:
            avg = f"{d.to_double('total_spend_fen', self.dialect)} / order_count"
            op = _SQL_OPS[node.op.value]
            where = f"order_count > 0 AND {avg} {op} {d.number(value, self.dialect)}"
            return self._in(self._select(relations.PROFILES, where))
        cutoff = d.timestamp(self.now - timedelta(days=value), self.dialect)
        column = _DAYS_SINCE[name]
        return self._in(self._select(relations.PROFILES, f"{column} {_FLIPPED[node.op]} {cutoff}"))

    # -- events ----------------------------------------------------------------------------

    def _events_where(self, spec: EventSpec, window: TimeWindow) -> str:
        self.reads_events = True
        if self.dialect not in EVENT_DIALECTS:
            raise InvalidInputError(
                f"event conditions need an event engine, not {self.dialect.value}",
                field="definition",
            )
        parts = [self._event_name(spec.event), *self._window(window)]
        parts += [self.filter_sql(f) for f in spec.where]
        return " AND ".join(parts)

    def _event_name(self, event: str) -> str:
        if event.startswith("$"):
            return f"type = {d.string(event[1:], self.dialect)}"
        return f"type = 'track' AND event = {d.string(event, self.dialect)}"

    def _window(self, window: TimeWindow) -> list[str]:
        def ts(value: datetime) -> str:
            return d.timestamp(value, self.dialect)

        if window.days is not None:
            since = self.now - timedelta(days=window.days)
            return [f"timestamp >= {ts(since)}", f"timestamp <= {ts(self.now)}"]
        parts = [f"timestamp >= {ts(window.since)}"] if window.since else []
        parts.append(
            f"timestamp < {ts(window.until)}" if window.until else f"timestamp <= {ts(self.now)}"
        )
        return parts

    def filter_sql(self, item: PropertyFilter) -> str:
        head, _, rest = item.path.partition(".")
        if not rest:
            return self._column_filter(item)

        def column(kind: str) -> str:
            return d.json_value(head, rest.split("."), kind, self.dialect)

        return self.comparison(column, item.op, item.value)

    def _column_filter(self, item: PropertyFilter) -> str:
        numeric = item.path == "revenue_fen"
        values = item.value if isinstance(item.value, list) else [item.value]
        for value in values:
            is_number = isinstance(value, int | float) and not isinstance(value, bool)
            if value is not None and is_number != numeric:
                need = "a number" if numeric else "a string"
                raise InvalidInputError(f"{item.path} compares with {need}", field="where.value")
        return self.comparison(lambda _kind: item.path, item.op, item.value)

    def event_sql(self, node: Event) -> str:
        where = self._events_where(node, node.window)
        measure = "count(*)" if node.metric == "count" else "coalesce(sum(revenue_fen), 0)"
        rule: CountRule = node.count
        test = f"{measure} {_SQL_OPS[rule.op.value]} {d.number(rule.value, self.dialect)}"
        tail = f" WHERE {where} GROUP BY person_id"
        return self._counted("events", rule.op, rule.value, test, tail)

    def sequence_sql(self, node: Sequence) -> str:
        first = self._events_where(node.first, node.window)
        then = self._events_where(node.then, TimeWindow())
        # For each first event, the earliest later-or-equal `then` event of the person: a
        # running minimum over the person's time-ordered union of both kinds.
        nxt = (
            "min(CASE WHEN k = 1 THEN timestamp END) OVER (PARTITION BY person_id "
            "ORDER BY timestamp, k ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING)"
        )
        limit = d.plus_days("timestamp", node.within_days, self.dialect)
        hit = f"next_at IS NOT NULL AND next_at <= {limit}"
        keep = hit if node.followed else f"NOT ({hit})"
        return (
            "SELECT DISTINCT person_id FROM ("
            f"SELECT person_id, timestamp, k, {nxt} AS next_at FROM ("
            f"SELECT person_id, timestamp, 0 AS k FROM events WHERE {first} "
            f"UNION ALL SELECT person_id, timestamp, 1 AS k FROM events WHERE {then}"
            f") AS pair) AS ordered WHERE k = 0 AND {keep}"
        )

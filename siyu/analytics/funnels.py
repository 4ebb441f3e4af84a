"""Funnels: a typed :class:`FunnelQuery` compiled to one SQL statement per dialect.

Semantics (the same on both engines, checked against ClickHouse's ``windowFunnel``):

* A person's events matching any step (step 1 only before ``end``; all within
  [``start``, ``end`` + window)) are taken in time order; ties by step position.
* **loose** (``windowFunnel`` with 'strict_increase'): step *j* is reached by an event of
  step *j* strictly later than a reached step *j−1* and within ``window`` (inclusive) of
  that chain's step-1 event. Strictly later, so one event never counts for two steps of a
  funnel that repeats an event (Viewed → Viewed needs two views), and events at the same
  microsecond never chain.
  Other events, including other funnel steps, may come between. A person's level is the
  longest chain reached by any step-1 start.
* **strict** (``windowFunnel`` 'strict_order' too): as loose, but once step 1 happened, an
  event of step *j* ≥ 2 arriving while step *j−1* was never reached ends the search (an
  out-of-order funnel step interrupts). Only funnel-step events count as interruptions;
  unrelated events (page views, …) never do.
* Time from step *j−1* to *j*: in the latest chain that reached step *j*.

Each matched (event, step) becomes one integer sort key ``micros * 8 + (7 - step)``: at
equal microseconds later steps sort first, so an event first extends older chains and
only then restarts one (a funnel repeating an event, Viewed → Viewed, needs two views and
converts on the second). Both engines run the windowFunnel state machine over these keys
(the window scaled by 8), so ties resolve identically.

On DuckDB the per-person scan is a ``list_reduce`` fold over each person's sorted keys:
one hash aggregate and one small sort per person, no window sort over all events. On
ClickHouse the level comes from ``windowFunnel`` itself over the same keys, and the step
times from the same fold written with ``arrayFold``.

Every step here is one person's. The ``fission`` preset (Referral Sent → Referral Accepted →
Signed Up → Order Completed) therefore only counts someone who shared *and* accepted a
referral, which a referral never is: the referrer shares, the invitee clicks, registers and
orders. The real 裂变 funnel follows both people — :mod:`siyu.analytics.fission`
(``FissionQuery``, ``siyu analytics fission``, ``POST /api/analytics/fission``);
``siyu analytics funnel --preset fission`` runs it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

import pyarrow as pa

from siyu.analytics.engine import Dialect
from siyu.analytics.models import (
    FUNNEL_PRESETS,
    Breakdown,
    BreakdownKind,
    FunnelOrder,
    FunnelQuery,
    FunnelResult,
    FunnelSeries,
    FunnelStep,
    FunnelStepResult,
)
from siyu.analytics.query import event_condition_sql, lit, micros_sql, text_sql


def preset_query(
    name: str,
    *,
    start: datetime,
    end: datetime,
    window: timedelta = timedelta(days=7),
    order: FunnelOrder = FunnelOrder.LOOSE,
    breakdown: Breakdown | None = None,
) -> FunnelQuery:
    """The named per-person funnel (``conversion`` or ``fission``) over a range.

    For referrals use :func:`siyu.analytics.fission.fission_sql`: ``fission`` here is kept
    for compatibility and follows one person only.
    """
    steps = [FunnelStep(event=e) for e in FUNNEL_PRESETS[name]]
    return FunnelQuery(
        steps=steps, window=window, order=order, start=start, end=end, breakdown=breakdown
    )


# -- the fold ----------------------------------------------------------------------------


def code_of(step: int) -> int:
    """The low 3 bits of a step's sort key: later steps sort first at equal microseconds."""
    return 7 - step


def _values(k: int, strict: bool) -> list[str]:
    """The fold's state: ``r1`` the latest step-1 key; for 1 < j < k, ``rj``/``lj`` the first
    and last key of the latest chain that reached step j and (j > 2) ``gj`` its time from
    step j−1 (for j = 2 that is ``l2 − r2``); for step k only ``gk``; ``d`` strict mode's
    stop."""
    names = ["r1"]
    for j in range(2, k):
        names += [f"r{j}", f"l{j}"] + ([f"g{j}"] if j > 2 else [])
    names.append(f"g{k}")
    return [*names, "d"] if strict else names


_LOW = "18446744073709551615::HUGEINT"  # 2**64 − 1: the low half of a packed pair

Half = Literal["hi", "lo"] | None


def _duckdb_layout(k: int, strict: bool) -> dict[str, tuple[str, Half]]:
    """Where each value lives on DuckDB: (struct field, half of a HUGEINT pair or None).

    ``list_reduce`` pays per person and struct field (it materialises each person's final
    accumulator field by field), so two values share a HUGEINT: ``rj`` (high) with ``lj``
    (low) as ``pj``, and consecutive gaps ``gj``/``gj+1``. Every value is ≥ 0, and a pair's
    low value is only set once its high one is (a chain's last key with its start; step
    j+1's gap after step j's), so a pair is > 0 exactly when its high value is.
    """
    layout: dict[str, tuple[str, Half]] = {"r1": ("r1", None)}
    for j in range(2, k):
        layout[f"r{j}"], layout[f"l{j}"] = (f"p{j}", "hi"), (f"p{j}", "lo")
    gaps = [f"g{j}" for j in range(3 if k > 2 else 2, k + 1)]
    for i in range(0, len(gaps) - 1, 2):
        field = f"{gaps[i]}{gaps[i + 1]}"
        layout[gaps[i]], layout[gaps[i + 1]] = (field, "hi"), (field, "lo")
    if len(gaps) % 2:
        layout[gaps[-1]] = (gaps[-1], None)
    if strict:
        layout["d"] = ("d", None)
    return layout


class _Fold:
    """Writes the per-person state machine in one dialect.

    The keys arrive sorted, so a key that reaches step j is always strictly later (in
    microseconds) than the chain's step j−1 key: at equal microseconds step j sorts before
    step j−1. Hence 'strictly later' needs no test, and a reached step's gap is ≥ 1 µs, so
    ``gk > 0`` says step k was reached.
    """

    def __init__(self, k: int, window_us: int, strict: bool, dialect: Dialect) -> None:
        self.k, self.w, self.strict, self.dialect = k, window_us * 8, strict, dialect
        self.names = _values(k, strict)
        self.layout: dict[str, tuple[str, Half]]
        if dialect is Dialect.CLICKHOUSE:  # a tuple element per value
            self.layout = {n: (str(i + 1), None) for i, n in enumerate(self.names)}
        else:
            self.layout = _duckdb_layout(k, strict)
        self.fields = list(dict.fromkeys(field for field, _ in self.layout.values()))

    def value(self, state: str, name: str) -> str:
        """A value of the state (``acc`` in the fold, the result after)."""
        field, half = self.layout[name]
        if half == "hi":
            return f"({state}.{field} >> 64)::BIGINT"
        if half == "lo":
            return f"({state}.{field} & {_LOW})::BIGINT"
        return f"{state}.{field}"

    def positive(self, state: str, name: str) -> str:
        field, half = self.layout[name]
        return f"{self.value(state, name) if half == 'lo' else f'{state}.{field}'} > 0"

    def f(self, name: str) -> str:
        return self.value("acc", name)

    def micros(self, code: str) -> str:
        return f"intDiv({code}, 8)" if self.dialect is Dialect.CLICKHOUSE else f"({code} // 8)"

    def arms(self) -> list[tuple[str, dict[str, str]]]:
        """(condition on ``acc`` and key ``x``, the values it sets); the first that holds
        applies, the others keep ``acc``. A key is of one step, so at most one step arm holds.
        """
        f = self.f
        one = "toInt64(1)" if self.dialect is Dialect.CLICKHOUSE else "1"
        arms: list[tuple[str, dict[str, str]]] = []
        if self.strict:
            arms.append((f"{f('d')} = 1", {}))  # stopped: the state stays
        arms.append((f"x % 8 = {code_of(1)}", {"r1": "x"}))
        for j in range(2, self.k + 1):
            prev = f(f"r{j - 1}")
            hit = (
                f"x % 8 = {code_of(j)} AND {self.positive('acc', f'r{j - 1}')} "
                f"AND x <= {prev} + {self.w}"
            )
            last = f("r1") if j == 2 else f(f"l{j - 1}")
            gap = {f"g{j}": f"{self.micros('x')} - {self.micros(last)}"}
            if j == self.k:
                arms.append((hit, gap))
            else:
                arms.append((hit, {f"r{j}": prev, f"l{j}": "x", **(gap if j > 2 else {})}))
        if self.strict:
            # windowFunnel 'strict_order': a step whose previous step was never reached,
            # after step 1 happened, ends the search (step 2's previous is step 1 itself).
            for j in range(3, self.k + 1):
                stop = f"x % 8 = {code_of(j)} AND {f('r1')} > 0 AND {f(f'r{j - 1}')} = 0"
                arms.append((stop, {"d": one}))
        return arms

    def _field(self, field: str, sets: dict[str, str]) -> str:
        """The new value of ``field`` (DuckDB) given the values an arm sets."""
        halves: dict[Half, str] = {h: n for n, (f, h) in self.layout.items() if f == field}
        if None in halves:
            return sets.get(halves[None], f"acc.{field}")
        hi, lo = sets.get(halves["hi"]), sets.get(halves["lo"])
        if hi is None and lo is None:
            return f"acc.{field}"
        high = f"(acc.{field} >> 64) << 64" if hi is None else f"CAST({hi} AS HUGEINT) << 64"
        low = f"acc.{field} & {_LOW}" if lo is None else f"CAST({lo} AS HUGEINT)"
        return f"(({high}) | ({low}))"

    def sql(self, seq: str) -> str:
        """The fold over the list column ``seq``: a struct (DuckDB) or tuple (ClickHouse)."""
        arms = self.arms()
        if self.dialect is Dialect.CLICKHOUSE:

            def tup(sets: dict[str, str]) -> str:
                if not sets:
                    return "acc"
                return "tuple(" + ", ".join(sets.get(n, self.f(n)) for n in self.names) + ")"

            cases = ", ".join(f"{cond}, {tup(sets)}" for cond, sets in arms)
            init = "tuple(" + ", ".join("toInt64(0)" for _ in self.names) + ")"
            return f"arrayFold((acc, x) -> multiIf({cases}, acc), {seq}, {init})"

        def struct(sets: dict[str, str]) -> str:
            if not sets:
                return "acc"
            packed = ", ".join(f"{n} := {self._field(n, sets)}" for n in self.fields)
            return f"struct_pack({packed})"

        cases = " ".join(f"WHEN {cond} THEN {struct(sets)}" for cond, sets in arms)
        types = {f: "BIGINT" if h is None else "HUGEINT" for f, h in self.layout.values()}
        init = "{" + ", ".join(f"'{n}': 0::{types[n]}" for n in self.fields) + "}"
        return f"list_reduce({seq}, lambda acc, x: CASE {cases} ELSE acc END, {init})"

    def reached(self, state: str, j: int) -> str:
        """SQL true when the folded ``state`` reached step ``j``."""
        return self.positive(state, f"g{j}" if j == self.k else f"r{j}")

    def gap(self, state: str, j: int) -> str:
        """Microseconds from step j−1 to step j in the folded ``state``."""
        if j == 2 and self.k > 2:
            l2, r2 = self.value(state, "l2"), self.value(state, "r2")
            return f"({self.micros(l2)} - {self.micros(r2)})"
        return self.value(state, f"g{j}")


# -- the statement -----------------------------------------------------------------------


def _step_conditions(query: FunnelQuery, dialect: Dialect) -> list[str]:
    conditions = [event_condition_sql(s.event, s.filters, dialect) for s in query.steps]
    conditions[0] += f" AND timestamp < {lit(query.end, dialect)}"
    return [f"({c})" for c in conditions]


def _overlapping(query: FunnelQuery) -> bool:
    names = [s.event for s in query.steps]
    return len(set(names)) < len(names)


def _steps_cte(query: FunnelQuery, dialect: Dialect) -> str:
    conditions = _step_conditions(query, dialect)
    micros = micros_sql("timestamp", dialect)
    value = _event_breakdown_sql(query.breakdown, dialect)
    extra = f", {value} AS b" if value else ""
    where = (
        f"timestamp >= {lit(query.start, dialect)} "
        f"AND timestamp < {lit(query.end + query.window, dialect)} "
        f"AND ({' OR '.join(conditions)})"
    )
    if not _overlapping(query):
        case = " ".join(f"WHEN {c} THEN {code_of(i + 1)}" for i, c in enumerate(conditions))
        return (
            f"steps AS (SELECT person_id, {micros} * 8 + CASE {case} END AS c{extra} "
            f"FROM events WHERE {where})"
        )
    # An event matching several steps becomes one row per step it matches.
    if dialect is Dialect.CLICKHOUSE:
        matched = ", ".join(f"if({c}, {code_of(i + 1)}, 0)" for i, c in enumerate(conditions))
        step = f"arrayJoin(arrayFilter(s -> s > 0, [{matched}]))"
        return (
            f"steps AS (SELECT person_id, {micros} * 8 + {step} AS c{extra} "
            f"FROM events WHERE {where})"
        )
    matched = ", ".join(
        f"CASE WHEN {c} THEN {code_of(i + 1)} END" for i, c in enumerate(conditions)
    )
    return (
        f"steps AS (SELECT person_id, {micros} * 8 + s AS c{extra} FROM ("
        f"SELECT *, unnest(list_filter([{matched}], lambda v: v IS NOT NULL)) AS s "
        f"FROM events WHERE {where}))"
    )


def _event_breakdown_sql(breakdown: Breakdown | None, dialect: Dialect) -> str | None:
    if breakdown is None or breakdown.kind is BreakdownKind.FIRST_TOUCH_CHANNEL:
        return None
    name = "channel" if breakdown.kind is BreakdownKind.EVENT_CHANNEL else breakdown.property
    assert name is not None
    return text_sql(name, dialect)


def _persons_cte(query: FunnelQuery, dialect: Dialect) -> str:
    k, w = len(query.steps), int(query.window.total_seconds() * 1_000_000)
    has_b = _event_breakdown_sql(query.breakdown, dialect) is not None
    if dialect is Dialect.CLICKHOUSE:
        mode = ", 'strict_increase'" + (
            ", 'strict_order'" if query.order is FunnelOrder.STRICT else ""
        )
        conds = ", ".join(f"c % 8 = {code_of(j)}" for j in range(1, k + 1))
        cols = [
            "person_id",
            "arraySort(groupArray(c)) AS seq",
            f"windowFunnel({w * 8}{mode})(toUInt64(c), {conds}) AS level",
        ]
        if has_b:
            cols.append(f"argMinIf(b, c, c % 8 = {code_of(1)}) AS b")
        having = f"countIf(c % 8 = {code_of(1)}) > 0"
    else:
        cols = ["person_id", "list_sort(list(c)) AS seq"]
        if has_b:
            cols.append(f"arg_min(b, c) FILTER (WHERE c % 8 = {code_of(1)}) AS b")
        having = f"bool_or(c % 8 = {code_of(1)})"
    return f"persons AS (SELECT {', '.join(cols)} FROM steps GROUP BY person_id HAVING {having})"


def _first_touch_cte(query: FunnelQuery, dialect: Dialect) -> str:
    tie = "(timestamp, message_id)"
    arg = "argMin" if dialect is Dialect.CLICKHOUSE else "arg_min"
    return (
        f"touch AS (SELECT person_id, {arg}(channel, {tie}) AS b FROM events "
        f"WHERE channel IS NOT NULL AND timestamp < {lit(query.end, dialect)} GROUP BY person_id)"
    )


def _first_touch(query: FunnelQuery) -> bool:
    return query.breakdown is not None and query.breakdown.kind is BreakdownKind.FIRST_TOUCH_CHANNEL


def _folded_cte(query: FunnelQuery, dialect: Dialect, fold: _Fold) -> str:
    source = "persons LEFT JOIN touch USING (person_id)" if _first_touch(query) else "persons"
    b = ", b" if query.breakdown is not None else ""
    if dialect is Dialect.CLICKHOUSE:
        return f"folded AS (SELECT {fold.sql('seq')} AS st, level{b} FROM {source})"
    reached = " + ".join(f"({fold.reached('st', j)})::INT" for j in range(1, len(query.steps) + 1))
    return (
        f"folded AS (SELECT st, {reached} AS level{b} "
        f"FROM (SELECT {fold.sql('seq')} AS st{b} FROM {source}))"
    )


def _aggregates(query: FunnelQuery, dialect: Dialect, fold: _Fold) -> str:
    k = len(query.steps)
    cols = []
    for j in range(1, k + 1):
        if dialect is Dialect.CLICKHOUSE:
            cols.append(f"countIf(level >= {j}) AS s{j}")
        else:
            cols.append(f"count(*) FILTER (WHERE level >= {j}) AS s{j}")
    for j in range(2, k + 1):
        gap = f"{fold.gap('st', j)} / 1000000"
        if dialect is Dialect.CLICKHOUSE:
            cols.append(f"quantileExactInclusiveIf(0.5)({gap}, level >= {j}) AS m{j}")
        else:
            cols.append(f"quantile_cont({gap}, 0.5) FILTER (WHERE level >= {j}) AS m{j}")
    return ", ".join(cols)


def funnel_sql(query: FunnelQuery, dialect: Dialect) -> str:
    """One statement computing the funnel's per-step persons and median step times.

    Rows: ``is_total`` (1 for all persons, 0 per breakdown value), ``breakdown``,
    ``s1..sk`` (persons reaching each step), ``m2..mk`` (median seconds from the step
    before).
    """
    k = len(query.steps)
    fold = _Fold(
        k, int(query.window.total_seconds() * 1_000_000), query.order is FunnelOrder.STRICT, dialect
    )
    ctes = [_steps_cte(query, dialect), _persons_cte(query, dialect)]
    if _first_touch(query):
        ctes.append(_first_touch_cte(query, dialect))
    ctes.append(_folded_cte(query, dialect, fold))
    aggregates = _aggregates(query, dialect, fold)
    null = "CAST(NULL AS Nullable(String))" if dialect is Dialect.CLICKHOUSE else "NULL::VARCHAR"
    ctes_sql = ",\n".join(ctes)
    sql = f"WITH {ctes_sql}\nSELECT 1 AS is_total, {null} AS breakdown, {aggregates} FROM folded"
    if query.breakdown is not None:
        per_value = f"SELECT 0 AS is_total, b AS breakdown, {aggregates} FROM folded GROUP BY b"
        sql += f"\nUNION ALL\n{per_value}"
    return sql + "\nORDER BY is_total DESC, s1 DESC, breakdown"


# -- reading results ---------------------------------------------------------------------


def _series(row: dict[str, object], query: FunnelQuery) -> list[FunnelStepResult]:
    counts = [int(row.get(f"s{j}") or 0) for j in range(1, len(query.steps) + 1)]  # type: ignore[call-overload]
    steps = []
    for i, step in enumerate(query.steps):
        median = row.get(f"m{i + 1}") if i and counts[i] else None
        steps.append(
            FunnelStepResult(
                step=i + 1,
                name=step.name,
                persons=counts[i],
                conversion_from_first=counts[i] / counts[0] if counts[0] else 0.0,
                conversion_from_previous=(
                    counts[i] / counts[i - 1]
                    if i and counts[i - 1]
                    else float(i == 0 and counts[0] > 0)
                ),
                median_seconds_from_previous=None if median is None else round(float(median), 3),  # type: ignore[arg-type]
            )
        )
    return steps


def read_funnel(table: pa.Table, query: FunnelQuery) -> FunnelResult:
    """The typed result of :func:`funnel_sql`'s rows."""
    total = FunnelSeries(steps=_series({}, query))
    breakdown = []
    for row in table.to_pylist():
        value = row["breakdown"]
        series = FunnelSeries(
            breakdown_value=None if value is None else str(value), steps=_series(row, query)
        )
        if row["is_total"]:
            total = series
        else:
            breakdown.append(series)
    return FunnelResult(query=query, total=total, breakdown=breakdown)

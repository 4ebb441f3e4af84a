"""SQL building blocks shared by the analytics compilers, one spelling per dialect."""

from __future__ import annotations

from datetime import datetime

from siyu.analytics.engine import Dialect, sql_literal
from siyu.analytics.models import COLUMNS, FilterOp, PropertyFilter, Scalar

_COMPARE = {
    FilterOp.EQ: "=",
    FilterOp.NEQ: "!=",
    FilterOp.GT: ">",
    FilterOp.GTE: ">=",
    FilterOp.LT: "<",
    FilterOp.LTE: "<=",
}


def lit(value: object, dialect: Dialect) -> str:
    """Shorthand for :func:`sql_literal`."""
    return sql_literal(value, dialect)


def micros_sql(column: str, dialect: Dialect) -> str:
    """A timestamp column as integer microseconds since the epoch."""
    if dialect is Dialect.CLICKHOUSE:
        return f"toUnixTimestamp64Micro({column})"
    return f"epoch_us({column})"


def text_sql(name: str, dialect: Dialect) -> str:
    """A column, or a JSON property of ``properties`` as text (NULL when absent/empty)."""
    if name in COLUMNS:
        return (
            f"CAST({name} AS {'Nullable(String)' if dialect is Dialect.CLICKHOUSE else 'VARCHAR'})"
        )
    if dialect is Dialect.CLICKHOUSE:
        path = ", ".join(lit(p, dialect) for p in name.split("."))
        # JSONExtractString is '' for non-strings; the raw form keeps numbers as written.
        return (
            f"nullIf(if(JSONType(properties, {path}) = 'String', "
            f"JSONExtractString(properties, {path}), JSONExtractRaw(properties, {path})), '')"
        )
    return f"nullif(json_extract_string(properties, {lit('$.' + name, dialect)}), '')"


def number_sql(name: str, dialect: Dialect) -> str:
    """A column or JSON property as a float (NULL when absent or not numeric)."""
    if name == "revenue_fen":
        return "revenue_fen"
    text = text_sql(name, dialect)
    if dialect is Dialect.CLICKHOUSE:
        return f"toFloat64OrNull({text})"
    return f"TRY_CAST({text} AS DOUBLE)"


def _text(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def filter_sql(condition: PropertyFilter, dialect: Dialect) -> str:
    """One property filter as a boolean expression (NULL/absent never matches)."""
    name, op, value = condition.property, condition.op, condition.value
    if op in (FilterOp.GT, FilterOp.GTE, FilterOp.LT, FilterOp.LTE):
        return f"coalesce({number_sql(name, dialect)} {_COMPARE[op]} {lit(value, dialect)}, false)"
    if name == "revenue_fen" and isinstance(value, int | float) and not isinstance(value, bool):
        return f"coalesce(revenue_fen {_COMPARE.get(op, '=')} {lit(value, dialect)}, false)"
    text = text_sql(name, dialect)
    if op is FilterOp.IN:
        values = value if isinstance(value, list) else [value]
        return f"coalesce({text} IN ({', '.join(lit(_text(v), dialect) for v in values)}), false)"
    if op is FilterOp.CONTAINS:
        needle = lit(_text(value), dialect)  # type: ignore[arg-type]
        found = f"position({text}, {needle}) > 0"
        return f"coalesce({found}, false)"
    return f"coalesce({text} {_COMPARE[op]} {lit(_text(value), dialect)}, false)"  # type: ignore[arg-type]


def event_condition_sql(event: str, filters: list[PropertyFilter], dialect: Dialect) -> str:
    """``event = name`` and every filter."""
    parts = [f"event = {lit(event, dialect)}", *(filter_sql(f, dialect) for f in filters)]
    return " AND ".join(parts)


def time_range_sql(start: datetime, end: datetime, dialect: Dialect) -> str:
    """``timestamp`` in [start, end)."""
    return f"timestamp >= {lit(start, dialect)} AND timestamp < {lit(end, dialect)}"

"""What differs between the four SQL dialects a segment compiles to: literals and a few
functions. Everything else the compiler writes is common SQL."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from enum import StrEnum

from siyu.core.errors import InvalidInputError


class Dialect(StrEnum):
    """Where a compiled segment runs."""

    DUCKDB = "duckdb"  # events + operational relations shipped as Arrow
    CLICKHOUSE = "clickhouse"  # same, ClickHouse SQL (chdb in CI)
    SQLITE = "sqlite"  # operational store only: no event conditions
    POSTGRESQL = "postgresql"


EVENT_DIALECTS = frozenset({Dialect.DUCKDB, Dialect.CLICKHOUSE})

_DOUBLE = {
    Dialect.DUCKDB: "DOUBLE",
    Dialect.CLICKHOUSE: "Float64",
    Dialect.SQLITE: "REAL",
    Dialect.POSTGRESQL: "DOUBLE PRECISION",
}


def string(value: str, dialect: Dialect) -> str:
    """A quoted string literal."""
    if dialect is Dialect.CLICKHOUSE:
        # ClickHouse reads backslash escapes inside quoted strings.
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return "'" + value.replace("'", "''") + "'"


def number(value: float, dialect: Dialect) -> str:
    """A numeric literal (integers stay integers)."""
    if isinstance(value, bool) or not math.isfinite(value):
        raise InvalidInputError(f"not a finite number: {value!r}", field="value")
    if float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


def timestamp(value: datetime, dialect: Dialect) -> str:
    """An instant, compared with the dialect's stored UTC times."""
    # isoformat pads the year to four digits; strftime's %Y writes year 289 as "289".
    text = value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    match dialect:
        case Dialect.CLICKHOUSE:
            return f"toDateTime64('{text}', 6, 'UTC')"
        case Dialect.SQLITE:  # SQLAlchemy stores naive UTC text in exactly this form
            return f"'{text}'"
        case _:
            return f"TIMESTAMPTZ '{text}+00'"


def scalar(value: str | float | bool, dialect: Dialect) -> str:
    """A string or number literal; booleans as the strings 'true' / 'false'."""
    if isinstance(value, bool):
        return string("true" if value else "false", dialect)
    if isinstance(value, str):
        return string(value, dialect)
    return number(value, dialect)


def to_double(expr: str, dialect: Dialect) -> str:
    """``expr`` cast to a double."""
    return f"CAST({expr} AS {_DOUBLE[dialect]})"


def contains(haystack: str, needle: str, dialect: Dialect) -> str:
    """Whether ``needle`` occurs in ``haystack`` (both SQL expressions)."""
    match dialect:
        case Dialect.CLICKHOUSE:
            return f"position({haystack}, {needle}) > 0"
        case Dialect.POSTGRESQL:
            return f"strpos({haystack}, {needle}) > 0"
        case _:
            return f"instr({haystack}, {needle}) > 0"


def plus_days(expr: str, days: int, dialect: Dialect) -> str:
    """A timestamp expression plus whole days (event dialects)."""
    if dialect is Dialect.CLICKHOUSE:
        return f"{expr} + toIntervalDay({int(days)})"
    return f"{expr} + INTERVAL {int(days)} DAY"


def json_value(column: str, keys: list[str], kind: str, dialect: Dialect) -> str:
    """A scalar at a JSON path of an event column, or NULL when absent or of another kind.

    ``kind`` is ``str``, ``num``, ``bool`` (gives 'true'/'false') or ``any`` (non-null
    if present and not JSON null). Only event dialects read event JSON.
    """
    if dialect is Dialect.CLICKHOUSE:
        args = ", ".join([column, *(string(k, dialect) for k in keys)])
        kind_of = f"JSONType({args})"
        match kind:
            case "str":
                return f"if({kind_of} = 'String', JSONExtractString({args}), NULL)"
            case "num":
                numeric = "('Int64', 'UInt64', 'Double')"
                return f"if({kind_of} IN {numeric}, JSONExtractFloat({args}), NULL)"
            case "bool":
                return f"if({kind_of} = 'Bool', if(JSONExtractBool({args}), 'true', 'false'), NULL)"
            case _:
                return f"if({kind_of} IN ('Null'), NULL, 1)"
    path = string("$" + "".join('."' + k.replace('"', '\\"') + '"' for k in keys), dialect)
    kind_of = f"json_type({column}, {path})"
    match kind:
        case "str":
            return f"CASE WHEN {kind_of} = 'VARCHAR' THEN json_extract_string({column}, {path}) END"
        case "num":
            numeric = "('BIGINT', 'UBIGINT', 'HUGEINT', 'DOUBLE')"
            return (
                f"CASE WHEN {kind_of} IN {numeric} "
                f"THEN CAST(json_extract_string({column}, {path}) AS DOUBLE) END"
            )
        case "bool":
            return f"CASE WHEN {kind_of} = 'BOOLEAN' THEN json_extract_string({column}, {path}) END"
        case _:
            return f"CASE WHEN {kind_of} <> 'NULL' THEN 1 END"

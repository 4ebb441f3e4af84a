"""Segment builder: rows of the visual rule builder in, a typed segment definition out."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from siyu.core.errors import InvalidInputError
from siyu.segments.models import (
    CONDITION,
    Condition,
    CountOp,
    Op,
)

RuleKind = Literal["trait", "computed", "tag", "event"]
KINDS: tuple[RuleKind, ...] = ("trait", "computed", "tag", "event")
TRAIT_OPS = tuple(op.value for op in Op)
COUNT_OPS = tuple(op.value for op in CountOp)


class RuleRow(BaseModel):
    """One condition as the builder holds it: text fields, parsed when the definition is made."""

    kind: RuleKind = "trait"
    name: str = Field(default="", description="Trait name, computed trait, tag or event name.")
    op: str = "eq"
    value: str = Field(default="", description="Compared value; comma-separated for in/not_in.")
    days: int | None = Field(default=None, description="Event window: the last N days.")


def parse_scalar(text: str) -> str | int | float | bool:
    """The value an operator typed: a number or true/false when it reads as one, else text."""
    stripped = text.strip()
    if stripped.lower() in ("true", "false"):
        return stripped.lower() == "true"
    for kind in (int, float):
        try:
            return kind(stripped)
        except ValueError:
            continue
    return stripped


def _trait(row: RuleRow) -> dict[str, object]:
    node: dict[str, object] = {"type": "trait", "name": row.name.strip(), "op": row.op}
    if row.op in (Op.IN.value, Op.NOT_IN.value):
        node["value"] = [parse_scalar(part) for part in row.value.split(",") if part.strip()]
    elif row.op != Op.EXISTS.value:
        node["value"] = row.value.strip() if row.op == "contains" else parse_scalar(row.value)
    return node


def _number(text: str, field: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise InvalidInputError(f"{text!r} is not a number", field=field) from None


def node_of(row: RuleRow) -> dict[str, object]:
    """The definition node of one builder row (not yet validated)."""
    if row.kind == "trait":
        return _trait(row)
    if row.kind == "computed":
        return {
            "type": "computed",
            "name": row.name,
            "op": row.op,
            "value": _number(row.value, "value"),
        }
    if row.kind == "tag":
        return {"type": "tag", "tag": row.name.strip()}
    window = {"days": row.days} if row.days else {}
    return {
        "type": "event",
        "event": row.name.strip(),
        "count": {"op": row.op, "value": _number(row.value or "1", "value")},
        "window": window,
    }


def definition_of(combinator: Literal["all", "any"], rows: Iterable[RuleRow]) -> Condition:
    """The segment definition the builder shows: all (or any) of its conditions.

    Raises:
        InvalidInputError: no condition, or one that does not make a valid definition; the
            message names the first problem.
    """
    nodes = [node_of(row) for row in rows]
    if not nodes:
        raise InvalidInputError("add at least one condition", field="conditions")
    try:
        return CONDITION.validate_python({"type": combinator, "of": nodes})
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"] if not isinstance(part, int))
        raise InvalidInputError(f"{where}: {first['msg']}", field="definition") from None


def csv_text(rows: Iterable[list[str]]) -> str:
    """Rows as CSV text (UTF-8 with a BOM, so Excel opens Chinese correctly)."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue()

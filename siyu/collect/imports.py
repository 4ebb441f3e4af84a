"""Turn order and member exports (CSV or Parquet) into Segment-spec messages, row by row.

For data that never passed an SDK: Taobao / JD order reports, cash-register (POS/ERP)
exports, member lists. The file's encoding (UTF-8, UTF-8 with BOM, GBK/GB18030) and its
source (``taobao``, ``jd``, ``pos``, ``generic``; see :mod:`siyu.collect.mappings`) are
detected unless named.

Choices an operator should know:

- **Orders** become ``track "Order Completed"`` with ``order_id``, ``revenue`` (yuan, as
  text; collect turns it into fen), ``products`` when the export names them, ``store_id``
  and ``source``; the time is the payment time if present, else the creation time, taken in
  the workspace's zone when the cell has none. The message id is
  ``import:orders:<source>:<order_id>``, so importing a file twice (or an overlapping later
  export) adds nothing; a later change of an order's status is not re-imported.
- **Orders that are not a sale are skipped** (written to the reject file with a reason
  starting ``skipped:``, counted apart from errors): unpaid, cancelled, closed
  (``交易关闭``, which Taobao uses both for never-paid and for fully refunded orders) and
  refunded ones. Importing them as another event would not help: the export does not say
  reliably whether a closed order was ever paid. A partial refund (``退款金额``) is
  subtracted from the revenue; an order refunded in full is skipped.
- **Members** become ``identify`` calls whose traits carry the identifiers (phone, member
  number, unionid…) and the profile fields (name, gender, birthday, level, points,
  registered store and time). The time is the registration time when known. The message id
  is a keyed hash of the row's content: the same file adds nothing, an updated export
  (new points or level) is imported again as a newer identify.
- Identifiers: orders carry theirs in ``context.externalIds``; a row without a ``user_id``
  gets a pseudonymous ``anonymousId`` (a keyed hash of its strongest identifier, never the
  value in clear). Masked phone numbers (``138****5678``, common in Taobao exports) are
  ignored, not rejected.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import orjson
from pydantic import BaseModel, Field

from siyu.collect.mappings import (
    ID_FIELDS,
    MEMBER_COLUMNS,
    NOT_SOLD_STATUSES,
    ORDER_COLUMNS,
    SOURCE_CHANNELS,
    SOURCES,
    Columns,
    cells,
)
from siyu.collect.mappings.exports import (
    CHUNK_ROWS,
    RejectWriter,
    SourceRow,
    TableFile,
    detect_encoding,
    open_table,
)
from siyu.collect.models import IngestResult, Rejection
from siyu.core.crypto import Vault
from siyu.core.errors import InvalidInputError

_LIBRARY = {"name": "siyu-import", "version": "1"}

__all__ = [
    "CHUNK_ROWS",
    "ImportKind",
    "ImportPlan",
    "ImportSummary",
    "MappedRows",
    "RejectWriter",
    "RowRejection",
    "SourceRow",
    "TableFile",
    "detect_encoding",
    "map_rows",
    "open_table",
    "plan_import",
    "run_import",
]


class ImportKind(StrEnum):
    """What an export holds."""

    ORDERS = "orders"
    MEMBERS = "members"


class RowRejection(NamedTuple):
    """A row not imported, why, and the row as it was."""

    line: int
    reason: str
    cells: dict[str, Any]
    skipped: bool = False


class RowSkippedError(Exception):
    """The row is valid but deliberately not imported (e.g. a cancelled order)."""


@dataclass(frozen=True)
class ImportPlan:
    """How to map rows: kind, source, resolved header per field, the workspace's zone."""

    kind: ImportKind
    source: str
    columns: dict[str, str]
    zone: ZoneInfo
    vault: Vault


@dataclass
class MappedRows:
    """Messages made from a chunk of rows (with their lines), and the rows that failed."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    rejected: list[RowRejection] = field(default_factory=list)


class ImportSummary(BaseModel):
    """What an import did."""

    file: str
    kind: ImportKind
    source: str = Field(description="Mapping used: taobao, jd, pos or generic.")
    encoding: str | None = Field(description="Text encoding detected (CSV only).")
    rows_read: int = 0
    imported: int = Field(default=0, description="New events committed.")
    duplicates: int = Field(default=0, description="Rows already imported (same message id).")
    skipped: int = Field(default=0, description="Rows deliberately left out (e.g. cancelled).")
    rejected: int = Field(default=0, description="Rows that could not be read or validated.")
    reject_file: str | None = Field(default=None, description="CSV of skipped/rejected rows.")


# -- choosing the mapping --------------------------------------------------------------


def _match(headers: Sequence[str], columns: Columns) -> dict[str, str]:
    by_name = {h.lower(): h for h in headers}
    found = {}
    for name, spellings in columns.items():
        header = next((by_name[s.lower()] for s in spellings if s.lower() in by_name), None)
        if header is not None:
            found[name] = header
    return found


def _usable(kind: ImportKind, found: dict[str, str]) -> bool:
    has_id = any(f in found for f in ID_FIELDS)
    if kind is ImportKind.MEMBERS:
        return has_id
    has_amount = "amount" in found or "amount_fen" in found
    return has_id and has_amount and "order_id" in found and "ordered_at" in found


def resolve_columns(
    headers: Sequence[str], kind: ImportKind, source: str | None
) -> tuple[str, dict[str, str]]:
    """The source (given or guessed from the headers) and the header used for each field."""
    table = ORDER_COLUMNS if kind is ImportKind.ORDERS else MEMBER_COLUMNS
    if source is not None and source not in SOURCES:
        raise InvalidInputError(
            f"unknown source {source!r}; one of {', '.join(SOURCES)}", field="source"
        )
    candidates = [source] if source else list(SOURCES)
    usable = [(s, found) for s in candidates if _usable(kind, found := _match(headers, table[s]))]
    if not usable:
        need = (
            "an order id, an amount, a time and a customer id"
            if kind is ImportKind.ORDERS
            else "a customer id"
        )
        shown = ", ".join(headers[:12]) + (" …" if len(headers) > 12 else "")
        mapping = f"the {source} mapping" if source else "any known mapping"
        raise InvalidInputError(
            f"no mappable columns: {mapping} needs {need}; the file has {shown}", field="file"
        )
    # Most fields matched wins; ties go to the more specific source (taobao, jd, pos, generic).
    best, found = max(usable, key=lambda item: (len(item[1]), -SOURCES.index(item[0])))
    return best, found


def plan_import(
    table: TableFile, *, kind: ImportKind, source: str | None, timezone: str, vault: Vault
) -> ImportPlan:
    """The mapping for ``table``; InvalidInputError for an unknown source or no usable columns."""
    chosen, columns = resolve_columns(table.headers, kind, source)
    return ImportPlan(kind, chosen, columns, ZoneInfo(timezone), vault)


# -- mapping rows ----------------------------------------------------------------------


def _cell(plan: ImportPlan, row: dict[str, Any], name: str) -> Any:
    header = plan.columns.get(name)
    return None if header is None else row.get(header)


def _identifiers(plan: ImportPlan, row: dict[str, Any]) -> dict[str, str]:
    found = {}
    for name in ID_FIELDS:
        try:
            value = cells.identifier(_cell(plan, row, name))
        except ValueError as exc:
            raise ValueError(f"{plan.columns[name]}: {exc}") from None
        if value is not None:
            found[name] = value
    if not found:
        headers = [plan.columns[n] for n in ID_FIELDS if n in plan.columns]
        raise ValueError(f"no customer identifier (all of {', '.join(headers)} are empty)")
    return found


def _pseudonym(plan: ImportPlan, ids: dict[str, str]) -> str:
    name, value = next(iter(ids.items()))
    return "import:" + plan.vault.lookup_hash("import-anonymous", f"{name}:{value}")[:26]


def _envelope(plan: ImportPlan, ids: dict[str, str]) -> dict[str, Any]:
    message: dict[str, Any] = {"context": {"library": dict(_LIBRARY)}}
    if "user_id" in ids:
        message["userId"] = ids["user_id"]
    else:
        message["anonymousId"] = _pseudonym(plan, ids)
    channel = SOURCE_CHANNELS.get(plan.source)
    if channel:
        message["context"]["campaign"] = {"source": channel, "medium": "import"}
    return message


def _read(plan: ImportPlan, row: dict[str, Any], name: str, reader: Callable[[Any], Any]) -> Any:
    try:
        return reader(_cell(plan, row, name))
    except ValueError as exc:
        raise ValueError(f"{plan.columns[name]}: {exc}") from None


def _revenue(plan: ImportPlan, row: dict[str, Any]) -> Decimal:
    fen = _read(plan, row, "amount_fen", cells.whole)
    amount = Decimal(fen) / 100 if fen is not None else _read(plan, row, "amount", cells.yuan)
    if amount is None:
        raise ValueError("the amount is empty")
    if amount < 0:
        raise ValueError(f"negative amount {amount}")
    refund = _read(plan, row, "refund", cells.yuan) or Decimal(0)
    if refund > 0 and amount - refund <= 0:
        raise RowSkippedError("refunded in full")
    return max(amount - refund, Decimal(0))


def _products(plan: ImportPlan, row: dict[str, Any]) -> list[dict[str, Any]]:
    name = cells.text(_cell(plan, row, "product_name"))
    product_id = cells.text(_cell(plan, row, "product_id"))
    if name is None and product_id is None:
        return []
    product: dict[str, Any] = {"product_id": product_id, "name": name}
    quantity = _read(plan, row, "quantity", cells.whole)
    if quantity is not None:
        product["quantity"] = quantity
    return [{k: v for k, v in product.items() if v is not None}]


def _check_sold(plan: ImportPlan, row: dict[str, Any]) -> str | None:
    status = cells.text(_cell(plan, row, "status"))
    if status and any(s in status.lower() for s in NOT_SOLD_STATUSES):
        raise RowSkippedError(f"order status {status!r} is not a sale")
    return status


def order_message(plan: ImportPlan, row: dict[str, Any]) -> dict[str, Any]:
    """The ``Order Completed`` message of one order row (ValueError / RowSkippedError)."""
    order_id = _read(plan, row, "order_id", cells.identifier)
    if order_id is None:
        raise ValueError(f"{plan.columns['order_id']}: the order id is empty")
    status = _check_sold(plan, row)
    revenue = _revenue(plan, row)
    when = _read(plan, row, "ordered_at", lambda c: cells.local_time(c, plan.zone))
    if when is None:
        raise ValueError(f"{plan.columns['ordered_at']}: the order time is empty")
    ids = _identifiers(plan, row)
    properties: dict[str, Any] = {
        "order_id": order_id,
        "revenue": f"{revenue:.2f}",
        "currency": "CNY",
        "source": plan.source,
    }
    optional = {
        "products": _products(plan, row),
        "store_id": cells.text(_cell(plan, row, "store_id")),
        "status": status,
    }
    properties.update({k: v for k, v in optional.items() if v})
    message = _envelope(plan, ids)
    message["context"]["externalIds"] = [
        {"type": name, "id": value} for name, value in ids.items() if name != "user_id"
    ]
    message.update(
        type="track",
        event="Order Completed",
        messageId=f"import:orders:{plan.source}:{order_id}",
        timestamp=when.isoformat(),
        properties=properties,
    )
    return message


def _member_traits(plan: ImportPlan, row: dict[str, Any]) -> dict[str, Any]:
    readers: dict[str, Callable[[Any], Any]] = {
        "name": cells.text,
        "gender": cells.gender,
        "birthday": cells.day,
        "level": cells.text,
        "points": cells.whole,
    }
    traits = {name: _read(plan, row, name, reader) for name, reader in readers.items()}
    traits["registered_store"] = cells.text(_cell(plan, row, "store_id"))
    return {k: v for k, v in traits.items() if v is not None}


def member_message(plan: ImportPlan, row: dict[str, Any]) -> dict[str, Any]:
    """The ``identify`` message of one member row (ValueError on a bad cell)."""
    ids = _identifiers(plan, row)
    traits = {name: value for name, value in ids.items() if name != "user_id"}
    traits.update(_member_traits(plan, row))
    registered = _read(plan, row, "registered_at", lambda c: cells.local_time(c, plan.zone))
    if registered is not None:
        traits["registered_at"] = registered.isoformat()
    message = _envelope(plan, ids)
    content = orjson.dumps([ids, traits], option=orjson.OPT_SORT_KEYS).decode()
    digest = plan.vault.lookup_hash("import-member", content)
    message.update(
        type="identify", messageId=f"import:members:{plan.source}:{digest}", traits=traits
    )
    if registered is not None:
        message["timestamp"] = registered.isoformat()
    return message


def map_rows(rows: Sequence[SourceRow], plan: ImportPlan) -> MappedRows:
    """Messages for the rows that map; the others as rejections with their line numbers."""
    build = order_message if plan.kind is ImportKind.ORDERS else member_message
    mapped = MappedRows()
    for row in rows:
        try:
            if row.problem:
                raise ValueError(row.problem)
            message = build(plan, row.cells)
        except RowSkippedError as exc:
            mapped.rejected.append(RowRejection(row.line, f"skipped: {exc}", row.cells, True))
            continue
        except ValueError as exc:
            mapped.rejected.append(RowRejection(row.line, str(exc), row.cells))
            continue
        mapped.messages.append(message)
        mapped.lines.append(row.line)
    return mapped


# -- running an import -----------------------------------------------------------------


def default_rejects_path(path: Path) -> Path:
    """``orders.csv`` → ``orders.rejects.csv`` next to the input."""
    return path.with_name(f"{path.stem}.rejects.csv")


def _reason(rejection: Rejection) -> str:
    # The field path starts with the message's name in the batch ("row[3]."); the reject
    # file already names the line, so keep only the path inside the message.
    _, _, path = rejection.field.partition(".")
    return f"{path}: {rejection.reason}" if path else rejection.reason


def _ingest_chunk(
    rows: list[SourceRow],
    plan: ImportPlan,
    ingest: Callable[[list[dict[str, Any]]], IngestResult],
    summary: ImportSummary,
    rejects: RejectWriter,
) -> None:
    mapped = map_rows(rows, plan)
    result = ingest(mapped.messages) if mapped.messages else IngestResult(accepted=0, duplicates=0)
    by_line = {row.line: row.cells for row in rows}
    invalid = [
        RowRejection(mapped.lines[r.index], _reason(r), by_line[mapped.lines[r.index]])
        for r in result.rejected
    ]
    rejects.write(mapped.rejected + invalid)
    summary.rows_read += len(rows)
    summary.imported += result.accepted
    summary.duplicates += result.duplicates
    summary.skipped += sum(1 for r in mapped.rejected if r.skipped)
    summary.rejected += len(invalid) + sum(1 for r in mapped.rejected if not r.skipped)


def run_import(
    table: TableFile,
    plan: ImportPlan,
    *,
    ingest: Callable[[list[dict[str, Any]]], IngestResult],
    rejects_path: Path | None = None,
    on_rows: Callable[[int], None] | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> ImportSummary:
    """Map ``table`` chunk by chunk and hand each chunk's messages to ``ingest``.

    ``ingest`` validates and commits one chunk (one transaction) and reports what it did;
    the pipeline supplies it, since collect may not call the pipeline itself.
    """
    summary = ImportSummary(
        file=str(table.path), kind=plan.kind, source=plan.source, encoding=table.encoding
    )
    rejects = RejectWriter(rejects_path or default_rejects_path(table.path), table.headers)
    try:
        for rows in table.chunks(chunk_rows):
            _ingest_chunk(rows, plan, ingest, summary, rejects)
            if on_rows is not None:
                on_rows(len(rows))
    finally:
        rejects.close()
    summary.reject_file = str(rejects.path) if rejects.count else None
    return summary

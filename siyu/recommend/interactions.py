"""Person × product interactions read from the event store: views, adds and order lines.

One query over the workspace's events (DuckDB or ClickHouse SQL, as the store takes) turns
``Product Viewed`` and ``Product Added`` (the product in the properties) and each line of
``Order Completed.products`` into rows (person, product, kind, time, order). A product is
keyed by ``product_id``, else ``sku``, else its ``name`` (order exports often carry only a
name). Merged persons are mapped to their survivor here, in Python, from the identity map
the caller passes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import IntEnum

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from siyu.core.eventstore import EventStore
from siyu.recommend.models import Product

VIEWED = "Product Viewed"
ADDED = "Product Added"
ORDERED = "Order Completed"


class Kind(IntEnum):
    """What a person did with a product (stronger is larger)."""

    VIEW = 0
    ADD = 1
    PURCHASE = 2


# One row per product line; JSON kept as text so both branches of the union agree.
_ROWS_SQL = f"""
WITH src AS (
    SELECT person_id, event, timestamp, message_id, properties FROM events
    WHERE person_id IS NOT NULL AND timestamp >= $since AND timestamp < $until
      AND event IN ('{VIEWED}', '{ADDED}', '{ORDERED}') {{persons}}
    QUALIFY row_number() OVER (PARTITION BY message_id ORDER BY received_at) = 1
),
items AS (
    SELECT person_id, event, timestamp, message_id, properties AS item
    FROM src WHERE event <> '{ORDERED}'
    UNION ALL
    SELECT person_id, event, timestamp, message_id,
           CAST(unnest(json_extract(properties, '$.products[*]')) AS VARCHAR) AS item
    FROM src WHERE event = '{ORDERED}'
)
SELECT person_id, event, epoch_us(timestamp) AS at_us, message_id,
       coalesce(json_extract_string(item, '$.product_id'), json_extract_string(item, '$.sku'),
                json_extract_string(item, '$.name')) AS product_id,
       json_extract_string(item, '$.name') AS name,
       json_extract_string(item, '$.category') AS category,
       json_extract_string(item, '$.price') AS price
FROM items
"""
_PERSONS = "AND person_id IN (SELECT unnest($persons))"


def _ch_text(key: str) -> str:
    """ClickHouse for DuckDB's ``json_extract_string(item, '$.key')``: a string as is, any
    other value as its JSON text, NULL when missing or null."""
    return (
        f"multiIf(NOT JSONHas(item, '{key}') OR JSONType(item, '{key}') = 'Null', NULL, "
        f"JSONType(item, '{key}') = 'String', JSONExtractString(item, '{key}'), "
        f"JSONExtractRaw(item, '{key}'))"
    )


_CH_ROWS_SQL = f"""
WITH src AS (
    SELECT person_id, event, timestamp, message_id, properties FROM events
    WHERE person_id != '' AND timestamp >= {{{{since:DateTime64(6, 'UTC')}}}}
      AND timestamp < {{{{until:DateTime64(6, 'UTC')}}}}
      AND event IN ('{VIEWED}', '{ADDED}', '{ORDERED}') {{persons}}
    ORDER BY received_at LIMIT 1 BY message_id
),
items AS (
    SELECT person_id, event, timestamp, message_id, ifNull(properties, '{{{{}}}}') AS item
    FROM src WHERE event != '{ORDERED}'
    UNION ALL
    SELECT person_id, event, timestamp, message_id,
           arrayJoin(JSONExtractArrayRaw(ifNull(properties, ''), 'products')) AS item
    FROM src WHERE event = '{ORDERED}'
)
SELECT person_id, event, toUnixTimestamp64Micro(timestamp) AS at_us, message_id,
       coalesce({_ch_text("product_id")}, {_ch_text("sku")}, {_ch_text("name")}) AS product_id,
       {_ch_text("name")} AS name,
       {_ch_text("category")} AS category,
       {_ch_text("price")} AS price
FROM items
"""
_CH_PERSONS = "AND has({persons:Array(String)}, person_id)"


@dataclass(frozen=True)
class Interactions:
    """Interaction rows as parallel arrays; ``order`` is the order's message id ('' else)."""

    person: NDArray[np.object_]
    product: NDArray[np.object_]
    kind: NDArray[np.int8]
    at_us: NDArray[np.int64]
    order: NDArray[np.object_]

    def __len__(self) -> int:
        return len(self.kind)

    def where(self, mask: NDArray[np.bool_]) -> Interactions:
        """The rows where ``mask`` holds."""
        return Interactions(
            self.person[mask],
            self.product[mask],
            self.kind[mask],
            self.at_us[mask],
            self.order[mask],
        )


def empty() -> Interactions:
    """No interactions."""
    none = np.zeros(0, dtype=object)
    return Interactions(none, none.copy(), np.zeros(0, np.int8), np.zeros(0, np.int64), none.copy())


def read_rows(
    store: EventStore,
    *,
    workspace_id: str,
    since: datetime,
    until: datetime,
    person_ids: Sequence[str] | None = None,
) -> pa.Table:
    """The raw interaction rows in [since, until), optionally of some persons only (DuckDB
    or ClickHouse SQL, as the store takes)."""
    sql, persons = (
        (_ROWS_SQL, _PERSONS) if store.dialect == "duckdb" else (_CH_ROWS_SQL, _CH_PERSONS)
    )
    params: dict[str, object] = {"since": since, "until": until}
    if person_ids is not None:
        params["persons"] = list(person_ids)
    return store.query(
        workspace_id, sql.format(persons=persons if person_ids is not None else ""), params
    )


def from_rows(table: pa.Table, survivors: Mapping[str, str]) -> Interactions:
    """Interactions from :func:`read_rows`, absorbed persons mapped to their survivor."""
    products = table.column("product_id").to_pylist()
    keep = np.array([p is not None and p != "" for p in products], dtype=bool)
    if not keep.any():
        return empty()
    events = np.array(table.column("event").to_pylist(), dtype=object)[keep]
    person = np.array(table.column("person_id").to_pylist(), dtype=object)
    if survivors:
        person = np.array([survivors.get(p, p) for p in person], dtype=object)
    kind = np.full(len(events), Kind.VIEW, dtype=np.int8)
    kind[events == ADDED] = Kind.ADD
    kind[events == ORDERED] = Kind.PURCHASE
    message = np.array(table.column("message_id").to_pylist(), dtype=object)[keep]
    return Interactions(
        person=person[keep],
        product=np.array(products, dtype=object)[keep],
        kind=kind,
        at_us=table.column("at_us").to_numpy(zero_copy_only=False).astype(np.int64)[keep],
        order=np.where(kind == Kind.PURCHASE, message, ""),
    )


def _fen(price: str | None) -> int | None:
    if price is None:
        return None
    try:
        value = Decimal(price)
    except InvalidOperation:
        return None
    return int(value * 100) if value.is_finite() and value >= 0 else None


def catalogue_of(table: pa.Table) -> dict[str, Product]:
    """Products seen in the rows: the latest known name, price and category of each."""
    latest: dict[str, list[object]] = {}
    columns = ("product_id", "name", "category", "price", "at_us")
    rows = zip(*(table.column(c).to_pylist() for c in columns), strict=True)
    for product_id, *values, _ in sorted(rows, key=lambda r: r[4]):
        if product_id:
            known = latest.setdefault(product_id, [None, None, None])
            for i, value in enumerate(values):
                if value is not None:
                    known[i] = value
    return {
        key: Product(
            product_id=key,
            name=name if isinstance(name, str) else None,
            category=category if isinstance(category, str) else None,
            price_fen=_fen(price) if isinstance(price, str) else None,
        )
        for key, (name, category, price) in latest.items()
    }

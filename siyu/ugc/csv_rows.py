"""Reading a CSV export of posts: columns checked once, each row a post or an error that
names the row and the field (pure: no store, no clock).

Columns (header names, any order): ``platform``, ``posted_at`` (ISO 8601; without an offset
it is the workspace's local time), and the author as ``person_id`` or any identifier type
(``phone``, ``member_id``, ``mp_openid``, ``unionid``, …); optional ``external_id``, ``url``,
``text``, ``images`` and ``product_ids`` (separated by ``|``), ``rating``, ``campaign``,
``views``, ``likes``, ``shares``, ``comments``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from siyu.collect.models import IdType
from siyu.core.errors import InvalidInputError
from siyu.ugc.models import PostCreate, RowError

POST_COLUMNS = frozenset(
    {"platform", "external_id", "url", "text", "images", "rating", "product_ids", "campaign",
     "posted_at", "person_id"}
)  # fmt: skip
METRIC_COLUMNS = ("views", "likes", "shares", "comments")
ID_COLUMNS = frozenset(t.value for t in IdType)
KNOWN = POST_COLUMNS | ID_COLUMNS | frozenset(METRIC_COLUMNS)
_LISTS = ("images", "product_ids")


def decode(data: bytes) -> str:
    """UTF-8 (a BOM is dropped), else GB18030 (what Excel on a Chinese Windows saves)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return data.decode("gb18030")
        except UnicodeDecodeError:
            raise InvalidInputError("not UTF-8 or GBK text", field="file") from None


def read_rows(text: str) -> tuple[list[str], Iterator[dict[str, str]]]:
    """The header and the rows; refuses a header missing a required column or naming an
    unknown one (a misspelt column would otherwise drop its values silently)."""
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    reader.fieldnames = header
    unknown = sorted(set(header) - KNOWN)
    if unknown:
        raise InvalidInputError(f"unknown columns: {', '.join(unknown)}", field=unknown[0])
    for required in ("platform", "posted_at"):
        if required not in header:
            raise InvalidInputError(f"the header has no {required} column", field=required)
    if "person_id" not in header and not ID_COLUMNS & set(header):
        raise InvalidInputError(
            "name the author: a person_id column or an identifier column (phone, member_id…)",
            field="person_id",
        )
    return header, reader


def _posted_at(value: str, zone: ZoneInfo) -> datetime | str:
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return value  # pydantic names the field and the problem
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


def _body(row: dict[str, str], zone: ZoneInfo) -> dict[str, Any]:
    cells = {k: (v or "").strip() for k, v in row.items() if k is not None}
    body: dict[str, Any] = {
        k: v for k, v in cells.items() if v and k in POST_COLUMNS and k not in _LISTS
    }
    for name in _LISTS:
        if cells.get(name):
            body[name] = [part.strip() for part in cells[name].split("|") if part.strip()]
    if "posted_at" in body:
        body["posted_at"] = _posted_at(body["posted_at"], zone)
    body["author"] = {k: v for k, v in cells.items() if k in ID_COLUMNS and v}
    metrics = {k: cells[k] for k in METRIC_COLUMNS if cells.get(k)}
    if metrics:
        body["metrics"] = metrics
    return body


def parse_row(number: int, row: dict[str, str], zone: ZoneInfo) -> PostCreate | RowError:
    """One data row (``number`` 1 = the first under the header) as a post, or its error."""
    if None in row:  # more cells than the header has columns
        return RowError(row=number, field="row", message="more cells than header columns")
    try:
        return PostCreate.model_validate(_body(row, zone))
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = [str(p) for p in first["loc"]]
        field = loc[-1] if loc and loc[0] == "metrics" else (loc[0] if loc else "row")
        if field == "author" or (not loc and "author" in first["msg"]):
            field = "person_id"
        return RowError(row=number, field=field, message=first["msg"])

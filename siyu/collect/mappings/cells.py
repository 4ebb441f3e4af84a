"""Read one cell of a spreadsheet export: trimmed text, yuan amounts, local times, counts.

Exports from Taobao, JD and cash registers arrive through Excel, so cells carry its marks:
a leading apostrophe or ``="…"`` that keeps long numbers as text, ``¥`` and thousands
separators in amounts, ``2024/3/1 9:05`` style times without a zone. Each reader raises
:class:`ValueError` with a short reason when a cell cannot be read.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

_EMPTY = frozenset({"", "-", "--", "null", "none", "nan", "nat", "n/a", "无"})
_SCIENTIFIC = re.compile(r"^\d(\.\d+)?[eE]\+\d+$")
_TIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%Y%m%d%H%M%S",
    "%Y%m%d",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日",
)


def text(cell: Any) -> str | None:
    """The cell as trimmed text, without Excel's text guards; ``None`` when empty."""
    if cell is None:
        return None
    if isinstance(cell, float):
        if cell != cell:  # NaN from a Parquet float column
            return None
        if cell.is_integer():
            return str(int(cell))
    value = str(cell).strip().lstrip("\ufeff")
    if value.startswith('="') and value.endswith('"'):
        value = value[2:-1]
    value = value.lstrip("'").strip().strip("\t")
    return None if value.lower() in _EMPTY else value


def identifier(cell: Any) -> str | None:
    """An id cell; masked values (``138****5678``) count as absent, not as an id."""
    value = text(cell)
    if value is None or "*" in value:
        return None
    if _SCIENTIFIC.match(value):
        raise ValueError(f"{value!r} is in scientific notation (Excel rounded it); export as text")
    return value


def yuan(cell: Any) -> Decimal | None:
    """An amount in yuan (``¥1,234.50``, ``38元``) as a Decimal; ``None`` when empty."""
    if isinstance(cell, Decimal | int) and not isinstance(cell, bool):
        return Decimal(cell)
    value = text(cell)
    if value is None:
        return None
    cleaned = value.replace(",", "").replace("¥", "").replace("￥", "").replace("元", "").strip()
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not an amount") from None
    if not amount.is_finite():
        raise ValueError(f"{value!r} is not an amount")
    return amount


def whole(cell: Any) -> int | None:
    """A whole number (points, quantity, amount in fen); ``None`` when empty."""
    amount = yuan(cell)
    if amount is None:
        return None
    if amount != amount.to_integral_value():
        raise ValueError(f"{cell!r} is not a whole number")
    return int(amount)


def _parse_text_time(value: str) -> datetime:
    if value.isdigit() and len(value) == 13:  # epoch milliseconds
        return datetime.fromtimestamp(int(value) / 1000, tz=ZoneInfo("UTC"))
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        pass
    candidate = value.replace("/", "-").replace("T", " ")
    for fmt in _TIME_FORMATS:
        try:
            return datetime.strptime(candidate, fmt)  # noqa: DTZ007 - zone added by caller
        except ValueError:
            continue
    raise ValueError(f"{value!r} is not a date or time")


def local_time(cell: Any, zone: ZoneInfo) -> datetime | None:
    """An aware time; a time without a zone is taken in ``zone`` (the workspace's)."""
    if isinstance(cell, datetime):
        parsed = cell
    elif isinstance(cell, date):
        parsed = datetime.combine(cell, time())
    else:
        value = text(cell)
        if value is None:
            return None
        parsed = _parse_text_time(value)
    return parsed.replace(tzinfo=zone) if parsed.tzinfo is None else parsed


def day(cell: Any) -> str | None:
    """A calendar date (birthdays) as ``YYYY-MM-DD``."""
    if isinstance(cell, date):
        return cell.strftime("%Y-%m-%d")
    value = text(cell)
    if value is None:
        return None
    return _parse_text_time(value).date().isoformat()


def gender(cell: Any) -> str | None:
    """``male`` / ``female`` from 男/女, M/F, 1/2 and the like; anything else is unknown."""
    value = (text(cell) or "").lower()
    if value in {"男", "m", "male", "1", "先生"}:
        return "male"
    if value in {"女", "f", "female", "2", "女士"}:
        return "female"
    return None

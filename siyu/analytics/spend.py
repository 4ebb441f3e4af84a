"""Channel spend: read spend exports (CSV or Parquet), and CAC, ROI, ROAS and payback.

A spend file has one row per day and channel, optionally per campaign: ``date``,
``channel``, ``campaign`` (optional) and the amount, either ``spend`` in yuan or
``spend_fen``. Headers may be English or Chinese (日期, 渠道, 活动, 花费/消耗). Channel
names are lower-cased, and the common Chinese names map to the ids events carry
(抖音 → ``douyin``, 小红书 → ``xiaohongshu``, …), so spend lines up with touches.

Rows that cannot be read go to a reject file with their line and reason; the others are
stored. Rows of one file with the same (date, channel, campaign) are *added* (an ad
platform's export has a row per ad or creative); the sum then *replaces* what was stored
for that key, so importing the same file again, or a corrected one, never double-counts.

Definitions, per channel over a period:

- **CAC** = spend / new buyers acquired by the channel (persons whose first order falls
  in the period, credited to the first channel that touched them before it).
- **ROI** = (attributed GMV − spend) / spend; **ROAS** (投产比) = attributed GMV / spend,
  GMV attributed with the chosen model (:mod:`siyu.analytics.attribution`).
- **Payback** = days from the period's first day until the channel's cumulative
  attributed GMV (from that day on) reaches the period's spend; ``None`` if it has not yet.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple

from pydantic import BaseModel, Field

from siyu.collect.mappings import cells
from siyu.collect.mappings.exports import SourceRow, TableFile
from siyu.core.errors import InvalidInputError

SPEND_COLUMNS: dict[str, tuple[str, ...]] = {
    "day": ("date", "day", "日期", "时间", "stat_date"),
    "channel": ("channel", "source", "utm_source", "渠道", "来源", "媒体", "平台"),
    "campaign": ("campaign", "utm_campaign", "活动", "计划", "计划名称", "campaign_name"),
    "spend": ("spend", "cost", "amount", "spend_yuan", "花费", "消耗", "费用", "金额"),
    "spend_fen": ("spend_fen", "cost_fen", "花费(分)", "消耗(分)"),
}

CHANNEL_ALIASES: dict[str, str] = {
    "抖音": "douyin",
    "巨量引擎": "douyin",
    "小红书": "xiaohongshu",
    "淘宝": "taobao",
    "天猫": "taobao",
    "门店": "store",
    "公众号": "wechat_oa",
    "微信公众号": "wechat_oa",
    "企业微信": "wecom",
    "企微": "wecom",
    "京东": "jd",
}

MAX_SPEND_FEN = 10**14  # ¥1 trillion: anything larger is a unit mistake


class SpendEntry(BaseModel):
    """Spend of one day on one channel (and campaign)."""

    day: date = Field(description="Local date of the spend.")
    channel: str = Field(min_length=1, max_length=255, description="utm_source id, e.g. douyin.")
    campaign: str = Field(default="", max_length=255, description="'' for the whole channel.")
    spend_fen: int = Field(ge=0, le=MAX_SPEND_FEN, description="Amount in fen.")


class SpendRejection(NamedTuple):
    """A row not imported, why, and its cells."""

    line: int
    reason: str
    cells: dict[str, Any]


class SpendRows(BaseModel):
    """A file's valid rows (summed per key) and the lines they came from."""

    entries: list[SpendEntry]
    rows_read: int
    merged: int = Field(description="Rows added to another row of the same key.")


def normalise_channel(name: str) -> str:
    """The channel id for a spend row's channel cell."""
    cleaned = name.strip()
    return CHANNEL_ALIASES.get(cleaned, cleaned.lower())


def spend_columns(headers: Sequence[str]) -> dict[str, str]:
    """The header used for each spend field; InvalidInputError when one is missing."""
    by_name = {h.strip().lower(): h for h in headers}
    found = {}
    for name, spellings in SPEND_COLUMNS.items():
        header = next((by_name[s.lower()] for s in spellings if s.lower() in by_name), None)
        if header is not None:
            found[name] = header
    missing = [n for n in ("day", "channel") if n not in found]
    if "spend" not in found and "spend_fen" not in found:
        missing.append("spend or spend_fen")
    if missing:
        raise InvalidInputError(
            f"spend file lacks {', '.join(missing)}; it has {', '.join(headers[:12])}",
            field="file",
        )
    return found


def _amount_fen(columns: Mapping[str, str], row: Mapping[str, Any]) -> int:
    if "spend_fen" in columns and cells.text(row.get(columns["spend_fen"])) is not None:
        fen = cells.whole(row.get(columns["spend_fen"]))
        assert fen is not None
        return fen
    yuan = cells.yuan(row.get(columns["spend"])) if "spend" in columns else None
    if yuan is None:
        raise ValueError("the spend is empty")
    fen_exact = yuan * 100
    if fen_exact != fen_exact.to_integral_value():
        raise ValueError(f"{yuan} yuan has fractions of a fen")
    return int(fen_exact)


def entry_of(columns: Mapping[str, str], row: Mapping[str, Any]) -> SpendEntry:
    """One row as a :class:`SpendEntry` (ValueError naming the bad cell)."""
    day = cells.day(row.get(columns["day"]))
    if day is None:
        raise ValueError(f"{columns['day']}: the date is empty")
    channel = cells.text(row.get(columns["channel"]))
    if channel is None:
        raise ValueError(f"{columns['channel']}: the channel is empty")
    campaign = cells.text(row.get(columns["campaign"])) if "campaign" in columns else None
    fen = _amount_fen(columns, row)
    if fen < 0:
        raise ValueError(f"negative spend {Decimal(fen) / 100}")
    if fen > MAX_SPEND_FEN:
        raise ValueError(f"spend {Decimal(fen) / 100} yuan is implausibly large")
    return SpendEntry(
        day=date.fromisoformat(day),
        channel=normalise_channel(channel)[:255],
        campaign=(campaign or "")[:255],
        spend_fen=fen,
    )


def read_spend(table: TableFile) -> tuple[SpendRows, list[SpendRejection]]:
    """Every valid row of ``table`` summed per key, and the rows that could not be read."""
    columns = spend_columns(table.headers)
    sums: dict[tuple[date, str, str], int] = {}
    rejected: list[SpendRejection] = []
    read = 0
    for chunk in table.chunks():
        for row in chunk:
            read += 1
            try:
                entry = _checked(columns, row)
            except ValueError as exc:
                rejected.append(SpendRejection(row.line, str(exc), row.cells))
                continue
            key = (entry.day, entry.channel, entry.campaign)
            sums[key] = sums.get(key, 0) + entry.spend_fen
    entries = [
        SpendEntry(day=d, channel=c, campaign=k, spend_fen=f) for (d, c, k), f in sums.items()
    ]
    good = read - len(rejected)
    return SpendRows(entries=entries, rows_read=read, merged=good - len(entries)), rejected


def _checked(columns: Mapping[str, str], row: SourceRow) -> SpendEntry:
    if row.problem:
        raise ValueError(row.problem)
    return entry_of(columns, row.cells)  # pydantic's ValidationError is a ValueError too


# -- returns -----------------------------------------------------------------------------


def roi(spend_fen: int, revenue_fen: int) -> float | None:
    """(revenue − spend) / spend; ``None`` without spend."""
    return (revenue_fen - spend_fen) / spend_fen if spend_fen > 0 else None


def roas(spend_fen: int, revenue_fen: int) -> float | None:
    """revenue / spend; ``None`` without spend."""
    return revenue_fen / spend_fen if spend_fen > 0 else None


def cac(spend_fen: int, new_buyers: int) -> float | None:
    """Spend per new buyer (fen); ``None`` without spend or without new buyers."""
    return spend_fen / new_buyers if new_buyers > 0 and spend_fen > 0 else None


def payback_days(
    spend_fen: int, first_day: date, revenue_by_day: Iterable[tuple[date, int]]
) -> int | None:
    """Days from ``first_day`` (day 1) until cumulative revenue reaches ``spend_fen``."""
    if spend_fen <= 0:
        return 0
    total = 0
    for day, fen in sorted(revenue_by_day):
        if day < first_day:
            continue
        total += fen
        if total >= spend_fen:
            return (day - first_day).days + 1
    return None

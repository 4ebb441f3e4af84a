"""The points ledger's pure core: entries → lots and balances, FIFO spending, expiry, earn rules.

Nothing here touches a session or the clock; ``now`` is passed in. A member's book is the
replay of their entries in id order: a positive entry opens a lot, a spend takes from the
oldest lots first, an expiry empties one named lot, a reversal takes from the lot it
reverses first and then FIFO. The stored lots and balances are a cache of this replay, and
``siyu loyalty verify`` compares the two.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from siyu.core.errors import ConflictError, InvalidInputError


class EntryKind(StrEnum):
    """What an entry does to a member's points."""

    EARN = "earn"  # +, opens a lot
    SPEND = "spend"  # -, FIFO over open lots
    EXPIRE = "expire"  # -, empties one lot
    REVERSE = "reverse"  # -, takes back an earn (refund): its lot first, then FIFO
    ADJUST = "adjust"  # ± manual; + opens a lot, - FIFO
    TRANSFER_OUT = "transfer_out"  # -, empties one lot of a person merged away
    TRANSFER_IN = "transfer_in"  # +, opens that lot again on the surviving person


# The contra account of each kind: every entry moves points between the member's account and
# one system account, so the two legs of each entry always sum to zero.
CONTRA: dict[EntryKind, str] = {
    EntryKind.EARN: "system:issued",
    EntryKind.SPEND: "system:redeemed",
    EntryKind.EXPIRE: "system:expired",
    EntryKind.REVERSE: "system:reversed",
    EntryKind.ADJUST: "system:adjusted",
    # A merge moves each lot out of the absorbed person and into the survivor: the two entries
    # meet on this account, which therefore always sums to zero.
    EntryKind.TRANSFER_OUT: "system:transfer",
    EntryKind.TRANSFER_IN: "system:transfer",
}


class NotEnoughPointsError(ConflictError):
    """A spend asks for more points than the member holds (HTTP 409, field ``points``)."""


@dataclass(frozen=True)
class Entry:
    """One immutable ledger entry as the pure core sees it (member side, signed)."""

    id: int
    kind: EntryKind
    amount: int
    at: datetime
    expires_at: datetime | None = None
    lot_id: int | None = None  # the lot an EXPIRE empties or a REVERSE takes back first


@dataclass
class Lot:
    """Points earned together, spent first-in-first-out, expiring together."""

    id: int
    amount: int
    remaining: int
    earned_at: datetime
    expires_at: datetime | None


@dataclass
class Book:
    """A member's lots and balance, derived from entries."""

    lots: dict[int, Lot] = field(default_factory=dict)

    @property
    def balance(self) -> int:
        """Sum of what is left in every lot."""
        return sum(lot.remaining for lot in self.lots.values())


def take_fifo(
    lots: Sequence[Lot], amount: int, *, first: int | None = None
) -> list[tuple[int, int]]:
    """Which lots pay ``amount`` (oldest first; lot ``first`` before all): ``(lot_id, taken)``.

    Raises:
        NotEnoughPointsError: the open lots hold less than ``amount``.
    """
    if amount < 0:
        raise InvalidInputError("amount must not be negative", field="points")
    ordered = sorted((lot for lot in lots if lot.remaining > 0), key=lambda lot: lot.id)
    ordered.sort(key=lambda lot: lot.id != first)
    takes: list[tuple[int, int]] = []
    left = amount
    for lot in ordered:
        if left == 0:
            break
        taken = min(lot.remaining, left)
        takes.append((lot.id, taken))
        left -= taken
    if left:
        raise NotEnoughPointsError(
            f"not enough points: {amount} asked, {amount - left} available",
            field="points",
            asked=amount,
            available=amount - left,
        )
    return takes


def apply(book: Book, entry: Entry) -> list[tuple[int, int]]:
    """Apply ``entry`` to ``book`` in place; the lots it took from."""
    if entry.amount > 0:
        book.lots[entry.id] = Lot(entry.id, entry.amount, entry.amount, entry.at, entry.expires_at)
        return []
    if entry.kind in (EntryKind.EXPIRE, EntryKind.TRANSFER_OUT):
        lot = book.lots.get(entry.lot_id or -1)
        if lot is None or lot.remaining < -entry.amount:
            raise ConflictError(f"entry {entry.id} expires more than lot {entry.lot_id} holds")
        takes = [(lot.id, -entry.amount)]
    else:
        first = entry.lot_id if entry.kind == EntryKind.REVERSE else None
        takes = take_fifo(list(book.lots.values()), -entry.amount, first=first)
    for lot_id, taken in takes:
        book.lots[lot_id].remaining -= taken
    return takes


def replay(entries: Iterable[Entry]) -> Book:
    """The book ``entries`` (in id order) produce."""
    book = Book()
    for entry in sorted(entries, key=lambda e: e.id):
        apply(book, entry)
    return book


def expired_lots(lots: Iterable[Lot], now: datetime) -> list[Lot]:
    """Lots with points left whose expiry is at or before ``now``, oldest first."""
    return sorted(
        (lot for lot in lots if lot.remaining > 0 and lot.expires_at and lot.expires_at <= now),
        key=lambda lot: lot.id,
    )


def expiry_of(earned_at: datetime, *, policy: str, months: int, zone: str) -> datetime | None:
    """When points earned at ``earned_at`` expire.

    ``policy`` is ``rolling`` (end of the local day ``months`` months later), ``year_end``
    (end of the local year ``months // 12`` years later; 0 = this year) or ``never``.
    """
    tz = ZoneInfo(zone)
    local = earned_at.astimezone(tz)
    if policy == "never":
        return None
    if policy == "year_end":
        end = date(local.year + months // 12, 12, 31)
    else:
        month_index = local.month - 1 + months
        year, month = local.year + month_index // 12, month_index % 12 + 1
        end = date(year, month, min(local.day, calendar.monthrange(year, month)[1]))
    return datetime.combine(end + timedelta(days=1), time(), tz).astimezone(earned_at.tzinfo)


def local_day(at: datetime, zone: str) -> date:
    """The calendar day of ``at`` in ``zone``."""
    return at.astimezone(ZoneInfo(zone)).date()


def day_bounds(day: date, zone: str) -> tuple[datetime, datetime]:
    """The UTC-aware start and end of local ``day`` in ``zone``."""
    tz = ZoneInfo(zone)
    start = datetime.combine(day, time(), tz)
    return start, datetime.combine(day + timedelta(days=1), time(), tz)


def order_points(amount_fen: int, *, per_yuan: int, multiplier_pct: int) -> int:
    """Points for an order: ``per_yuan`` per whole yuan times the tier multiplier, rounded down.

    ``multiplier_pct`` is the tier multiplier in percent (150 = ×1.5), so all arithmetic stays
    in integers.
    """
    if amount_fen < 0 or per_yuan < 0 or multiplier_pct < 0:
        raise InvalidInputError("order amount, rate and multiplier must not be negative")
    return amount_fen * per_yuan * multiplier_pct // 10_000


def refund_points(earned: int, *, order_fen: int, refund_fen: int) -> int:
    """Points to take back for refunding ``refund_fen`` of an order that earned ``earned``."""
    if order_fen <= 0 or refund_fen >= order_fen:
        return earned
    return earned * refund_fen // order_fen


def streak_of(last_day: date | None, last_streak: int, today: date) -> int:
    """The check-in streak after checking in on ``today``."""
    if last_day is not None and today - last_day == timedelta(days=1):
        return last_streak + 1
    return 1


def check_in_points(streak: int, *, base: int, bonuses: dict[int, int]) -> int:
    """Base points plus the bonus for reaching exactly ``streak`` days (e.g. {7: 20})."""
    return base + bonuses.get(streak, 0)


def capped(amount: int, *, earned_today: int, cap: int | None) -> int:
    """``amount`` cut so the day's total stays within ``cap`` (None = no cap)."""
    if cap is None:
        return amount
    return max(0, min(amount, cap - earned_today))

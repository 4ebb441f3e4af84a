"""Properties of the ledger's pure core: balance = sum of entries, never negative, FIFO expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from siyu.loyalty import ledger
from siyu.loyalty.ledger import Book, Entry, EntryKind, NotEnoughPointsError

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ops = st.lists(
    st.tuples(st.sampled_from(["earn", "spend", "expire", "reverse"]), st.integers(1, 500)),
    max_size=60,
)


def run(steps: list[tuple[str, int]]) -> tuple[Book, list[Entry]]:
    """Apply ``steps`` the way the service does: refuse what would go below zero."""
    book, entries = Book(), []
    for i, (op, amount) in enumerate(steps, start=1):
        at = T0 + timedelta(days=i)
        if op == "earn":
            entry = Entry(i, EntryKind.EARN, amount, at, expires_at=at + timedelta(days=10))
        elif op == "expire":
            due = ledger.expired_lots(book.lots.values(), at)
            if not due:
                continue
            entry = Entry(i, EntryKind.EXPIRE, -due[0].remaining, at, lot_id=due[0].id)
        else:
            lot = max(book.lots, default=None) if op == "reverse" else None
            kind = EntryKind.REVERSE if op == "reverse" else EntryKind.SPEND
            entry = Entry(i, kind, -amount, at, lot_id=lot)
        try:
            ledger.apply(book, entry)
        except NotEnoughPointsError:
            continue
        entries.append(entry)
    return book, entries


@given(ops)
def test_balance_is_the_sum_of_the_entries_and_never_negative(steps: list[tuple[str, int]]) -> None:
    book, entries = run(steps)
    assert book.balance == sum(e.amount for e in entries)
    assert all(lot.remaining >= 0 for lot in book.lots.values())
    assert ledger.replay(entries).lots == book.lots


@given(ops)
def test_spends_take_the_oldest_lots_first(steps: list[tuple[str, int]]) -> None:
    book, _ = run([s for s in steps if s[0] in ("earn", "spend")])
    lots = sorted(book.lots.values(), key=lambda lot: lot.id)
    touched = [lot.remaining < lot.amount for lot in lots]
    # Once a lot is untouched, every later lot is untouched too; only one is part-spent.
    assert touched == sorted(touched, reverse=True)
    assert sum(0 < lot.remaining < lot.amount for lot in lots) <= 1


@given(ops)
def test_expiry_empties_exactly_the_due_lots(steps: list[tuple[str, int]]) -> None:
    book, _ = run(steps)
    later = T0 + timedelta(days=len(steps) + 11)
    due = ledger.expired_lots(book.lots.values(), later)
    assert sum(lot.remaining for lot in due) == book.balance


def test_take_fifo_refuses_more_than_the_lots_hold() -> None:
    lots = [ledger.Lot(1, 10, 10, T0, None), ledger.Lot(2, 5, 5, T0, None)]
    assert ledger.take_fifo(lots, 12) == [(1, 10), (2, 2)]
    assert ledger.take_fifo(lots, 6, first=2) == [(2, 5), (1, 1)]
    with pytest.raises(NotEnoughPointsError) as caught:
        ledger.take_fifo(lots, 16)
    assert caught.value.details == {"asked": 16, "available": 15}


def test_rules_arithmetic() -> None:
    earned = datetime(2026, 1, 31, 20, 0, tzinfo=UTC)  # 2026-02-01 04:00 in Shanghai
    rolling = ledger.expiry_of(earned, policy="rolling", months=12, zone="Asia/Shanghai")
    assert rolling == datetime(2027, 2, 1, 16, 0, tzinfo=UTC)  # end of 2027-02-01 local
    year_end = ledger.expiry_of(earned, policy="year_end", months=0, zone="Asia/Shanghai")
    assert year_end == datetime(2026, 12, 31, 16, 0, tzinfo=UTC)
    assert ledger.expiry_of(earned, policy="never", months=0, zone="UTC") is None
    assert ledger.order_points(19_990, per_yuan=1, multiplier_pct=150) == 299
    assert ledger.refund_points(299, order_fen=19_990, refund_fen=9_995) == 149
    assert ledger.capped(10, earned_today=45, cap=50) == 5
    assert ledger.capped(10, earned_today=55, cap=50) == 0
    day = datetime(2026, 3, 2, tzinfo=UTC).date()
    assert ledger.streak_of(day - timedelta(days=1), 6, day) == 7
    assert ledger.streak_of(day - timedelta(days=2), 6, day) == 1
    assert ledger.check_in_points(7, base=5, bonuses={7: 20}) == 25

"""Issue 7 on SQLite: another process holds the write lock past the busy timeout (30 s). The
batch sent meanwhile gets a 503 naming the lock and keeps nothing; sent again, all of it is
accepted. Slow (it waits out the busy timeout): run by ``make bench`` and ``-m slow``."""

from __future__ import annotations

import pytest

from bench import faults
from tests.faults.conftest import assert_clean


@pytest.mark.slow
def test_a_write_locked_past_the_busy_timeout_is_a_503_that_keeps_nothing() -> None:
    result = faults.sqlite_locked(hold_seconds=40.0, size=20)
    assert_clean(result["checks"])
    error = result["first_body"]["error"]
    assert error["type"] == "StoreError"
    assert error["reason"] == "the database is locked by another writer"
    assert result["retry"]["accepted"] == 20 and result["retry"]["duplicates"] == 0

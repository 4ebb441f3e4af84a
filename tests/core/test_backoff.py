"""A background loop that keeps failing: one traceback, then one line per round, waits that
double to a ceiling, and a word when it recovers."""

from __future__ import annotations

import logging

import pytest

from siyu.core.backoff import Backoff

log = logging.getLogger("tests.backoff")


def test_repeated_failures_back_off_and_log_one_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    backoff = Backoff("inbox flush", 1.0, ceiling=8.0, log=log)
    caplog.set_level(logging.INFO, logger="tests.backoff")
    waits = [backoff.failed(ConnectionError("server closed\nthe connection")) for _ in range(6)]
    assert waits == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 1 and len(caplog.records) == 6
    assert "6 in a row" in caplog.records[-1].getMessage()
    assert "ConnectionError: server closed" in caplog.records[-1].getMessage()
    assert backoff.succeeded() == 1.0
    assert "recovered after 6" in caplog.records[-1].getMessage()
    assert backoff.failed(ConnectionError("again")) == 1.0  # a fresh run of failures

"""How a background loop waits and logs while what it does keeps failing.

A store that is down makes every round of the inbox flusher fail the same way; logging the
whole traceback every second buries everything else in the log and retries as fast as the
first time. The first failure is logged with its traceback, later ones as one line each, the
wait doubles up to a ceiling, and the first success says the loop recovered.
"""

from __future__ import annotations

import logging


class Backoff:
    """The wait before a loop's next round, from how its rounds have gone."""

    def __init__(
        self, what: str, interval: float, *, ceiling: float = 60.0, log: logging.Logger
    ) -> None:
        self.what = what
        self.interval = interval
        self.ceiling = max(ceiling, interval)
        self.log = log
        self.failures = 0

    def succeeded(self) -> float:
        """A round went through; the wait before the next."""
        if self.failures:
            self.log.warning("%s recovered after %d failed rounds", self.what, self.failures)
        self.failures = 0
        return self.interval

    def failed(self, error: BaseException) -> float:
        """A round failed with ``error``; the wait before the next."""
        self.failures += 1
        wait: float = min(self.interval * 2.0 ** min(self.failures - 1, 16), self.ceiling)
        if self.failures == 1:
            self.log.error("%s failed; will retry", self.what, exc_info=error)
        else:
            self.log.error(
                "%s failed again (%d in a row, next try in %.0f s): %s",
                self.what,
                self.failures,
                wait,
                _one_line(error),
            )
        return wait


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:300]

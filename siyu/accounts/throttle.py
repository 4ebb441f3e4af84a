"""Sign-in throttling, pure: how long a subject is locked after its failures."""

from __future__ import annotations

from datetime import datetime, timedelta

FREE_FAILURES = 5
FIRST_LOCKOUT = timedelta(seconds=30)
MAX_LOCKOUT = timedelta(hours=1)


def lockout_after(failures: int) -> timedelta:
    """The lockout that follows the ``failures``-th consecutive failure.

    The first four failures cost nothing; the fifth locks for 30 s, and every further
    failure doubles it, up to an hour.
    """
    if failures < FREE_FAILURES:
        return timedelta(0)
    doublings = min(failures - FREE_FAILURES, 20)
    lockout: timedelta = FIRST_LOCKOUT * (2**doublings)
    return min(lockout, MAX_LOCKOUT)


def seconds_left(locked_until: datetime | None, now: datetime) -> int:
    """Whole seconds until ``locked_until`` (0 when not locked)."""
    if locked_until is None or locked_until <= now:
        return 0
    return max(1, int((locked_until - now).total_seconds() + 0.999))

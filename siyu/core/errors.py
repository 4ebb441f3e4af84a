"""The one error tree of siyu; entry points map each class once (HTTP status, CLI exit).

SiyuError
├── InvalidInputError        bad input: names the field and the reason      → 400/422, exit 2
│   └── PayloadTooLargeError body or batch over a documented limit          → 413
├── AuthError                missing or wrong key                          → 401, exit 3
│   ├── ForbiddenError       known credential, permission not granted       → 403
│   └── LockedOutError       too many failed sign-ins; retry later          → 429
├── NotFoundError            no such workspace / person / …                → 404, exit 4
├── ConflictError            the request contradicts stored state          → 409, exit 5
└── StoreError               a store is unavailable or misconfigured       → 503, exit 6
"""

from __future__ import annotations

from typing import Any


class SiyuError(Exception):
    """Base of every error siyu raises on purpose."""

    def __init__(self, message: str, *, field: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details


class InvalidInputError(SiyuError):
    """Input failed validation; ``field`` names where."""


class PayloadTooLargeError(InvalidInputError):
    """A body or batch is over a documented limit."""


class AuthError(SiyuError):
    """A key is missing or does not match."""


class ForbiddenError(AuthError):
    """The credential is valid but its role or scopes do not grant the permission."""


class LockedOutError(AuthError):
    """Too many failed sign-ins from this user or address; ``retry_after`` seconds to wait."""


class NotFoundError(SiyuError):
    """The named record does not exist (in this workspace)."""


class ConflictError(SiyuError):
    """The request contradicts stored state."""


class StoreError(SiyuError):
    """A store is unavailable or misconfigured."""

"""Password hashing with argon2id (argon2-cffi's recommended parameters)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from siyu.core.errors import InvalidInputError

_hasher = PasswordHasher()
MIN_LENGTH = 10

# Verified against when the email is unknown, so a wrong email costs as long as a wrong
# password and timing does not tell which users exist.
_DUMMY_HASH = _hasher.hash("siyu-no-such-user")


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``; InvalidInputError when it is too short."""
    if len(password) < MIN_LENGTH or len(password) > 1024:
        raise InvalidInputError(f"password must be {MIN_LENGTH}–1024 characters", field="password")
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``password_hash`` (None: compare against a dummy)."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False

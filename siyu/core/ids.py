"""Identifiers for our own records: short prefix, time-ordered, URL-safe."""

from __future__ import annotations

import secrets
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


def _b32(number: int, length: int) -> str:
    chars = []
    for _ in range(length):
        number, rem = divmod(number, 32)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


def new_id(prefix: str) -> str:
    """A new id such as ``p_01jd3k…``: 48-bit millisecond time then 80 random bits."""
    millis = time.time_ns() // 1_000_000
    return f"{prefix}_{_b32(millis, 10)}{_b32(secrets.randbits(80), 16)}"


def new_secret(prefix: str) -> str:
    """A new unguessable key such as a write key (``wk_…``) or secret key (``sk_…``)."""
    return f"{prefix}_{secrets.token_urlsafe(24)}"

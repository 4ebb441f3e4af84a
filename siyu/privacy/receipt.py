"""Erasure receipts: canonical form, hash and signature (pure)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any


def canonical(fields: dict[str, Any]) -> bytes:
    """The receipt's fields as canonical JSON (sorted keys, no spaces, UTC ISO times)."""

    def encode(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.isoformat()
        raise TypeError(f"cannot encode {type(value).__name__}")

    return json.dumps(fields, sort_keys=True, separators=(",", ":"), default=encode).encode()


def receipt_hash(fields: dict[str, Any]) -> str:
    """SHA-256 (hex) of the canonical receipt."""
    return hashlib.sha256(canonical(fields)).hexdigest()


def sign(key: bytes, digest: str) -> str:
    """HMAC-SHA256 (hex) of a receipt hash under ``key``."""
    return hmac.new(key, digest.encode(), hashlib.sha256).hexdigest()


def verify(key: bytes, fields: dict[str, Any], digest: str, signature: str) -> bool:
    """Whether ``digest`` is the hash of ``fields`` and ``signature`` signs it under ``key``."""
    return hmac.compare_digest(receipt_hash(fields), digest) and hmac.compare_digest(
        sign(key, digest), signature
    )

"""Personal information at rest: AES-GCM encryption plus a keyed hash for lookups, and masking."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


@dataclass(frozen=True)
class Vault:
    """Encrypts, decrypts and hashes identifiers with one 32-byte master key."""

    key: bytes

    def lookup_hash(self, kind: str, value: str) -> str:
        """A stable keyed hash of ``value`` (HMAC-SHA256), the form stored and searched."""
        digest = hmac.new(self.key, f"{kind}\x00{value}".encode(), hashlib.sha256).digest()
        return base64.b32encode(digest[:20]).decode().lower()

    def encrypt(self, plaintext: str) -> str:
        """AES-GCM ciphertext as base64 (nonce first)."""
        nonce = os.urandom(12)
        sealed = AESGCM(self.key).encrypt(nonce, plaintext.encode(), None)
        return base64.b64encode(nonce + sealed).decode()

    def decrypt(self, token: str) -> str:
        """The plaintext of :meth:`encrypt`'s output."""
        raw = base64.b64decode(token)
        return AESGCM(self.key).decrypt(raw[:12], raw[12:], None).decode()


def load_vault(master_key: str, data_dir: Path) -> Vault:
    """The vault for ``master_key`` (base64), or for a key file created once in ``data_dir``."""
    if master_key:
        return Vault(base64.b64decode(master_key))
    path = data_dir / "master.key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(base64.b64encode(AESGCM.generate_key(bit_length=256)).decode())
    return Vault(base64.b64decode(path.read_text().strip()))


def mask(kind: str, value: str) -> str:
    """Mask a direct identifier for display: ``138****5678``, ``l***@example.com``."""
    if kind == "phone" and len(value) >= 7:
        return value[:3] + "*" * (len(value) - 7) + value[-4:]
    if kind == "email" and "@" in value:
        name, domain = value.split("@", 1)
        return f"{name[:1]}***@{domain}"
    if len(value) <= 4:
        return "*" * len(value)
    return value[:2] + "*" * (len(value) - 4) + value[-2:]

"""Personal information at rest: AES-GCM under a rotatable keyring, a stable keyed hash for
lookups, and masking.

A *keyring* holds one **hash key** and one or more **encryption keys**, each with an id:

- the hash key makes the keyed lookup hashes (HMAC-SHA256) that identifiers are stored and
  searched by, the digests derived from them (erasure subjects, unsubscribe and import ids)
  and the erasure receipts' signatures. It never rotates: a hash cannot be recomputed
  without the plaintext, and the event store keeps only hashes of identifiers (no
  ciphertext), so a new hash key would orphan every stored event's raw ids;
- the encryption keys seal ciphertexts; the *active* one (the last listed) encrypts, every
  listed one decrypts, so a rotation adds a key, re-encrypts, then retires the old one.

A ciphertext names its key: ``v1:<key id>:<base64(nonce ‖ sealed)>``, the version and key
id bound as associated data. Ciphertexts written before keyrings existed are bare base64
(no id) and still decrypt: every key is tried, and AES-GCM's tag tells the right one.

Text form of a keyring (``SIYU_MASTER_KEY`` or the ``master.key`` file): entries separated
by commas, spaces or new lines, each ``<id>:<base64 32-byte key>``; the id ``hash`` names the
hash key, and without one the first encryption key is also the hash key. A single bare base64
key (the form before keyrings) is a keyring of one key ``k0`` that is also the hash key.
Lines starting with ``#`` are comments.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FORMAT = "v1"  # ciphertext format version
HASH_ID = "hash"
LEGACY_ID = "k0"
_KEY_ID = re.compile(r"^[a-z][a-z0-9_-]{0,15}$")
_NONCE = 12


class KeyringError(ValueError):
    """A keyring text that cannot be read, or a ciphertext no key of the keyring opens."""


@dataclass(frozen=True)
class Vault:
    """Encrypts, decrypts and hashes identifiers with a keyring.

    ``Vault(key)`` is the one-key form (the key hashes and encrypts, as id ``k0``);
    :func:`parse_keyring` builds the general one.

    Attributes:
        key: the hash key (lookup hashes, derived digests, receipt signatures); stable.
        keys: encryption keys as ``(id, key)`` in the order added; the last one encrypts.
    """

    key: bytes
    keys: tuple[tuple[str, bytes], ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.keys:
            object.__setattr__(self, "keys", ((LEGACY_ID, self.key),))
        for key_id, key in ((HASH_ID, self.key), *self.keys):
            if len(key) != 32:
                raise KeyringError(f"key {key_id} must be 32 bytes, not {len(key)}")

    @property
    def active_id(self) -> str:
        """The id of the key new ciphertexts are sealed with."""
        return self.keys[-1][0]

    @property
    def key_ids(self) -> tuple[str, ...]:
        """The ids of every encryption key, oldest first."""
        return tuple(key_id for key_id, _ in self.keys)

    def lookup_hash(self, kind: str, value: str) -> str:
        """A stable keyed hash of ``value`` (HMAC-SHA256), the form stored and searched."""
        digest = hmac.new(self.key, f"{kind}\x00{value}".encode(), hashlib.sha256).digest()
        return base64.b32encode(digest[:20]).decode().lower()

    def encrypt(self, plaintext: str) -> str:
        """AES-GCM ciphertext under the active key: ``v1:<key id>:<base64 nonce ‖ sealed>``."""
        key_id, key = self.keys[-1]
        nonce = os.urandom(_NONCE)
        sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), _aad(key_id))
        return f"{FORMAT}:{key_id}:{base64.b64encode(nonce + sealed).decode()}"

    def decrypt(self, token: str) -> str:
        """The plaintext of :meth:`encrypt`'s output (or of a ciphertext without a key id)."""
        key_id = token_key_id(token)
        if key_id is None:
            return self._decrypt_legacy(token)
        key = dict(self.keys).get(key_id)
        if key is None:
            raise KeyringError(
                f"ciphertext under master key {key_id!r}, which this process's keyring lacks "
                f"(it has {', '.join(self.key_ids)}): restart it with the current keyring"
            )
        raw = base64.b64decode(token.split(":", 2)[2])
        return AESGCM(key).decrypt(raw[:_NONCE], raw[_NONCE:], _aad(key_id)).decode()

    def _decrypt_legacy(self, token: str) -> str:
        raw = base64.b64decode(token)
        for _, key in reversed(self.keys):
            try:
                return AESGCM(key).decrypt(raw[:_NONCE], raw[_NONCE:], None).decode()
            except InvalidTag:
                continue
        raise KeyringError("no master key of the keyring opens this ciphertext (it has no id)")

    def reencrypt(self, token: str) -> str | None:
        """``token`` sealed again under the active key, or None when it already is."""
        if token_key_id(token) == self.active_id:
            return None
        return self.encrypt(self.decrypt(token))


def _aad(key_id: str) -> bytes:
    return f"siyu-vault:{FORMAT}:{key_id}".encode()


def token_key_id(token: str) -> str | None:
    """The key id a ciphertext names, or None for one written before keyrings."""
    if not token.startswith(FORMAT + ":"):
        return None
    return token.split(":", 2)[1]


def token_prefix(key_id: str) -> str:
    """What every ciphertext under ``key_id`` starts with (for SQL ``LIKE``)."""
    return f"{FORMAT}:{key_id}:"


def _decode_key(key_id: str, text: str) -> bytes:
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise KeyringError(f"master key {key_id} is not base64") from None
    if len(key) != 32:
        raise KeyringError(f"master key {key_id} must be 32 bytes, not {len(key)}")
    return key


def parse_keyring(text: str) -> Vault:
    """The vault for a keyring's text (see the module docstring for the form)."""
    lines = [line for line in text.splitlines() if not line.strip().startswith("#")]
    entries = " ".join(lines).replace(",", " ").split()
    if not entries:
        raise KeyringError("the master keyring is empty")
    if len(entries) == 1 and ":" not in entries[0]:
        key = _decode_key(LEGACY_ID, entries[0])
        return Vault(key, ((LEGACY_ID, key),))
    hash_key: bytes | None = None
    keys: list[tuple[str, bytes]] = []
    for entry in entries:
        key_id, sep, encoded = entry.partition(":")
        if not sep or not _KEY_ID.match(key_id):
            raise KeyringError(f"keyring entries are <id>:<base64 key>, not {entry[:12]!r}…")
        if key_id == HASH_ID:
            hash_key = _decode_key(key_id, encoded)
        elif key_id in dict(keys):
            raise KeyringError(f"master key id {key_id} is listed twice")
        else:
            keys.append((key_id, _decode_key(key_id, encoded)))
    if not keys:
        raise KeyringError("the master keyring has no encryption key")
    return Vault(hash_key if hash_key is not None else keys[0][1], tuple(keys))


def format_keyring(vault: Vault) -> str:
    """The keyring's text, hash key first (what a key file holds)."""
    lines = [
        "# siyu master keyring (docs/privacy.md). hash: lookup hashes and signatures, never",
        "# rotated; the other keys encrypt personal data, the last one new ciphertexts.",
        f"{HASH_ID}:{base64.b64encode(vault.key).decode()}",
        *(f"{key_id}:{base64.b64encode(key).decode()}" for key_id, key in vault.keys),
    ]
    return "\n".join(lines) + "\n"


def keyring_line(vault: Vault) -> str:
    """The keyring on one line, comma-separated (what ``SIYU_MASTER_KEY`` holds)."""
    lines = format_keyring(vault).splitlines()
    return ",".join(line for line in lines if not line.startswith("#"))


def with_new_key(vault: Vault) -> Vault:
    """The keyring plus a fresh random key that becomes the active one (``k<n+1>``)."""
    numbers = [int(k[1:]) for k in vault.key_ids if re.fullmatch(r"k\d+", k)]
    key_id = f"k{max(numbers, default=0) + 1}"
    return Vault(vault.key, (*vault.keys, (key_id, _new_key())))


def _new_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def without_key(vault: Vault, key_id: str) -> Vault:
    """The keyring less ``key_id`` (never the active key; the hash key stays)."""
    if key_id not in vault.key_ids:
        raise KeyringError(f"no master key {key_id} in the keyring")
    if key_id == vault.active_id:
        raise KeyringError(f"master key {key_id} is the active one; rotate first")
    return Vault(vault.key, tuple((k, v) for k, v in vault.keys if k != key_id))


def key_file(data_dir: Path) -> Path:
    """Where the keyring lives when ``SIYU_MASTER_KEY`` is not set."""
    return data_dir / "master.key"


def write_key_file(path: Path, vault: Vault) -> None:
    """Replace the key file atomically (mode 0600, fsynced before the rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(format_keyring(vault))
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)


def load_vault(master_key: str, data_dir: Path) -> Vault:
    """The vault for ``master_key`` (a keyring's text), or for a key file in ``data_dir``.

    A missing key file is created once with a fresh hash key and encryption key ``k1``.
    """
    if master_key:
        return parse_keyring(master_key)
    path = key_file(data_dir)
    if not path.exists():
        fresh = Vault(_new_key(), (("k1", _new_key()),))
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(format_keyring(fresh))
    return parse_keyring(path.read_text())


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

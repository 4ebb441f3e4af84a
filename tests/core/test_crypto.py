"""The master keyring: versioned ciphertexts naming their key, the old form still read, the
text form of a keyring, the key file, and a lookup hash that never changes with rotation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import stat
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from siyu.core.crypto import (
    KeyringError,
    Vault,
    format_keyring,
    keyring_line,
    load_vault,
    parse_keyring,
    token_key_id,
    with_new_key,
    without_key,
    write_key_file,
)

OLD = b"o" * 32


def _b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def _legacy_token(key: bytes, plaintext: str) -> str:
    # The form siyu wrote before keyrings: base64(nonce ‖ sealed), no key id, no AAD.
    nonce = os.urandom(12)
    return base64.b64encode(nonce + AESGCM(key).encrypt(nonce, plaintext.encode(), None)).decode()


def test_ciphertexts_name_the_active_key_and_old_ones_still_decrypt() -> None:
    vault = Vault(OLD)
    assert vault.key_ids == ("k0",)
    token = vault.encrypt("13800138000")
    assert token.startswith("v1:k0:") and token_key_id(token) == "k0"
    assert vault.decrypt(token) == "13800138000"
    assert vault.decrypt(_legacy_token(OLD, "老数据")) == "老数据"
    assert token_key_id(_legacy_token(OLD, "x")) is None


def test_rotation_adds_an_active_key_old_keys_keep_decrypting() -> None:
    vault = Vault(OLD)
    old_token, legacy = vault.encrypt("a@b.cn"), _legacy_token(OLD, "b@c.cn")
    rotated = with_new_key(vault)
    assert rotated.key_ids == ("k0", "k1") and rotated.active_id == "k1"
    assert rotated.encrypt("x").startswith("v1:k1:")
    assert rotated.decrypt(old_token) == "a@b.cn" and rotated.decrypt(legacy) == "b@c.cn"
    new_token = rotated.reencrypt(old_token)
    assert new_token is not None and token_key_id(new_token) == "k1"
    assert rotated.reencrypt(new_token) is None  # already under the active key
    retired = without_key(rotated, "k0")
    assert retired.decrypt(new_token) == "a@b.cn"
    with pytest.raises(KeyringError, match="lacks"):
        retired.decrypt(old_token)
    with pytest.raises(KeyringError, match="no master key"):
        retired.decrypt(legacy)
    with pytest.raises(KeyringError, match="active"):
        without_key(rotated, "k1")


def test_the_lookup_hash_is_the_old_one_and_survives_every_rotation() -> None:
    before = hmac.new(OLD, b"phone\x0013800138000", hashlib.sha256).digest()
    expected = base64.b32encode(before[:20]).decode().lower()
    vault = Vault(OLD)
    assert vault.lookup_hash("phone", "13800138000") == expected
    retired = without_key(with_new_key(with_new_key(vault)), "k0")
    assert retired.lookup_hash("phone", "13800138000") == expected
    assert retired.key == OLD  # receipts signed before the rotation still verify


def test_the_key_id_is_bound_to_the_ciphertext() -> None:
    vault = Vault(OLD, (("k0", OLD), ("k1", OLD)))  # same bytes, different ids
    token = vault.encrypt("x")
    forged = "v1:k0:" + token.split(":", 2)[2]
    with pytest.raises(InvalidTag):
        vault.decrypt(forged)


def test_keyring_text_round_trips_and_bad_text_is_named() -> None:
    vault = with_new_key(Vault(OLD))
    assert parse_keyring(format_keyring(vault)) == vault
    assert parse_keyring(keyring_line(vault)) == vault
    # Without a hash entry, the first key hashes.
    two = parse_keyring(f"k3:{_b64(b'a' * 32)}, k4:{_b64(b'b' * 32)}")
    assert (two.key, two.active_id) == (b"a" * 32, "k4")
    assert parse_keyring(_b64(OLD)) == Vault(OLD)  # the one-key form of before
    for text, message in [
        ("", "empty"),
        (f"hash:{_b64(OLD)}", "no encryption key"),
        ("k1:not base64!", "base64"),
        (f"k1:{_b64(b'short')}", "32 bytes"),
        (f"k1:{_b64(OLD)} k1:{_b64(OLD)}", "twice"),
        (f"K 1:{_b64(OLD)}", "<id>:<base64 key>"),
    ]:
        with pytest.raises(KeyringError, match=message):
            parse_keyring(text)


def test_a_new_install_gets_a_separate_hash_key_and_k1(tmp_path: Path) -> None:
    vault = load_vault("", tmp_path)
    path = tmp_path / "master.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert vault.key_ids == ("k1",) and vault.key != dict(vault.keys)["k1"]
    assert load_vault("", tmp_path) == vault  # read back, not made again


def test_an_old_key_file_keeps_working_and_is_rewritten_in_place(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    path.write_text(_b64(OLD))
    vault = load_vault("", tmp_path)
    assert vault == Vault(OLD)
    write_key_file(path, with_new_key(vault))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = load_vault("", tmp_path)
    assert again.key_ids == ("k0", "k1") and again.key == OLD
    assert load_vault(keyring_line(again), tmp_path / "elsewhere") == again

"""A fixture that swaps argon2's production cost (64 MiB, 3 passes) for its cheapest profile.

Throttling, sessions and roles do not depend on the hash's cost, and the sign-in tests hash
and verify dozens of passwords; test_passwords.py keeps the production parameters.
"""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher, profiles

from siyu.accounts import passwords


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    hasher = PasswordHasher.from_parameters(profiles.CHEAPEST)
    monkeypatch.setattr(passwords, "_hasher", hasher)
    monkeypatch.setattr(passwords, "_DUMMY_HASH", hasher.hash("siyu-no-such-user"))

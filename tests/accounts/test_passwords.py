from __future__ import annotations

import pytest

from siyu.accounts import passwords
from siyu.core.errors import InvalidInputError


def test_production_parameters_hash_and_verify() -> None:
    stored = passwords.hash_password("correct horse battery")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert passwords.verify_password(stored, "correct horse battery")
    assert not passwords.verify_password(stored, "correct horse batterz")
    assert not passwords.verify_password("not a hash", "correct horse battery")
    # An unknown user (no hash) never verifies, not even with the dummy's own password.
    assert not passwords.verify_password(None, "siyu-no-such-user")


def test_short_passwords_are_refused() -> None:
    with pytest.raises(InvalidInputError) as refused:
        passwords.hash_password("short")
    assert refused.value.field == "password"

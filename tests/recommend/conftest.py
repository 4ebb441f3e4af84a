"""The API fixtures (an app over a fresh runtime on SQLite and PostgreSQL, its keys)."""

from tests.api.conftest import client, keys, runtime

__all__ = ["client", "keys", "runtime"]

"""The API fixtures (a migrated runtime on SQLite and PostgreSQL, a client, keys) for content."""

from tests.api.conftest import client, keys, runtime

__all__ = ["client", "keys", "runtime"]

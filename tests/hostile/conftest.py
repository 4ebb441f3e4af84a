"""The API fixtures (a migrated runtime on SQLite and PostgreSQL, its TestClient and keys)."""

from tests.api.conftest import client, keys, runtime

__all__ = ["client", "keys", "runtime"]

"""Imports every domain's tables so :data:`siyu.core.db.metadata` is complete."""

from siyu.core.db import metadata
from siyu.workspaces import tables as workspaces_tables

__all__ = ["metadata", "workspaces_tables"]
from siyu.collect import tables as collect_tables
from siyu.profiles import tables as profiles_tables  # noqa: F401
from siyu.identity import tables as identity_tables  # noqa: F401

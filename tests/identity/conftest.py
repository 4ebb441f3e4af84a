"""Fixtures of the identity tests: a workspace to resolve in."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy.orm import Session, sessionmaker

from siyu.collect.models import Identifier, IdType
from siyu.core.db import transaction
from siyu.workspaces import service as workspaces


@pytest.fixture
def workspace_id(db: sessionmaker[Session], now: datetime) -> str:
    """A fresh workspace on the ``db`` backend."""
    with transaction(db) as session:
        return workspaces.create_workspace(session=session, name="品牌", now=now).workspace_id


def ident(kind: str, key: str) -> Identifier:
    """An identifier of type ``kind`` (an IdType value)."""
    return Identifier(type=IdType(kind), key=key)

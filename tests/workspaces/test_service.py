from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy.orm import Session, sessionmaker

from siyu.core.db import transaction
from siyu.core.errors import AuthError, InvalidInputError
from siyu.workspaces import service as workspaces


def test_created_keys_authenticate(db: sessionmaker[Session], now: datetime) -> None:
    with transaction(db) as session:
        created = workspaces.create_workspace(session=session, name="茶颜", now=now)
    with transaction(db) as session:
        by_write = workspaces.authenticate_write_key(session=session, write_key=created.write_key)
        by_secret = workspaces.authenticate_secret_key(
            session=session, secret_key=created.secret_key
        )
    assert by_write.id == by_secret.id == created.workspace_id
    assert by_write.created_at == now


def test_wrong_keys_are_refused(db: sessionmaker[Session], now: datetime) -> None:
    with transaction(db) as session:
        created = workspaces.create_workspace(session=session, name="brand", now=now)
    with transaction(db) as session, pytest.raises(AuthError):
        workspaces.authenticate_secret_key(session=session, secret_key=created.write_key)


def test_blank_name_is_refused(db: sessionmaker[Session], now: datetime) -> None:
    with transaction(db) as session, pytest.raises(InvalidInputError) as err:
        workspaces.create_workspace(session=session, name="  ", now=now)
    assert err.value.field == "name"

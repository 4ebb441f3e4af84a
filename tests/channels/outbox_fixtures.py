"""Fixtures of the outbox tests: a workspace, a vault and persons with real identifiers."""

from __future__ import annotations

import itertools
from datetime import datetime

import pytest
from sqlalchemy.orm import Session, sessionmaker

from siyu.channels import service as channels
from siyu.channels.models import Channel
from siyu.channels.restraint import ConsentStatus
from siyu.collect.models import IdType
from siyu.collect.normalize import make_identifier
from siyu.core.crypto import Vault
from siyu.core.db import transaction
from siyu.identity import service as identity
from siyu.workspaces import service as workspaces

VAULT = Vault(bytes(range(32)))
_seq = itertools.count()


@pytest.fixture
def ws(db: sessionmaker[Session], now: datetime) -> str:
    """A fresh workspace (Asia/Shanghai) on the ``db`` backend."""
    with transaction(db) as session:
        return workspaces.create_workspace(session=session, name="品牌", now=now).workspace_id


def make_person(
    db: sessionmaker[Session],
    ws: str,
    now: datetime,
    *,
    consent: tuple[Channel, ...] = (),
    **ids: str,
) -> str:
    """A person holding ``ids`` (IdType value → raw value), with consent granted on channels."""
    links = [make_identifier(VAULT, IdType(kind), value, kind) for kind, value in ids.items()]
    with transaction(db) as session:
        (person,) = identity.resolve_batch(
            session=session, workspace_id=ws, links=[links], message_ids=[f"m{next(_seq)}"], now=now
        )
        for channel in consent:
            channels.set_consent(
                session=session,
                workspace_id=ws,
                person_id=person,
                channel=channel,
                status=ConsentStatus.GRANTED,
                source="test",
                now=now,
            )
    return person

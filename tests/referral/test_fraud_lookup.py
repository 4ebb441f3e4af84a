"""The same-device / same-phone check reads the two persons' own conflicts, however old."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy.orm import Session, sessionmaker

from siyu.collect.models import Identifier, IdType
from siyu.core.db import transaction
from siyu.identity import service as identity
from siyu.referral import service as referral
from siyu.referral.models import Refusal
from siyu.workspaces import service as workspaces


@pytest.fixture
def ws(db: sessionmaker[Session], now: datetime) -> str:
    with transaction(db) as session:
        return workspaces.create_workspace(session=session, name="品牌", now=now).workspace_id


def _pair_on_one_device(
    session: Session, ws: str, device: str, first: str, second: str, now: datetime
) -> list[str]:
    # One user id per person: the second account on the device is kept apart, as a conflict.
    return identity.resolve_batch(
        session=session,
        workspace_id=ws,
        links=[
            [Identifier(IdType.USER_ID, first), Identifier(IdType.DEVICE_ID, device)],
            [Identifier(IdType.USER_ID, second), Identifier(IdType.DEVICE_ID, device)],
        ],
        message_ids=[f"{first}-m", f"{second}-m"],
        now=now,
    )


def test_a_conflict_older_than_500_others_still_blocks(
    db: sessionmaker[Session], ws: str, now: datetime
) -> None:
    with transaction(db) as session:
        inviter, invitee = _pair_on_one_device(session, ws, "dev-shared", "alice", "bob", now)
        noise = range(identity.MAX_PAGE + 20)  # newer conflicts of other persons
        identity.resolve_batch(
            session=session,
            workspace_id=ws,
            links=[
                [Identifier(IdType.USER_ID, f"{who}{n}"), Identifier(IdType.DEVICE_ID, f"d{n}")]
                for n in noise
                for who in "xy"
            ],
            message_ids=[f"{who}{n}-m" for n in noise for who in "xy"],
            now=now,
        )
    assert inviter != invitee
    with transaction(db) as session:
        page = identity.list_conflicts(session=session, workspace_id=ws, limit=identity.MAX_PAGE)
        assert page.total > identity.MAX_PAGE
        assert all({c.person_id, c.other_person_id} != {inviter, invitee} for c in page.items)
        shared = identity.shared_identifiers(
            session=session, workspace_id=ws, person_id=invitee, other_person_id=inviter
        )
        assert (IdType.DEVICE_ID, "dev-shared") in {(r.type, r.key) for r in shared}
        code = referral.invite_code(session=session, workspace_id=ws, person_id=inviter, now=now)
        outcome = referral.refer(
            session=session, workspace_id=ws, code=code.code, invitee_id=invitee, now=now
        )
    assert isinstance(outcome, Refusal)
    assert outcome.reason == "same_device"


def test_shared_identifiers_follow_merges_and_ignore_other_pairs(
    db: sessionmaker[Session], ws: str, now: datetime
) -> None:
    with transaction(db) as session:
        a, b = _pair_on_one_device(session, ws, "dev-1", "u-a", "u-b", now)
        c, d = _pair_on_one_device(session, ws, "dev-2", "u-c", "u-d", now)
        assert (
            identity.shared_identifiers(
                session=session, workspace_id=ws, person_id=a, other_person_id=d
            )
            == []
        )
        # b is absorbed into a new person (its anonymous id links it to a fresh one)
        (e,) = identity.resolve_batch(
            session=session,
            workspace_id=ws,
            links=[[Identifier(IdType.ANONYMOUS_ID, "anon-e")]],
            message_ids=["e-m"],
            now=now,
        )
        identity.resolve_batch(
            session=session,
            workspace_id=ws,
            links=[[Identifier(IdType.ANONYMOUS_ID, "anon-e"), Identifier(IdType.USER_ID, "u-b")]],
            message_ids=["e-link"],
            now=now,
        )
        survivor = identity.current_person_id(session=session, workspace_id=ws, person_id=e)
        assert survivor == identity.current_person_id(session=session, workspace_id=ws, person_id=b)
        shared = identity.shared_identifiers(
            session=session, workspace_id=ws, person_id=a, other_person_id=e
        )
    # The conflict's edge: the second account's id and the device it arrived on.
    assert {(r.type, r.key) for r in shared} == {
        (IdType.USER_ID, "u-b"),
        (IdType.DEVICE_ID, "dev-1"),
    }
    assert c != d

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session, sessionmaker

from siyu.collect.models import Identifier, IdType
from siyu.core.db import transaction
from siyu.core.errors import InvalidInputError, NotFoundError
from siyu.identity import service as identity
from siyu.identity.models import IdentityRule
from siyu.identity.tables import identity_identifiers, identity_links, identity_persons
from tests.identity.conftest import ident


def resolve(
    db: sessionmaker[Session],
    workspace_id: str,
    links: Sequence[Sequence[Identifier]],
    now: datetime,
    prefix: str = "m",
) -> list[str]:
    with transaction(db) as session:
        return identity.resolve_batch(
            session=session,
            workspace_id=workspace_id,
            links=links,
            message_ids=[f"{prefix}{i}" for i in range(len(links))],
            now=now,
        )


def test_links_merge_into_one_person(
    db: sessionmaker[Session], workspace_id: str, now: datetime
) -> None:
    first = resolve(db, workspace_id, [[ident("anonymous_id", "a1")]], now, "x")
    persons = resolve(
        db,
        workspace_id,
        [[ident("anonymous_id", "a2"), ident("device_id", "d1")],
         [ident("user_id", "u1"), ident("anonymous_id", "a1")],
         [ident("user_id", "u1"), ident("anonymous_id", "a2")]],
        now,
    )  # fmt: skip
    # u1 (user_id) outranks the anonymous ids, so its new person survives both merges; a
    # batch answers with each link's person as it stands at the end of the batch.
    assert persons[0] == persons[1] == persons[2] != first[0]
    with transaction(db) as session:
        found = identity.find_person(
            session=session, workspace_id=workspace_id, identifier=ident("device_id", "d1")
        )
        assert found == persons[1]
        held = identity.identifiers_of(session=session, workspace_id=workspace_id, person_id=found)
        assert {(v.type.value, v.key) for v in held} == {
            ("anonymous_id", "a1"), ("anonymous_id", "a2"), ("device_id", "d1"), ("user_id", "u1")
        }  # fmt: skip
        lineage = identity.person_ids_of(
            session=session, workspace_id=workspace_id, person_id=first[0]
        )
        assert lineage[:2] == [found, first[0]] and len(lineage) == 3
        assert (
            identity.current_person_id(
                session=session, workspace_id=workspace_id, person_id=first[0]
            )
            == found
        )
        history = identity.merge_history(
            session=session, workspace_id=workspace_id, person_id=found
        )
    assert [(m.survivor_id, m.absorbed_id, m.message_id) for m in history] == [
        (found, first[0], "m1"),
        (found, lineage[2], "m2"),
    ]


def test_shared_tablet_does_not_fuse_members(
    db: sessionmaker[Session], workspace_id: str, now: datetime
) -> None:
    links = [[ident("member_id", f"vip{i}"), ident("device_id", "tablet")] for i in range(50)]
    persons = resolve(db, workspace_id, links, now)
    assert len(set(persons)) == 50
    with transaction(db) as session:
        page = identity.list_conflicts(session=session, workspace_id=workspace_id, limit=100)
    assert page.total == 49
    conflict = page.items[-1]
    assert conflict.id_type == IdType.MEMBER_ID
    assert conflict.reason == "limit"
    assert conflict.message_id == "m1"
    assert {conflict.person_id, conflict.other_person_id} == {persons[0], persons[1]}
    assert [(r.type.value, r.key) for r in conflict.identifiers] == [
        ("member_id", "vip1"), ("device_id", "tablet")
    ]  # fmt: skip


def test_clerk_phone_typed_for_many_members(
    db: sessionmaker[Session], workspace_id: str, now: datetime
) -> None:
    clerk = Identifier(type=IdType.PHONE, key="h4sh", masked="138****0000", encrypted="c1ph3r")
    links = [[ident("member_id", f"m{i}"), clerk] for i in range(10)]
    links += [[ident("member_id", "m3"), ident("anonymous_id", "a3")]]
    persons = resolve(db, workspace_id, links, now)
    assert len(set(persons[:10])) == 10
    assert persons[10] == persons[3]
    with transaction(db) as session:
        held = identity.identifiers_of(
            session=session, workspace_id=workspace_id, person_id=persons[0]
        )
        page = identity.list_conflicts(session=session, workspace_id=workspace_id, limit=5)
    phone = next(v for v in held if v.type == IdType.PHONE)
    assert phone.masked == "138****0000"
    assert (page.total, len(page.items)) == (9, 5)


def test_unknown_identifier_over_limit_gets_own_person(
    db: sessionmaker[Session], workspace_id: str, now: datetime
) -> None:
    persons = resolve(
        db,
        workspace_id,
        [[ident("user_id", "u1"), ident("member_id", "m1")],
         [ident("user_id", "u1"), ident("member_id", "m2")]],
        now,
    )  # fmt: skip
    assert persons[0] == persons[1]
    with transaction(db) as session:
        other = identity.find_person(
            session=session, workspace_id=workspace_id, identifier=ident("member_id", "m2")
        )
        page = identity.list_conflicts(session=session, workspace_id=workspace_id)
    assert other is not None and other != persons[0]
    assert page.items[0].other_person_id == other


def test_rules_validation(db: sessionmaker[Session], workspace_id: str, now: datetime) -> None:
    with transaction(db) as session:
        rules = identity.get_rules(session=session, workspace_id=workspace_id)
        assert rules.rules[0].id_type == IdType.USER_ID
        with pytest.raises(InvalidInputError) as err:
            identity.set_rules(
                session=session,
                workspace_id=workspace_id,
                rules=[IdentityRule(id_type=IdType.PHONE, priority=1, limit=1)],
                now=now,
            )
        assert err.value.field == "rules.phone.priority"
        with pytest.raises(InvalidInputError) as err:
            identity.set_rules(
                session=session,
                workspace_id=workspace_id,
                rules=[IdentityRule(id_type=IdType.DEVICE_ID, priority=12, limit=0)],
                now=now,
            )
        assert err.value.field == "rules.device_id.limit"
        with pytest.raises(NotFoundError):
            identity.set_rules(session=session, workspace_id="ws_none", rules=[], now=now)
        changed = identity.set_rules(
            session=session,
            workspace_id=workspace_id,
            rules=[IdentityRule(id_type=IdType.DEVICE_ID, priority=12, limit=1)],
            now=now + timedelta(seconds=1),
        )
    device = next(r for r in changed.rules if r.id_type == IdType.DEVICE_ID)
    assert device.limit == 1
    with transaction(db) as session:
        again = identity.get_rules(session=session, workspace_id=workspace_id)
    assert again == changed


def test_bad_batches_are_refused(
    db: sessionmaker[Session], workspace_id: str, now: datetime
) -> None:
    with transaction(db) as session:
        with pytest.raises(InvalidInputError) as err:
            identity.resolve_batch(
                session=session, workspace_id=workspace_id, links=[[]], message_ids=["m"], now=now
            )
        assert err.value.field == "links[0]"
        with pytest.raises(InvalidInputError):
            identity.resolve_batch(
                session=session, workspace_id=workspace_id, links=[], message_ids=["m"], now=now
            )
        with pytest.raises(NotFoundError):
            identity.current_person_id(session=session, workspace_id=workspace_id, person_id="p_x")


def count_rows(db: sessionmaker[Session], table: Table, workspace_id: str) -> int:
    with transaction(db) as session:
        return session.execute(
            select(func.count()).select_from(table).where(table.c.workspace_id == workspace_id)
        ).scalar_one()


def test_known_persons_write_nothing(
    db: sessionmaker[Session], workspace_id: str, now: datetime
) -> None:
    first = resolve(
        db, workspace_id, [[ident("anonymous_id", "a1"), ident("device_id", "d1")]], now
    )
    again = resolve(
        db,
        workspace_id,
        [[ident("device_id", "d1")],
         [ident("device_id", "d1"), ident("anonymous_id", "a1")],
         [ident("anonymous_id", "a1")]],
        now,
        "k",
    )  # fmt: skip
    assert again == first * 3
    assert count_rows(db, identity_links, workspace_id) == 1
    assert count_rows(db, identity_persons, workspace_id) == 1
    # A batch mixing known and new persons stores only the links that changed something.
    mixed = resolve(
        db,
        workspace_id,
        [[ident("anonymous_id", "a1")],
         [ident("anonymous_id", "a2"), ident("device_id", "d1")],
         [ident("anonymous_id", "a2"), ident("device_id", "d1")],
         [ident("anonymous_id", "a3")]],
        now,
        "x",
    )  # fmt: skip
    assert mixed[:3] == first * 3 and mixed[3] != first[0]
    assert count_rows(db, identity_links, workspace_id) == 3
    assert count_rows(db, identity_identifiers, workspace_id) == 4


def test_person_map_lists_absorbed_persons_with_their_survivor(
    db: sessionmaker[Session], workspace_id: str, now: datetime
) -> None:

    with transaction(db) as session:
        first = identity.resolve_batch(
            session=session,
            workspace_id=workspace_id,
            links=[
                [ident("anonymous_id", "a")],
                [ident("anonymous_id", "b")],
                [ident("anonymous_id", "c")],
            ],
            message_ids=["1", "2", "3"],
            now=now,
        )
        assert identity.person_map(session=session, workspace_id=workspace_id) == []
        merged = identity.resolve_batch(
            session=session,
            workspace_id=workspace_id,
            links=[
                [ident("member_id", "M"), ident("anonymous_id", "a"), ident("anonymous_id", "b")]
            ],
            message_ids=["4"],
            now=now,
        )
        mapping = dict(identity.person_map(session=session, workspace_id=workspace_id))
    survivor = merged[0]
    assert set(mapping) | {survivor} == {first[0], first[1]} | {survivor}
    assert set(mapping.values()) == {survivor}
    assert first[2] not in mapping

from __future__ import annotations

import random
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from siyu.collect.models import Identifier, IdType
from siyu.core.db import transaction
from siyu.identity import service as identity
from siyu.identity.models import IdentityRule
from siyu.identity.tables import identity_identifiers
from tests.identity.conftest import ident
from tests.identity.test_service import resolve


def holders(db: sessionmaker[Session], workspace_id: str) -> dict[tuple[str, str], str]:
    ids = identity_identifiers.c
    with transaction(db) as session:
        rows = session.execute(
            select(ids.id_type, ids.key, ids.person_id).where(ids.workspace_id == workspace_id)
        ).all()
    return {(t, k): p for t, k, p in rows}


def wrong_merge(db: sessionmaker[Session], workspace_id: str, now: datetime) -> tuple[str, str]:
    a = resolve(db, workspace_id, [[ident("member_id", "m1"), ident("anonymous_id", "a1")]], now)
    b = resolve(db, workspace_id, [[ident("anonymous_id", "a2"), ident("device_id", "d2")]], now)
    merged = resolve(
        db, workspace_id, [[ident("anonymous_id", "a1"), ident("anonymous_id", "a2")]], now
    )
    assert merged == a
    return a[0], b[0]


def test_split_restores_identifiers_and_blocks_remerge(
    db: sessionmaker[Session], workspace_id: str, now: datetime
) -> None:
    kept, restored = wrong_merge(db, workspace_id, now)
    with transaction(db) as session:
        result = identity.split_person(
            session=session,
            workspace_id=workspace_id,
            person_id=kept,
            absorbed_person_id=restored,
            now=now,
            reason="shared computer at the shop",
        )
    assert result.restored_person_id == restored
    assert {(r.type.value, r.key) for r in result.moved} == {
        ("anonymous_id", "a2"), ("device_id", "d2")
    }  # fmt: skip
    again = resolve(
        db,
        workspace_id,
        [[ident("anonymous_id", "a1"), ident("anonymous_id", "a2")],
         [ident("member_id", "m1"), ident("device_id", "d2")]],
        now,
        "later",
    )  # fmt: skip
    assert again == [kept, kept]
    with transaction(db) as session:
        assert (
            identity.find_person(
                session=session, workspace_id=workspace_id, identifier=ident("device_id", "d2")
            )
            == restored
        )
        assert identity.person_ids_of(
            session=session, workspace_id=workspace_id, person_id=restored
        ) == [restored]
        page = identity.list_conflicts(session=session, workspace_id=workspace_id)
        history = identity.merge_history(session=session, workspace_id=workspace_id, person_id=kept)
        report = identity.rebuild(session=session, workspace_id=workspace_id, now=now)
    assert [c.reason for c in page.items] == ["blocked", "blocked"]
    assert history[0].split_reason == "shared computer at the shop"
    assert history[0].split_at == now
    # The rebuild honours the block from the start: still two persons, same ids.
    assert (report.persons, report.identifiers_moved, report.persons_new) == (2, 0, 0)


def test_split_refuses_persons_not_absorbed(
    db: sessionmaker[Session], workspace_id: str, now: datetime
) -> None:
    import pytest

    from siyu.core.errors import InvalidInputError

    kept, restored = wrong_merge(db, workspace_id, now)
    with transaction(db) as session:
        for absorbed, reason, field in [
            (kept, "x", "absorbed_person_id"),
            (restored, " ", "reason"),
        ]:
            with pytest.raises(InvalidInputError) as err:
                identity.split_person(
                    session=session,
                    workspace_id=workspace_id,
                    person_id=kept,
                    absorbed_person_id=absorbed,
                    now=now,
                    reason=reason,
                )
            assert err.value.field == field


def random_links(seed: int, n: int) -> list[list[Identifier]]:
    rng = random.Random(seed)
    links: list[list[Identifier]] = []
    for _ in range(n):
        person = rng.randrange(40)
        link = [ident("anonymous_id", f"a{person}-{rng.randrange(3)}")]
        if rng.random() < 0.5:
            link.append(ident("member_id", f"m{person}"))
        if rng.random() < 0.3:
            link.append(ident("device_id", f"d{rng.randrange(8)}"))  # shared tablets
        if rng.random() < 0.2:
            link.append(ident("phone", f"ph{rng.randrange(50)}"))
        links.append(link)
    return links


def test_rebuild_equals_incremental(
    db: sessionmaker[Session], workspace_id: str, now: datetime
) -> None:
    links = random_links(7, 300)
    with transaction(db) as session:
        identity.set_rules(
            session=session,
            workspace_id=workspace_id,
            rules=[IdentityRule(id_type=IdType.DEVICE_ID, priority=12, limit=2)],
            now=now,
        )
    for start in range(0, len(links), 70):
        resolve(db, workspace_id, links[start : start + 70], now, f"b{start}-")
    before = holders(db, workspace_id)
    stages: list[str] = []
    with transaction(db) as session:
        report = identity.rebuild(
            session=session,
            workspace_id=workspace_id,
            now=now,
            progress=lambda stage, _done, _total: stages.append(stage),
        )
    assert report.slow_components > 0
    assert (report.identifiers_moved, report.persons_new, report.persons_retired) == (0, 0, 0)
    assert holders(db, workspace_id) == before
    # Links that found all their identifiers with one person were not stored.
    assert 0 < report.links < 300 and "links" in stages
    # Stricter rules applied to the past: no person keeps two devices any more.
    with transaction(db) as session:
        identity.set_rules(
            session=session,
            workspace_id=workspace_id,
            rules=[IdentityRule(id_type=IdType.DEVICE_ID, priority=12, limit=1)],
            now=now,
        )
        identity.rebuild(session=session, workspace_id=workspace_id, now=now)
    after = holders(db, workspace_id)
    devices: dict[str, int] = {}
    for (t, _), person in after.items():
        if t == "device_id":
            devices[person] = devices.get(person, 0) + 1
    assert max(devices.values()) == 1
    with transaction(db) as session:
        for person in set(after.values()):
            assert (
                identity.current_person_id(
                    session=session, workspace_id=workspace_id, person_id=person
                )
                == person
            )

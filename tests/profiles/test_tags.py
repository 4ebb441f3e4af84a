"""Tags on SQLite and PostgreSQL: groups, manual, rule and model tags, history."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from siyu.collect.models import Identifier, IdType
from siyu.core.db import transaction
from siyu.core.errors import ConflictError, InvalidInputError, NotFoundError
from siyu.identity import service as identity
from siyu.profiles import tags
from siyu.profiles.tag_models import TagCreate, TagGroupCreate, TagKind, TagUpdate
from siyu.workspaces import service as workspaces


@pytest.fixture
def ws(db: sessionmaker[Session], now: datetime) -> str:
    with transaction(db) as session:
        return workspaces.create_workspace(session=session, name="品牌", now=now).workspace_id


def persons(
    db: sessionmaker[Session], ws: str, now: datetime, *keys: str, kind: IdType = IdType.MEMBER_ID
) -> list[str]:
    """Resolve one identifier of ``kind`` per key; returns the persons."""
    with transaction(db) as session:
        return identity.resolve_batch(
            session=session,
            workspace_id=ws,
            links=[[Identifier(kind, k)] for k in keys],
            message_ids=[f"m-{k}" for k in keys],
            now=now,
        )


def test_model_tags_replace_whole_group(db: sessionmaker[Session], ws: str, now: datetime) -> None:
    with transaction(db) as session:
        first = tags.replace_model_tags(
            session=session,
            workspace_id=ws,
            group="RFM",
            assignments={"p1": "重要价值客户", "p2": "一般挽留客户", "p3": "重要价值客户"},
            now=now,
            reason="rfm run 1",
        )
    assert (first.gained, first.lost) == (3, 0)
    later = now + timedelta(days=1)
    with transaction(db) as session:
        second = tags.replace_model_tags(
            session=session,
            workspace_id=ws,
            group="RFM",
            assignments={"p1": "重要价值客户", "p2": "重要发展客户"},
            now=later,
            reason="rfm run 2",
        )
        held = tags.persons_with_tag(session=session, workspace_id=ws, tag="RFM/重要价值客户")
        group = tags.get_group(session=session, workspace_id=ws, group="RFM")
        listed = tags.list_tags(session=session, workspace_id=ws, group="RFM", with_counts=True)
    # p2 switched (lost one, gained one); p3 dropped out; p1 unchanged.
    assert (second.gained, second.lost) == (1, 2)
    assert held == ["p1"]
    assert group.kind == TagKind.MODEL and group.exclusive
    assert {t.name: t.persons for t in listed} == {
        "一般挽留客户": 0,
        "重要价值客户": 1,
        "重要发展客户": 1,
    }


def test_model_tags_refuse_a_manual_group_of_that_name(
    db: sessionmaker[Session], ws: str, now: datetime
) -> None:
    with transaction(db) as session:
        tags.create_group(
            session=session, workspace_id=ws, group=TagGroupCreate(name="兴趣"), now=now
        )
        with pytest.raises(ConflictError):
            tags.replace_model_tags(
                session=session, workspace_id=ws, group="兴趣", assignments={}, now=now, reason="x"
            )


def test_manual_tags_exclusive_group_and_history(
    db: sessionmaker[Session], ws: str, now: datetime
) -> None:
    p1, p2 = persons(db, ws, now, "a", "b")
    with transaction(db) as session:
        tags.create_group(
            session=session,
            workspace_id=ws,
            group=TagGroupCreate(name="性别", exclusive=True),
            now=now,
        )
        for name in ("男", "女"):
            tags.create_tag(
                session=session, workspace_id=ws, tag=TagCreate(group="性别", name=name), now=now
            )
        tags.apply_tag(
            session=session,
            workspace_id=ws,
            tag="性别/男",
            person_ids=[p1, p2],
            now=now,
            actor="amy",
        )
    later = now + timedelta(hours=1)
    with transaction(db) as session:
        changes = tags.apply_tag(
            session=session, workspace_id=ws, tag="女", person_ids=[p1], now=later, actor="bob"
        )
        held = tags.tags_of(session=session, workspace_id=ws, person_id=p1)
        log = tags.history(session=session, workspace_id=ws, person_id=p1)
    assert (changes.gained, changes.lost) == (1, 1)
    assert [t.tag for t in held] == ["女"]
    assert [(e.change, e.tag, e.actor) for e in log] == [
        ("gained", "女", "bob"),
        ("lost", "男", "bob"),
        ("gained", "男", "amy"),
    ]
    with transaction(db) as session:
        removed = tags.remove_tag(
            session=session, workspace_id=ws, tag="女", person_id=p1, now=later
        )
        assert removed.lost == 1
        assert tags.tags_of(session=session, workspace_id=ws, person_id=p1) == []


def test_tag_validation(db: sessionmaker[Session], ws: str, now: datetime) -> None:
    with transaction(db) as session:
        tags.create_group(
            session=session, workspace_id=ws, group=TagGroupCreate(name="兴趣"), now=now
        )
        tags.create_group(
            session=session,
            workspace_id=ws,
            group=TagGroupCreate(name="消费力", kind=TagKind.RULE),
            now=now,
        )
        with pytest.raises(ConflictError):
            tags.create_group(
                session=session, workspace_id=ws, group=TagGroupCreate(name="兴趣"), now=now
            )
        with pytest.raises(InvalidInputError) as bad:
            tags.create_tag(
                session=session, workspace_id=ws, tag=TagCreate(group="消费力", name="高"), now=now
            )
        assert bad.value.field == "rule"
        with pytest.raises(NotFoundError):
            tags.create_tag(
                session=session, workspace_id=ws, tag=TagCreate(group="无", name="x"), now=now
            )
        tea = tags.create_tag(
            session=session, workspace_id=ws, tag=TagCreate(group="兴趣", name="茶"), now=now
        )
        with pytest.raises(ConflictError):
            tags.create_tag(
                session=session, workspace_id=ws, tag=TagCreate(group="兴趣", name="茶"), now=now
            )
        renamed = tags.update_tag(
            session=session, workspace_id=ws, tag=tea.id, changes=TagUpdate(name="奶茶")
        )
        assert renamed.name == "奶茶"
        with pytest.raises(ConflictError):
            tags.delete_group(session=session, workspace_id=ws, group="兴趣")
        with pytest.raises(NotFoundError):
            tags.apply_tag(
                session=session, workspace_id=ws, tag="奶茶", person_ids=["p_nobody"], now=now
            )


def test_tags_follow_merges(db: sessionmaker[Session], ws: str, now: datetime) -> None:
    (p1,) = persons(db, ws, now, "a")
    (p2,) = persons(db, ws, now, "b", kind=IdType.ANONYMOUS_ID)
    with transaction(db) as session:
        tags.create_group(
            session=session, workspace_id=ws, group=TagGroupCreate(name="兴趣"), now=now
        )
        tags.create_tag(
            session=session, workspace_id=ws, tag=TagCreate(group="兴趣", name="茶"), now=now
        )
        tags.apply_tag(session=session, workspace_id=ws, tag="茶", person_ids=[p2], now=now)
    with transaction(db) as session:  # one message carries both ids: the persons merge
        merged = identity.resolve_batch(
            session=session,
            workspace_id=ws,
            links=[[Identifier(IdType.MEMBER_ID, "a"), Identifier(IdType.ANONYMOUS_ID, "b")]],
            message_ids=["m-ab"],
            now=now,
        )[0]
    with transaction(db) as session:
        assert [
            t.tag for t in tags.tags_of(session=session, workspace_id=ws, person_id=merged)
        ] == ["茶"]
        assert tags.persons_with_tag(session=session, workspace_id=ws, tag="茶") == [merged]
    assert merged in (p1, p2)


def test_model_tags_are_bulk_fast(db: sessionmaker[Session], ws: str, now: datetime) -> None:
    names = ["重要价值客户", "重要发展客户", "一般保持客户", "一般挽留客户"]
    first = {f"p{i:06d}": names[i % 4] for i in range(20_000)}
    second = {f"p{i:06d}": names[(i // 3) % 4] for i in range(2_000, 22_000)}
    started = time.perf_counter()
    with transaction(db) as session:
        tags.replace_model_tags(
            session=session, workspace_id=ws, group="RFM", assignments=first, now=now, reason="r1"
        )
    with transaction(db) as session:
        changes = tags.replace_model_tags(
            session=session, workspace_id=ws, group="RFM", assignments=second, now=now, reason="r2"
        )
    elapsed = time.perf_counter() - started
    moved = sum(1 for p, n in second.items() if first.get(p) != n)
    assert changes.gained == moved
    assert changes.lost == moved - 2_000 + 2_000  # switched persons, plus the 2,000 dropped
    assert elapsed < 20

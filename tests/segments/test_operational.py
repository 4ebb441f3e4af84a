"""Definitions without events run on the operational store itself (SQLite and PostgreSQL) and
select what DuckDB selects over the relations shipped from it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from siyu.collect.models import Identifier, IdType
from siyu.core.db import transaction
from siyu.identity import service as identity
from siyu.profiles import service as profiles
from siyu.profiles import tags
from siyu.profiles.tag_models import TagCreate, TagGroupCreate
from siyu.segments import sources
from siyu.segments.compile import to_sql
from siyu.segments.models import CONDITION
from siyu.workspaces import service as workspaces
from tests.profiles.events import identify, order
from tests.segments.harness import run_duckdb

DEFINITIONS: list[dict[str, Any]] = [
    {"type": "trait", "name": "city", "op": "eq", "value": "杭州"},
    {"type": "trait", "name": "age", "op": "gte", "value": 30},
    {"type": "trait", "name": "vip", "op": "eq", "value": True},
    {"type": "not", "condition": {"type": "trait", "name": "city", "op": "exists"}},
    {"type": "computed", "name": "order_count", "op": "lte", "value": 1},
    {"type": "computed", "name": "avg_spend_fen", "op": "gte", "value": 10000},
    {"type": "computed", "name": "days_since_last_order", "op": "lt", "value": 30},
    {"type": "identifier", "id_type": "wecom_external_userid"},
    {
        "type": "any",
        "of": [
            {"type": "tag", "tag": "茶"},
            {"type": "trait", "name": "city", "op": "in", "value": ["上海"]},
        ],
    },
]


def _fill(db: sessionmaker[Session], now: datetime) -> str:
    with transaction(db) as session:
        ws = workspaces.create_workspace(session=session, name="品牌", now=now).workspace_id
        links = [
            [Identifier(IdType.MEMBER_ID, "M1"), Identifier(IdType.WECOM_EXTERNAL_USERID, "wm1")],
            [Identifier(IdType.MEMBER_ID, "M2")],
            [Identifier(IdType.ANONYMOUS_ID, "a3")],
            [Identifier(IdType.MEMBER_ID, "M2"), Identifier(IdType.ANONYMOUS_ID, "a3")],  # merge
        ]
        people = identity.resolve_batch(
            session=session, workspace_id=ws, links=links, message_ids=["1", "2", "3", "4"], now=now
        )
        t = now - timedelta(days=3)
        events = [
            identify(t, city="杭州", age=31, vip=True),
            order(t, 15000),
            identify(t, city="上海", age="thirty"),
            identify(t + timedelta(hours=1), city="杭州"),  # absorbed person: later wins
            order(t - timedelta(days=60), 5000),
        ]
        owners = [people[0], people[0], people[1], people[2], people[2]]
        profiles.apply_events(
            session=session, workspace_id=ws, events=events, person_ids=owners, now=now
        )
        tags.create_group(
            session=session, workspace_id=ws, group=TagGroupCreate(name="兴趣"), now=now
        )
        tags.create_tag(
            session=session, workspace_id=ws, tag=TagCreate(group="兴趣", name="茶"), now=now
        )
        tags.apply_tag(session=session, workspace_id=ws, tag="茶", person_ids=[people[1]], now=now)
    return ws


@pytest.mark.parametrize("raw", DEFINITIONS)
def test_operational_sql_matches_duckdb(
    db: sessionmaker[Session], now: datetime, raw: dict[str, Any]
) -> None:
    ws = _fill(db, now)
    with transaction(db) as session:
        tag_id = tags.get_tag(session=session, workspace_id=ws, tag="茶").id
        definition = CONDITION.validate_python(
            raw
            if raw["type"] != "any"
            else {**raw, "of": [{"type": "tag", "tag": tag_id}, raw["of"][1]]}
        )
        dialect = session.get_bind().dialect.name
        compiled = to_sql(definition, dialect, now=now, workspace_id=ws)
        here = {row[0] for row in session.execute(text(compiled.sql))}
        shipped = sources.load_relations(session=session, workspace_id=ws, names=sources.SCHEMAS)
    there = run_duckdb(to_sql(definition, "duckdb", now=now).sql, shipped)
    assert here == there
    assert len(shipped["seg_persons"]) == 2  # three persons, one absorbed

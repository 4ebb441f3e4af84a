"""The service: training to artefacts, train_due, serving with merges and flags, evaluation
(SQLite and PostgreSQL operational stores, the real Parquet event store)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from sqlalchemy import update

from siyu.core.errors import InvalidInputError, NotFoundError
from siyu.core.eventstore import EVENT_SCHEMA
from siyu.core.runtime import Runtime
from siyu.identity.tables import identity_persons
from siyu.recommend import artefacts
from siyu.recommend import service as recommend
from siyu.recommend.models import Filters, ProductUpdate, Reason, RecommendSettings
from siyu.workspaces import service as workspaces
from tests.recommend.synthetic import NOW, SPLIT, events, open_loaded


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def loaded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Runtime, str]]:
    rt, ws = open_loaded(tmp_path_factory.mktemp("rec"), request.param)
    recommend.train(runtime=rt, workspace_id=ws, now=NOW)
    yield rt, ws
    rt.close()


def test_training_saves_a_model_with_its_time(loaded: tuple[Runtime, str]) -> None:
    rt, ws = loaded
    info = recommend.get_model_info(runtime=rt, workspace_id=ws)
    assert (info.trained_at, info.persons, info.products) == (NOW, 120, 12)
    source = events(ws)
    pairs = set()
    for e in source:
        props = json.loads(e["properties"])
        pairs |= {(e["person_id"], item["product_id"]) for item in props.get("products", [props])}
    assert info.orders == sum(e["event"] == "Order Completed" for e in source)
    assert info.interactions == len(pairs)
    saved = artefacts.workspace_dir(rt.settings.data_dir, ws) / NOW.strftime("%Y%m%dT%H%M%S%fZ")
    assert (saved / "als.npz").exists() and not (saved / "bpr.npz").exists()  # BPR not served


def test_train_due_after_retrain_hours(loaded: tuple[Runtime, str]) -> None:
    rt, ws = loaded
    assert not recommend.train_due(runtime=rt, workspace_id=ws, now=NOW + timedelta(hours=23))
    assert recommend.train_due(runtime=rt, workspace_id=ws, now=NOW + timedelta(hours=24))
    with rt.sessions() as session, session.begin():
        empty = workspaces.create_workspace(session=session, name="空", now=NOW).workspace_id
    assert not recommend.train_due(runtime=rt, workspace_id=empty, now=NOW)  # no events


def test_retraining_keeps_two_versions_and_serves_the_newest(tmp_path: Path) -> None:
    rt, ws = open_loaded(tmp_path, "sqlite", persons=30)
    try:
        for hours in (0, 30, 60):
            recommend.train(runtime=rt, workspace_id=ws, now=NOW + timedelta(hours=hours))
        root = artefacts.workspace_dir(tmp_path, ws)
        assert len([p for p in root.iterdir() if p.is_dir()]) == 2
        info = recommend.get_model_info(runtime=rt, workspace_id=ws)
        assert info.trained_at == NOW + timedelta(hours=60)
        gone = [{**e, "workspace_id": "ws_gone"} for e in events("ws_gone", persons=2)]
        rt.events.append(pa.Table.from_pylist(gone, schema=EVENT_SCHEMA))
        done = recommend.train_all_due(runtime=rt, now=NOW + timedelta(hours=100))
        assert [d.workspace_id for d in done] == [ws]
        assert recommend.train_all_due(runtime=rt, now=NOW + timedelta(hours=101)) == []
    finally:
        rt.close()


def test_a_group_b_person_gets_group_b_products(loaded: tuple[Runtime, str]) -> None:
    rt, ws = loaded
    found = recommend.recommend_for(
        runtime=rt, workspace_id=ws, person_id="p001", k=3, filters=Filters(), now=NOW
    )
    assert found.known and found.trained_at == NOW
    assert [i.reason for i in found.items] == [Reason.ALS] * 3
    assert all(i.product_id.startswith("b") for i in found.items)


def test_an_absorbed_id_answers_for_its_survivor(tmp_path: Path) -> None:
    rt, ws = open_loaded(tmp_path, "sqlite", persons=30)
    try:
        with rt.sessions() as session, session.begin():
            session.execute(
                update(identity_persons)
                .where(identity_persons.c.id == "p003")
                .values(survivor_id="p001")
            )
        recommend.train(runtime=rt, workspace_id=ws, now=NOW)
        found = recommend.recommend_for(
            runtime=rt, workspace_id=ws, person_id="p003", k=2, filters=Filters(), now=NOW
        )
        assert found.person_id == "p001" and found.known
        assert "p003" not in artefacts.load(tmp_path, ws)[0].persons
    finally:
        rt.close()


def test_stock_flags_filter_and_show_in_the_catalogue(loaded: tuple[Runtime, str]) -> None:
    rt, ws = loaded
    first = recommend.recommend_for(
        runtime=rt, workspace_id=ws, person_id="p001", k=1, filters=Filters(), now=NOW
    ).items[0]
    products = recommend.update_catalogue(
        runtime=rt,
        workspace_id=ws,
        updates=[
            ProductUpdate(product_id=first.product_id, in_stock=False),
            ProductUpdate(product_id="new-1", name="新品", category="乌龙"),
        ],
        now=NOW,
    )
    by_id = {p.product_id: p for p in products}
    assert not by_id[first.product_id].in_stock and by_id[first.product_id].name
    assert by_id["new-1"].name == "新品" and len(products) == 13
    again = recommend.recommend_for(
        runtime=rt, workspace_id=ws, person_id="p001", k=3, filters=Filters(), now=NOW
    )
    assert first.product_id not in [i.product_id for i in again.items]
    recommend.update_catalogue(
        runtime=rt,
        workspace_id=ws,
        updates=[ProductUpdate(product_id=first.product_id, in_stock=True)],
        now=NOW,
    )
    assert recommend.get_catalogue(runtime=rt, workspace_id=ws)[0].in_stock


def test_a_person_new_since_training_gets_bought_together(loaded: tuple[Runtime, str]) -> None:
    rt, ws = loaded
    with rt.sessions() as session, session.begin():
        session.execute(
            identity_persons.insert().values(
                id="newbie", workspace_id=ws, rank=10_000, created_at=NOW
            )
        )
    found = recommend.recommend_for(
        runtime=rt, workspace_id=ws, person_id="newbie", k=3, filters=Filters(), now=NOW
    )
    assert not found.known and {i.reason for i in found.items} == {Reason.POPULAR}


def test_errors_name_the_field(loaded: tuple[Runtime, str], tmp_path: Path) -> None:
    rt, ws = loaded
    with pytest.raises(NotFoundError) as unknown:
        recommend.recommend_for(
            runtime=rt, workspace_id=ws, person_id="nobody", k=3, filters=Filters(), now=NOW
        )
    assert unknown.value.field == "person_id"
    with pytest.raises(InvalidInputError) as bad_k:
        recommend.recommend_for(
            runtime=rt, workspace_id=ws, person_id="p001", k=0, filters=Filters(), now=NOW
        )
    assert bad_k.value.field == "k"
    with rt.sessions() as session, session.begin():
        empty = workspaces.create_workspace(session=session, name="空2", now=NOW).workspace_id
    with pytest.raises(InvalidInputError) as nothing:
        recommend.train(runtime=rt, workspace_id=empty, now=NOW)
    assert nothing.value.field == "events"
    with pytest.raises(NotFoundError) as no_model:
        recommend.get_model_info(runtime=rt, workspace_id=empty)
    assert no_model.value.field == "model"


def test_settings_round_trip_and_evaluation(loaded: tuple[Runtime, str]) -> None:
    rt, ws = loaded
    saved = recommend.put_settings(
        runtime=rt, workspace_id=ws, settings=RecommendSettings(factors=16), now=NOW
    )
    assert recommend.get_settings(runtime=rt, workspace_id=ws) == saved
    found = recommend.evaluate(runtime=rt, workspace_id=ws, split_at=SPLIT, until=NOW, k=3)
    score = {m.method: m.precision for m in found.methods}
    assert score["als"] > score["popular"]
    recommend.put_settings(runtime=rt, workspace_id=ws, settings=RecommendSettings(), now=NOW)

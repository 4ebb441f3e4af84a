"""Stored RFM settings and scores on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from siyu.segments import layer_store, rfm
from siyu.segments.rfm import Buyer, RfmSettings


def test_settings_default_then_stored(db: sessionmaker[Session], now: datetime) -> None:
    with db() as session, session.begin():
        assert (
            layer_store.load_settings(
                session=session, workspace_id="ws", name="rfm", model=RfmSettings
            )
            == RfmSettings()
        )
        custom = RfmSettings(
            method="thresholds",
            recency_days=[7, 30, 90, 180],
            frequency_orders=[1, 2, 4, 8],
            monetary_fen=[1_000, 5_000, 20_000, 100_000],
            split="median",
        )
        layer_store.save_settings(
            session=session, workspace_id="ws", name="rfm", value=custom, now=now
        )
        layer_store.save_settings(
            session=session, workspace_id="ws", name="rfm", value=custom, now=now
        )
    with db() as session:
        assert (
            layer_store.load_settings(
                session=session, workspace_id="ws", name="rfm", model=RfmSettings
            )
            == custom
        )
        assert (
            layer_store.load_settings(
                session=session, workspace_id="other", name="rfm", model=RfmSettings
            )
            == RfmSettings()
        )


def test_scores_are_replaced_whole(db: sessionmaker[Session], now: datetime) -> None:
    buyers = [
        Buyer(
            person_id=f"p{i}",
            last_order_at=now - timedelta(days=i),
            orders=1 + i % 4,
            spend_fen=1_000 * i,
        )
        for i in range(20)
    ]
    scores, _ = rfm.score(buyers, settings=RfmSettings(), now=now)
    with db() as session, session.begin():
        layer_store.replace_rfm_scores(session=session, workspace_id="ws", scores=scores, now=now)
        layer_store.replace_rfm_scores(
            session=session, workspace_id="ws", scores=scores[:5], now=now
        )
    with db() as session:
        counts, at = layer_store.rfm_counts(session=session, workspace_id="ws")
        assert sum(counts.values()) == 5
        assert at == now
        page = layer_store.rfm_page(
            session=session, workspace_id="ws", segment=None, limit=3, offset=0
        )
        assert [s.person_id for s in page] == ["p4", "p3", "p2"]
        assert page[0] == scores[4]
        one = scores[0].segment.value
        only = layer_store.rfm_page(
            session=session, workspace_id="ws", segment=one, limit=50, offset=0
        )
        assert {s.segment.value for s in only} == {one}

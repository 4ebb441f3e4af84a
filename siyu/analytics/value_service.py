"""Customer value as service calls: historical LTV, BG/NBD + Gamma-Gamma fit and predictions.

Orders are read once per call from the event store (persons merged), grouped by local day
in the workspace's zone; the fitted model is stored per workspace (``layer_settings`` name
``ltv_model``) so predictions do not refit.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from pydantic import BaseModel, Field

from siyu.analytics import ltv
from siyu.analytics.engine import Dialect, engine_for
from siyu.analytics.order_history import OrderDays, day_number, per_person, read_order_days
from siyu.core.errors import InvalidInputError, NotFoundError
from siyu.core.runtime import Runtime
from siyu.identity import service as identity
from siyu.segments import layer_store
from siyu.workspaces import service as workspaces

MODEL_KEY = "ltv_model"


class CustomerValue(BaseModel):
    """One buyer's predicted value over the horizon."""

    person_id: str
    repeat_days: int = Field(description="x: days with a repeat purchase.")
    p_alive: float
    expected_orders: float = Field(description="Expected purchase days in the horizon.")
    expected_order_value_fen: int
    expected_revenue_fen: int
    clv_fen: int = Field(description="Expected revenue × the margin rate.")


class LtvPredictions(BaseModel):
    """Predictions for every buyer from the stored model, the top ``limit`` listed."""

    model: ltv.LtvModel
    as_of: date
    horizon_days: int
    margin_rate: float
    customers: int
    expected_orders: float
    expected_revenue_fen: int
    clv_fen: int
    mean_p_alive: float
    items: list[CustomerValue]


def _end_of(day: date, zone: str) -> datetime:
    """The UTC instant the local day after ``day`` starts."""
    return datetime.combine(
        day + timedelta(days=1), datetime.min.time(), ZoneInfo(zone)
    ).astimezone(UTC)


def _orders(
    runtime: Runtime, workspace_id: str, until: date, dialect: Dialect | str
) -> tuple[OrderDays, str]:
    with runtime.sessions() as session:
        zone = workspaces.get_workspace(session=session, workspace_id=workspace_id).timezone
        person_map = identity.person_map(session=session, workspace_id=workspace_id)
    rows = read_order_days(
        engine_for(runtime, dialect),
        workspace_id=workspace_id,
        end=_end_of(until, zone),
        timezone=zone,
        person_map=person_map,
    )
    return rows, zone


def get_ltv_settings(*, runtime: Runtime, workspace_id: str) -> ltv.LtvSettings:
    """The workspace's value settings (margin rate; defaults until saved)."""
    with runtime.sessions() as session:
        return layer_store.load_settings(
            session=session, workspace_id=workspace_id, name="ltv", model=ltv.LtvSettings
        )


def put_ltv_settings(
    *, runtime: Runtime, workspace_id: str, settings: ltv.LtvSettings, now: datetime
) -> ltv.LtvSettings:
    """Save the workspace's value settings."""
    with runtime.sessions() as session, session.begin():
        workspaces.get_workspace(session=session, workspace_id=workspace_id)
        layer_store.save_settings(
            session=session, workspace_id=workspace_id, name="ltv", value=settings, now=now
        )
    return settings


def local_today(*, runtime: Runtime, workspace_id: str, now: datetime) -> date:
    """Today in the workspace's zone."""
    with runtime.sessions() as session:
        zone = workspaces.get_workspace(session=session, workspace_id=workspace_id).timezone
    return now.astimezone(ZoneInfo(zone)).date()


def historical_ltv(
    *, runtime: Runtime, workspace_id: str, until: date, dialect: Dialect | str = Dialect.DUCKDB
) -> ltv.HistoricalLtv:
    """Revenue and gross margin per customer by first-order month, orders up to ``until``."""
    rows, _ = _orders(runtime, workspace_id, until, dialect)
    buyers = per_person(rows)
    rate = get_ltv_settings(runtime=runtime, workspace_id=workspace_id).margin_rate
    return ltv.historical_ltv(buyers, ltv.day_rows(rows, buyers), until=until, margin_rate=rate)


def fit_ltv(
    *,
    runtime: Runtime,
    workspace_id: str,
    until: date,
    time_unit: ltv.TimeUnit,
    now: datetime,
    dialect: Dialect | str = Dialect.DUCKDB,
) -> ltv.LtvModel:
    """Fit BG/NBD and Gamma-Gamma on the orders up to ``until`` (one purchase per day) and
    store the model for predictions.

    Raises:
        InvalidInputError: no buyer has a repeat purchase day, so nothing can be fitted.
    """
    started = time.perf_counter()
    rows, _ = _orders(runtime, workspace_id, until, dialect)
    buyers = per_person(rows)
    summary = ltv.customer_summary(buyers, until_day=day_number(until), unit=time_unit)
    model = ltv.fit_models(summary, until=until, unit=time_unit, now=now)
    model = model.model_copy(update={"seconds": time.perf_counter() - started})
    with runtime.sessions() as session, session.begin():
        layer_store.save_settings(
            session=session, workspace_id=workspace_id, name=MODEL_KEY, value=model, now=now
        )
    return model


def get_ltv_model(*, runtime: Runtime, workspace_id: str) -> ltv.LtvModel:
    """The stored model; NotFoundError before the first fit."""
    with runtime.sessions() as session:
        raw = layer_store.load_raw_settings(
            session=session, workspace_id=workspace_id, name=MODEL_KEY
        )
    if raw is None:
        raise NotFoundError("no LTV model yet: run `siyu ltv fit` first", field="model")
    return ltv.LtvModel.model_validate(raw)


def predict_ltv(
    *,
    runtime: Runtime,
    workspace_id: str,
    as_of: date,
    horizon_days: int = 365,
    limit: int = 50,
    dialect: Dialect | str = Dialect.DUCKDB,
) -> LtvPredictions:
    """P(alive), expected orders and value in the next ``horizon_days`` for every buyer with
    orders up to ``as_of``, from the stored model; the ``limit`` most valuable listed."""
    if horizon_days < 1:
        raise InvalidInputError("horizon_days must be at least 1", field="horizon_days")
    model = get_ltv_model(runtime=runtime, workspace_id=workspace_id)
    rate = get_ltv_settings(runtime=runtime, workspace_id=workspace_id).margin_rate
    rows, _ = _orders(runtime, workspace_id, as_of, dialect)
    buyers = per_person(rows)
    summary = ltv.customer_summary(buyers, until_day=day_number(as_of), unit=model.time_unit)
    found = ltv.predict(model, summary, horizon_days=horizon_days)
    order = np.argsort(-found.expected_revenue_fen, kind="stable")[:limit]
    revenue = float(found.expected_revenue_fen.sum())
    return LtvPredictions(
        model=model,
        as_of=as_of,
        horizon_days=horizon_days,
        margin_rate=float(rate),
        customers=len(buyers.person),
        expected_orders=float(found.expected_orders.sum()),
        expected_revenue_fen=ltv.fen(revenue),
        clv_fen=ltv.fen(revenue * float(rate)),
        mean_p_alive=float(found.p_alive.mean()) if len(buyers.person) else 0.0,
        items=[
            CustomerValue(
                person_id=str(buyers.person[i]),
                repeat_days=int(summary.x[i]),
                p_alive=float(found.p_alive[i]),
                expected_orders=float(found.expected_orders[i]),
                expected_order_value_fen=ltv.fen(float(found.expected_value_fen[i])),
                expected_revenue_fen=ltv.fen(float(found.expected_revenue_fen[i])),
                clv_fen=ltv.fen(float(found.expected_revenue_fen[i]) * float(rate)),
            )
            for i in order
        ],
    )

"""Funnels, fission, retention and repurchase as service functions: open the engine, map merged
persons, run the compiled SQL, return typed results.

``dialect`` picks the engine: DuckDB over the embedded store (default) or ClickHouse (a
server when ``SIYU_CLICKHOUSE_URL`` is set, else chdb over the same Parquet segments).
"""

from __future__ import annotations

from datetime import date, datetime

from siyu.analytics import fission, funnels, retention
from siyu.analytics.engine import Dialect, Engine, engine_for
from siyu.analytics.models import (
    FissionQuery,
    FissionResult,
    FunnelQuery,
    FunnelResult,
    RepurchaseQuery,
    RepurchaseResult,
    RetentionQuery,
    RetentionResult,
)
from siyu.core.clock import to_zone
from siyu.core.runtime import Runtime
from siyu.identity import service as identity


def _person_map(runtime: Runtime, workspace_id: str) -> list[tuple[str, str]]:
    with runtime.sessions() as session:
        return identity.person_map(session=session, workspace_id=workspace_id)


def _engine(runtime: Runtime, dialect: Dialect | str) -> Engine:
    return engine_for(runtime, Dialect(dialect))


def run_funnel(
    *,
    runtime: Runtime,
    workspace_id: str,
    query: FunnelQuery,
    dialect: Dialect | str = Dialect.DUCKDB,
) -> FunnelResult:
    """Per-step persons, conversion and median step times of ``query``.

    Args:
        runtime: the open stores.
        workspace_id: whose events.
        query: steps, window, order, range and breakdown.
        dialect: ``duckdb`` or ``clickhouse``.
    """
    engine = _engine(runtime, dialect)
    table = engine.run(
        workspace_id=workspace_id,
        sql=funnels.funnel_sql(query, engine.dialect),
        person_map=_person_map(runtime, workspace_id),
    )
    return funnels.read_funnel(table, query)


def run_fission(
    *,
    runtime: Runtime,
    workspace_id: str,
    query: FissionQuery,
    dialect: Dialect | str = Dialect.DUCKDB,
) -> FissionResult:
    """The cross-person fission funnel: shares → invitees' clicks → registrations → orders.

    Args:
        runtime: the open stores.
        workspace_id: whose events.
        query: range, window, event names, referrer property, breakdown and top size.
        dialect: ``duckdb`` or ``clickhouse``.

    Returns:
        Per-step counts and conversion, K-factor, GMV, breakdown and top referrers.
    """
    engine = _engine(runtime, dialect)
    table = engine.run(
        workspace_id=workspace_id,
        sql=fission.fission_sql(query, engine.dialect),
        person_map=_person_map(runtime, workspace_id),
    )
    return fission.read_fission(table, query)


def run_retention(
    *,
    runtime: Runtime,
    workspace_id: str,
    query: RetentionQuery,
    now: datetime,
    dialect: Dialect | str = Dialect.DUCKDB,
) -> RetentionResult:
    """Cohorts and their returning persons per period; ``now`` decides which cohorts are
    old enough to count in the average of a period."""
    engine = _engine(runtime, dialect)
    table = engine.run(
        workspace_id=workspace_id,
        sql=retention.retention_sql(query, engine.dialect),
        person_map=_person_map(runtime, workspace_id),
    )
    today: date = to_zone(now, query.timezone).date()
    return retention.read_retention(table, query, today=today)


def run_repurchase(
    *,
    runtime: Runtime,
    workspace_id: str,
    query: RepurchaseQuery,
    dialect: Dialect | str = Dialect.DUCKDB,
) -> RepurchaseResult:
    """Repurchase rate (overall and within N days) and the purchase interval distribution."""
    engine = _engine(runtime, dialect)
    table = engine.run(
        workspace_id=workspace_id,
        sql=retention.repurchase_sql(query, engine.dialect),
        person_map=_person_map(runtime, workspace_id),
    )
    return retention.read_repurchase(table, query)

"""Measurement boards as service functions: GMV decomposition, attribution, ROI, AARRR/RARRA,
and channel spend (stored in the operational store, one row per day, channel and campaign).

Every reader takes the runtime (the event store and the identity overrides), the workspace
and a typed query, and answers a typed result; ``dialect`` picks the engine (DuckDB, or
ClickHouse — a server when configured, else chdb over the same Parquet).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from siyu.analytics.attribution_report import AttributionQuery, AttributionResult, run_attribution
from siyu.analytics.boards import Board, BoardQuery, run_board
from siyu.analytics.engine import Dialect, Engine, engine_for
from siyu.analytics.gmv import GmvDecomposition, GmvQuery, run_gmv
from siyu.analytics.roi import RoiQuery, RoiResult, run_roi
from siyu.analytics.spend import SpendEntry, read_spend
from siyu.analytics.spend_tables import channel_spend
from siyu.collect.mappings.exports import RejectWriter, open_table
from siyu.core.runtime import Runtime
from siyu.identity import service as identity

# -- spend -------------------------------------------------------------------------------


class SpendImportSummary(BaseModel):
    """What a spend import did."""

    file: str
    rows_read: int
    stored: int = Field(description="(day, channel, campaign) rows written (new or replaced).")
    merged: int = Field(description="Rows added to another row of the same key in the file.")
    rejected: int = Field(description="Rows that could not be read.")
    spend_fen: int = Field(description="Total spend of the stored rows (fen).")
    reject_file: str | None = Field(default=None, description="CSV of rejected rows.")


class SpendWritten(BaseModel):
    """What a spend write did."""

    stored: int
    spend_fen: int


def _upsert(
    session: Session,
    workspace_id: str,
    entries: Sequence[SpendEntry],
    now: datetime,
    source: str | None,
) -> None:
    if not entries:
        return
    dialect = session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(channel_spend)
    rows = [
        {
            "workspace_id": workspace_id,
            "day": e.day,
            "channel": e.channel,
            "campaign": e.campaign,
            "spend_fen": e.spend_fen,
            "source": source,
            "updated_at": now,
        }
        for e in entries
    ]
    statement = insert.on_conflict_do_update(
        index_elements=["workspace_id", "day", "channel", "campaign"],
        set_={
            "spend_fen": insert.excluded.spend_fen,
            "source": insert.excluded.source,
            "updated_at": insert.excluded.updated_at,
        },
    )
    for start in range(0, len(rows), 1000):
        session.execute(statement, rows[start : start + 1000])


def record_spend(
    *,
    session: Session,
    workspace_id: str,
    entries: Sequence[SpendEntry],
    now: datetime,
    source: str | None = None,
) -> SpendWritten:
    """Store spend rows; a row replaces the stored one of the same (day, channel, campaign).

    Entries of the same key in one call are added first, as an import does.
    """
    sums: dict[tuple[date, str, str], int] = {}
    for e in entries:
        key = (e.day, e.channel, e.campaign)
        sums[key] = sums.get(key, 0) + e.spend_fen
    merged = [
        SpendEntry(day=d, channel=c, campaign=k, spend_fen=f) for (d, c, k), f in sums.items()
    ]
    _upsert(session, workspace_id, merged, now, source)
    return SpendWritten(stored=len(merged), spend_fen=sum(sums.values()))


def import_spend(
    *,
    session: Session,
    workspace_id: str,
    path: Path,
    now: datetime,
    rejects_path: Path | None = None,
) -> SpendImportSummary:
    """Import a spend file (CSV or Parquet); bad rows go to a reject file, the rest are
    stored in one transaction of the caller's session. Re-running the file changes nothing.
    """
    table = open_table(path)
    rows, rejected = read_spend(table)
    _upsert(session, workspace_id, rows.entries, now, path.name)
    writer = RejectWriter(rejects_path or path.with_name(f"{path.stem}.rejects.csv"), table.headers)
    try:
        writer.write(rejected)
    finally:
        writer.close()
    return SpendImportSummary(
        file=str(path),
        rows_read=rows.rows_read,
        stored=len(rows.entries),
        merged=rows.merged,
        rejected=len(rejected),
        spend_fen=sum(e.spend_fen for e in rows.entries),
        reject_file=str(writer.path) if writer.count else None,
    )


def list_spend(
    *,
    session: Session,
    workspace_id: str,
    first_day: date | None = None,
    last_day: date | None = None,
) -> list[SpendEntry]:
    """Stored spend, by day, channel and campaign, optionally within [first_day, last_day]."""
    c = channel_spend.c
    query = select(c.day, c.channel, c.campaign, c.spend_fen).where(c.workspace_id == workspace_id)
    if first_day is not None:
        query = query.where(c.day >= first_day)
    if last_day is not None:
        query = query.where(c.day <= last_day)
    rows = session.execute(query.order_by(c.day, c.channel, c.campaign)).all()
    return [
        SpendEntry(day=r.day, channel=r.channel, campaign=r.campaign, spend_fen=r.spend_fen)
        for r in rows
    ]


# -- boards ------------------------------------------------------------------------------


def _engine(
    runtime: Runtime, workspace_id: str, dialect: Dialect | str
) -> tuple[Engine, list[tuple[str, str]]]:
    with runtime.sessions() as session:
        merged = identity.person_map(session=session, workspace_id=workspace_id)
    return engine_for(runtime, dialect), merged


def gmv(
    *, runtime: Runtime, workspace_id: str, query: GmvQuery, dialect: Dialect | str = Dialect.DUCKDB
) -> GmvDecomposition:
    """GMV of the period against the comparison period, split into traffic, conversion,
    frequency and AOV (parts sum exactly to the change), by new/repeat and referred/organic.
    """
    engine, merged = _engine(runtime, workspace_id, dialect)
    return run_gmv(engine, workspace_id=workspace_id, query=query, person_map=merged)


def attribution(
    *,
    runtime: Runtime,
    workspace_id: str,
    query: AttributionQuery,
    dialect: Dialect | str = Dialect.DUCKDB,
) -> AttributionResult:
    """The period's orders credited to channels under ``query.model``."""
    engine, merged = _engine(runtime, workspace_id, dialect)
    result, _ = run_attribution(engine, workspace_id=workspace_id, query=query, person_map=merged)
    return result


def roi(
    *, runtime: Runtime, workspace_id: str, query: RoiQuery, dialect: Dialect | str = Dialect.DUCKDB
) -> RoiResult:
    """CAC, ROI, ROAS and payback per channel from stored spend and attributed GMV."""
    engine, merged = _engine(runtime, workspace_id, dialect)
    with runtime.sessions() as session:
        spend = list_spend(
            session=session,
            workspace_id=workspace_id,
            first_day=query.period.first_day,
            last_day=query.period.last_day,
        )
    return run_roi(engine, workspace_id=workspace_id, query=query, spend=spend, person_map=merged)


def board(
    *,
    runtime: Runtime,
    workspace_id: str,
    query: BoardQuery,
    dialect: Dialect | str = Dialect.DUCKDB,
) -> Board:
    """The AARRR or RARRA board of the period, with previous-period values."""
    engine, merged = _engine(runtime, workspace_id, dialect)
    return run_board(engine, workspace_id=workspace_id, query=query, person_map=merged)

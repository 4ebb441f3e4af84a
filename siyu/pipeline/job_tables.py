"""The claims of scheduled jobs: one row per (workspace, job, period), taken before the job
runs, so two processes (two servers, a server and a cron ``siyu jobs run``) never run the
same job for the same period twice.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, String, Table

from siyu.core.db import UTCDateTime, metadata

job_runs = Table(
    "job_runs",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("job", String(40), primary_key=True),
    Column("period", String(40), primary_key=True),  # e.g. 2026-11-29T02 (UTC hour), 2026-11-29
    Column("owner", String(80), nullable=False),  # host:pid:nonce of the claimer
    Column("started_at", UTCDateTime(), nullable=False),
    # Null while running; a claim older than the lease with no finish may be taken over.
    Column("finished_at", UTCDateTime(), nullable=True),
    Column("result", JSON(), nullable=True),
)

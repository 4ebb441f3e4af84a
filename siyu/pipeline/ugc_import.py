"""``siyu ugc import``: a CSV of posts in batches; every row ends as a post, a duplicate (whose
metrics, if given, are recorded as a new report) or a rejected row in the reject file with
its row number, field and reason — nothing is lost."""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from siyu.core.errors import InvalidInputError
from siyu.core.runtime import Runtime
from siyu.pipeline import ugc as flow
from siyu.ugc import csv_rows
from siyu.ugc import service as ugc
from siyu.ugc.models import ImportSummary, PostCreate, RowError

BATCH = 200
MAX_ERRORS_SHOWN = 100


def _store_batch(
    runtime: Runtime,
    workspace_id: str,
    batch: list[tuple[int, PostCreate]],
    now: datetime,
    summary: ImportSummary,
    errors: list[RowError],
) -> None:
    done = flow.collect_posts(
        runtime=runtime, workspace_id=workspace_id, posts=[p for _, p in batch], now=now
    )
    updates = []
    for (number, post), outcome in zip(batch, done, strict=True):
        if outcome.error is not None:
            field = outcome.error.field or "row"
            errors.append(RowError(row=number, field=field, message=outcome.error.message))
        elif outcome.post is not None and outcome.post.replayed:
            summary.duplicates += 1
            if post.metrics is not None:
                updates.append((outcome.post.id, post))
        else:
            summary.created += 1
    if updates:
        with runtime.sessions() as session, session.begin():
            for post_id, post in updates:
                assert post.metrics is not None
                ugc.record_metrics(session=session, workspace_id=workspace_id, post_id=post_id,
                                   metrics=post.metrics, at=now)  # fmt: skip
        summary.metrics_updated += len(updates)


def _write_rejects(path: Path, header: list[str], rows: dict[int, dict[str, str]],
                   errors: list[RowError]) -> None:  # fmt: skip
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["row", "field", "error", *header])
        for e in errors:
            cells = rows.get(e.row, {})
            writer.writerow([e.row, e.field, e.message, *(cells.get(h, "") for h in header)])


class _Reader:
    """Rows waiting for their batch, and rejected rows kept for the reject file."""

    def __init__(self, runtime: Runtime, workspace_id: str, now: datetime,
                 on_rows: Callable[[int], None] | None) -> None:  # fmt: skip
        self.runtime, self.workspace_id, self.now, self.on_rows = (
            runtime,
            workspace_id,
            now,
            on_rows,
        )
        self.summary = ImportSummary()
        self.errors: list[RowError] = []
        self.refused: dict[int, dict[str, str]] = {}
        self.batch: list[tuple[int, PostCreate]] = []
        self.cells: dict[int, dict[str, str]] = {}
        self.unreported = 0

    def add(self, number: int, row: dict[str, str], zone: ZoneInfo) -> None:
        self.summary.rows_read += 1
        self.unreported += 1
        parsed = csv_rows.parse_row(number, row, zone)
        if isinstance(parsed, RowError):
            self.errors.append(parsed)
            self.refused[number] = row
        else:
            self.batch.append((number, parsed))
            self.cells[number] = row
        if len(self.batch) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if self.batch:
            _store_batch(self.runtime, self.workspace_id, self.batch, self.now, self.summary,
                         self.errors)  # fmt: skip
            self.refused.update((e.row, self.cells[e.row]) for e in self.errors
                                if e.row in self.cells)  # fmt: skip
        self.batch, self.cells = [], {}
        if self.on_rows is not None and self.unreported:
            self.on_rows(self.unreported)
        self.unreported = 0


def import_posts(
    *,
    runtime: Runtime,
    workspace_id: str,
    file: Path,
    timezone: str,
    now: datetime,
    rejects_path: Path | None = None,
    on_rows: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Import a CSV of posts (see :mod:`siyu.ugc.csv_rows` for the columns) in batches of
    200, one transaction each; re-running the same file adds nothing. Rejected rows go to
    ``rejects_path`` (default: ``<file>.rejects.csv``) with their row, field and reason.

    Raises:
        InvalidInputError: the file cannot be read, or its header is unusable.
    """
    try:
        text = csv_rows.decode(file.read_bytes())
    except OSError as exc:
        raise InvalidInputError(f"cannot read {file}: {exc.strerror}", field="file") from None
    header, rows = csv_rows.read_rows(text)
    zone = ZoneInfo(timezone)
    reader = _Reader(runtime, workspace_id, now, on_rows)
    for number, row in enumerate(rows, start=1):
        reader.add(number, row, zone)
    reader.flush()
    summary, errors = reader.summary, sorted(reader.errors, key=lambda e: e.row)
    summary.rejected = len(errors)
    summary.errors = errors[:MAX_ERRORS_SHOWN]
    if errors:
        target = rejects_path or file.with_name(file.name + ".rejects.csv")
        _write_rejects(target, header, reader.refused, errors)
        summary.reject_file = str(target)
    return summary

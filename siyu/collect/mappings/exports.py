"""Read export files (CSV in UTF-8, UTF-8 with BOM or GBK; Parquet) and write reject files."""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from siyu.core.errors import InvalidInputError

CHUNK_ROWS = 2_000
_SAMPLE_BYTES = 1 << 20


class SourceRow(NamedTuple):
    """One record of the export: its line (CSV) or row (Parquet) number and its cells."""

    line: int
    cells: dict[str, Any]
    problem: str | None = None


def detect_encoding(path: Path) -> str:
    """``utf-8-sig`` when the start of the file decodes as UTF-8, else ``gb18030`` (GBK)."""
    with path.open("rb") as handle:
        sample = handle.read(_SAMPLE_BYTES)
    try:
        codecs.getincrementaldecoder("utf-8-sig")().decode(sample, final=False)
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8-sig"


@dataclass
class TableFile:
    """An opened export: its headers, row count and a chunked row iterator."""

    path: Path
    headers: list[str]
    total_rows: int
    encoding: str | None

    def chunks(self, size: int = CHUNK_ROWS) -> Iterator[list[SourceRow]]:
        """Rows in chunks of ``size``, in file order."""
        rows = self._parquet_rows() if self.encoding is None else self._csv_rows()
        chunk: list[SourceRow] = []
        for row in rows:
            chunk.append(row)
            if len(chunk) >= size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def _csv_rows(self) -> Iterator[SourceRow]:
        assert self.encoding is not None
        with self.path.open(encoding=self.encoding, errors="replace", newline="") as handle:
            reader = csv.reader(handle, delimiter=_delimiter(handle.readline()))
            width = len(self.headers)
            start = reader.line_num + 2
            for record in reader:
                if any(c.strip() for c in record):
                    problem = (
                        None if len(record) == width else f"has {len(record)} cells, header {width}"
                    )
                    yield SourceRow(start, dict(zip(self.headers, record, strict=False)), problem)
                start = reader.line_num + 2

    def _parquet_rows(self) -> Iterator[SourceRow]:
        import pyarrow.parquet as pq

        line = 1
        for batch in pq.ParquetFile(self.path).iter_batches(batch_size=CHUNK_ROWS):
            for record in batch.to_pylist():
                yield SourceRow(line, record)
                line += 1


def _delimiter(first_line: str) -> str:
    return max(",\t;", key=first_line.count)


def _headers(raw: Sequence[str]) -> list[str]:
    return [h.strip().lstrip("\ufeff").strip() for h in raw]


def open_table(path: Path) -> TableFile:
    """Open a CSV or Parquet export; InvalidInputError if missing, empty or unreadable."""
    if not path.is_file():
        raise InvalidInputError(f"no such file: {path}", field="file")
    if path.suffix.lower() in {".parquet", ".pq"}:
        import pyarrow.parquet as pq

        try:
            meta = pq.ParquetFile(path)
        except Exception as exc:  # pyarrow raises several types for a bad file
            raise InvalidInputError(f"not a Parquet file: {path} ({exc})", field="file") from None
        return TableFile(path, _headers(meta.schema_arrow.names), meta.metadata.num_rows, None)
    encoding = detect_encoding(path)
    with path.open(encoding=encoding, errors="replace", newline="") as handle:
        first = handle.readline()
        header = next(csv.reader([first], delimiter=_delimiter(first)), [])
        total = sum(1 for line in handle if line.strip())
    if not any(h.strip() for h in header):
        raise InvalidInputError(f"{path} has no header row", field="file")
    return TableFile(path, _headers(header), total, encoding)


class Rejected(Protocol):
    """A row not imported: its line, why, and its cells."""

    @property
    def line(self) -> int: ...
    @property
    def reason(self) -> str: ...
    @property
    def cells(self) -> dict[str, Any]: ...


class RejectWriter:
    """Writes rejected rows to a CSV (UTF-8 with BOM, so Excel shows Chinese) on first use."""

    def __init__(self, path: Path, headers: Sequence[str]) -> None:
        self.path = path
        self.headers = list(headers)
        self.count = 0
        self._handle: Any = None
        self._writer: Any = None

    def write(self, rejections: Sequence[Rejected]) -> None:
        """Append rejected rows: line, reason, then the original cells."""
        if not rejections:
            return
        if self._writer is None:
            self._handle = self.path.open("w", encoding="utf-8-sig", newline="")
            self._writer = csv.writer(self._handle)
            self._writer.writerow(["line", "reason", *self.headers])
        for r in sorted(rejections, key=lambda r: r.line):
            cells_out = [
                "" if r.cells.get(h) is None else str(r.cells.get(h)) for h in self.headers
            ]
            self._writer.writerow([r.line, r.reason, *cells_out])
        self.count += len(rejections)

    def close(self) -> None:
        """Close the file, if one was written."""
        if self._handle is not None:
            self._handle.close()

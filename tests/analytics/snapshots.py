"""Committed SQL snapshots: a compiler change shows up as a reviewable diff.

Run with ``SIYU_UPDATE_SNAPSHOTS=1`` to rewrite them after an intended change.
"""

from __future__ import annotations

import os
from pathlib import Path

SNAPSHOTS = Path(__file__).parent / "snapshots"


def assert_snapshot(name: str, sql: str) -> None:
    """``sql`` equals the snapshot ``name`` (written when absent or when updating)."""
    path = SNAPSHOTS / f"{name}.sql"
    text = sql.strip() + "\n"
    if os.environ.get("SIYU_UPDATE_SNAPSHOTS") or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.read_text() == text, f"SQL of {name} changed; see {path}"

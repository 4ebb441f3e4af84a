"""How long a group sync takes to store one big group: ms for a first sync (every member new)
and a repeat (nothing changed), with the members known to OneID.

``python -m bench.community_sync [MEMBERS] [RUNS]`` — SQLite on a temp dir; the best of RUNS.
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from siyu import pipeline
from siyu.community import service as community
from siyu.community.models import WecomGroup, WecomGroupMember
from siyu.core.config import Settings
from siyu.core.runtime import Runtime, open_runtime
from siyu.workspaces import service as workspaces


def _known(rt: Runtime, ws: str, members: list[str], now: datetime) -> None:
    """Every member identified by their external_userid (2,000 per ingest)."""
    for start in range(0, len(members), 2000):
        messages = [
            {
                "type": "identify",
                "messageId": f"id-{m}",
                "userId": f"u-{m}",
                "timestamp": now.isoformat(),
                "context": {"externalIds": [{"type": "wecom_external_userid", "id": m}]},
            }
            for m in members[start : start + 2000]
        ]
        pipeline.ingest(runtime=rt, workspace_id=ws, messages=messages, received_at=now)


def _timed(rt: Runtime, ws: str, group: WecomGroup, now: datetime) -> float:
    started = time.perf_counter()
    with rt.sessions() as s, s.begin():
        community.store_sync(session=s, workspace_id=ws, groups=[group], now=now)
    return (time.perf_counter() - started) * 1000


def run(members: int = 2000, runs: int = 3) -> dict[str, Any]:
    """Best-of-``runs`` ms for a first sync and a repeat of one group of ``members``."""
    now = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)
    ids = [f"wmBENCH{i:06d}" for i in range(members)]
    group = WecomGroup(
        chat_id="wrBENCH",
        name="bench",
        owner="owner1",
        members=[WecomGroupMember(userid="owner1", type=1)]
        + [WecomGroupMember(userid=m, type=2, join_time=now - timedelta(days=1)) for m in ids],
    )
    first, repeat = [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            rt = open_runtime(Settings(data_dir=Path(tmp)))
            with rt.sessions() as s, s.begin():
                ws = workspaces.create_workspace(session=s, name="b", now=now).workspace_id
            _known(rt, ws, ids, now)
            first.append(_timed(rt, ws, group, now))
            repeat.append(_timed(rt, ws, group, now + timedelta(hours=1)))
            rt.close()
    return {"members": members, "first_sync_ms": min(first), "repeat_sync_ms": min(repeat)}


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    found = run(*args)
    print(
        f"{found['members']} members: first sync {found['first_sync_ms']:.0f} ms, "
        f"repeat {found['repeat_sync_ms']:.0f} ms"
    )

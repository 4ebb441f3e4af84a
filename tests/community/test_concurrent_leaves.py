"""Two leaves of one group committed together on PostgreSQL both count: the group row is
locked before the members are counted (real connections, two threads)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from siyu.community import service as community
from siyu.community.tables import community_groups
from tests.community.conftest import NOW, Brand

CHAT = "wrRACE"


def _members(brand: Brand) -> int:
    with brand.runtime.sessions() as s:
        found = community.find_group(session=s, workspace_id=brand.workspace_id, chat_id=CHAT)
    assert found is not None
    return found.members


def _record(brand: Brand, member_id: str, kind: str) -> bool:
    with brand.runtime.sessions() as s, s.begin():
        return community.record_activity(s, brand.workspace_id, event_key=f"r:{member_id}:{kind}",
                                         chat_id=CHAT, kind=kind, member_id=member_id,
                                         at=NOW + timedelta(minutes=1))  # fmt: skip


def _wait_blocked_by(brand: Brand, pid: int, count: int) -> None:
    """Until ``count`` backends wait, directly or queued behind another waiter, on the lock
    held by backend ``pid``."""
    blocked = text(
        "WITH RECURSIVE waiting(pid) AS ("
        " SELECT pid FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))"
        " UNION SELECT a.pid FROM pg_stat_activity a"
        " JOIN waiting w ON w.pid = ANY(pg_blocking_pids(a.pid)))"
        " SELECT count(*) FROM waiting"
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with brand.runtime.sessions() as s:
            if s.execute(blocked, {"pid": pid}).scalar_one() >= count:
                return
        time.sleep(0.05)
    pytest.fail(f"{count} leaves never reached the group row")


@pytest.mark.postgres
def test_two_leaves_at_the_same_moment_both_count(
    brand: Brand, request: pytest.FixtureRequest
) -> None:
    if "postgresql" not in request.node.callspec.id:
        pytest.skip("concurrent writers: PostgreSQL (SQLite serialises them anyway)")
    for member in ("wmA", "wmB", "wmC"):
        assert _record(brand, member, "joined")
    assert _members(brand) == 3
    g = community_groups.c
    # A third connection holds the group row so that both leaves have marked their member
    # gone, uncommitted, before either reaches the count: the moment of the race.
    with brand.runtime.sessions() as holder, holder.begin():
        pid = int(holder.execute(text("SELECT pg_backend_pid()")).scalar_one())
        holder.execute(
            select(g.chat_id)
            .where(g.workspace_id == brand.workspace_id, g.chat_id == CHAT)
            .with_for_update()
        )
        with ThreadPoolExecutor(max_workers=2) as pool:
            leaves = [pool.submit(_record, brand, m, "left") for m in ("wmA", "wmB")]
            _wait_blocked_by(brand, pid, 2)
            holder.commit()
            assert [f.result(timeout=20) for f in leaves] == [True, True]
    assert _members(brand) == 1

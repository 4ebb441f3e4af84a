"""Group live codes: concurrent scans never seat more than the cap in a group, a spammer is
refused a seat, and a retried scan answers its first seat."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from siyu.community import service as community
from siyu.community.models import GroupLiveCodeCreate, GroupScan, GroupScanCreate
from siyu.pipeline import community as flow
from tests.community.conftest import NOW, Brand


def _code(b: Brand, cap: int) -> str:
    flow.sync_groups(runtime=b.runtime, workspace_id=b.workspace_id, now=NOW)
    return flow.create_live_code(
        runtime=b.runtime,
        workspace_id=b.workspace_id,
        now=NOW,
        code=GroupLiveCodeCreate(
            name="会员码",
            state="vip",
            chat_ids=["wrG3"],
            owner_userid="lisi",
            cap=cap,
            room_base_name="会员福利群",
        ),
    ).id


def _scan(b: Brand, code_id: str, who: str, key: str | None = None) -> GroupScan:
    return flow.scan_live_code(
        runtime=b.runtime,
        workspace_id=b.workspace_id,
        code_id=code_id,
        scan=GroupScanCreate(identifier=who),
        now=NOW + timedelta(minutes=5),
        idempotency_key=key or f"k-{who}",
    )


@pytest.mark.postgres
def test_concurrent_scans_never_overfill(brand: Brand, request: pytest.FixtureRequest) -> None:
    if "postgresql" not in request.node.callspec.id:
        pytest.skip("concurrent writers: PostgreSQL (SQLite serialises them anyway)")
    code_id = _code(brand, cap=7)  # 会员群 holds lisi + 2 customers: 4 seats left
    with ThreadPoolExecutor(max_workers=12) as pool:
        scans = list(pool.map(lambda i: _scan(brand, code_id, f"wmC{i:02d}"), range(40)))
    assert all(s.outcome == "seated" for s in scans)
    with brand.runtime.sessions() as s:
        groups = community.list_groups(session=s, workspace_id=brand.workspace_id)
        code = community.get_code(session=s, workspace_id=brand.workspace_id, code_id=code_id)
    mine = [g for g in groups if g.chat_id in code.chat_ids]
    assert all(g.seats <= g.cap == 7 for g in mine)
    assert sum(g.seats for g in mine) == 3 + 40
    assert len(mine) == 1 + 6  # 4 seats in 会员群, then 36 in six new groups of 7 (last has 1)
    assert {g.name for g in mine} == {"会员群"} | {f"会员福利群{n}" for n in range(1, 7)}


def test_retry_answers_the_first_seat_and_spammers_are_refused(brand: Brand) -> None:
    rt, ws = brand.runtime, brand.workspace_id
    code_id = _code(brand, cap=200)
    first = _scan(brand, code_id, "wmX", key="same")
    again = _scan(brand, code_id, "wmX", key="same")
    assert again.id == first.id and again.chat_id == "wrG3"
    from sqlalchemy import insert

    from siyu.community.tables import community_spammers

    with rt.sessions() as s, s.begin():
        s.execute(
            insert(community_spammers).values(
                workspace_id=ws,
                member_id="wmX",
                person_id=first.person_id,
                reasons=["link"],
                chat_ids=["wrG3"],
                marked_at=NOW,
            )
        )
    refused = _scan(brand, code_id, "wmX", key="later")
    assert (refused.outcome, refused.chat_id) == ("blocked", None)
    with rt.sessions() as s:
        stats = community.code_stats(session=s, workspace_id=ws, code_id=code_id)
    assert (stats.scans, stats.blocked) == (2, 1)

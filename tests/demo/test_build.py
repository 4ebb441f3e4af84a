"""Building the demo through the real pipeline, and the ``siyu demo`` command."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from siyu import pipeline
from siyu.core.config import Settings
from siyu.core.runtime import Runtime, open_runtime
from siyu.demo import build

NOW = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)


def _runtime(path: Path) -> Runtime:
    return open_runtime(Settings(data_dir=path))


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = _runtime(tmp_path / "one")
    yield runtime
    runtime.close()


def _build(
    runtime: Runtime, users: int = 300, seed: int = 11
) -> tuple[build.DemoKeys, build.DemoReport]:
    keys, todo = build.prepare_workspace(runtime, users=users, seed=seed, rebuild=False, now=NOW)
    assert todo
    report = build.build_demo(
        runtime, workspace_id=keys.workspace_id, users=users, seed=seed, now=NOW
    )
    return keys, report


def test_small_demo_builds_persons_with_ids_conflicts_and_orders(rt: Runtime) -> None:
    keys, report = _build(rt)

    assert report.rejected == 0
    assert report.accepted == report.events == report.stored_events
    assert rt.events.count(keys.workspace_id) == report.events
    assert report.sample_member_id is not None
    person = pipeline.find_person(
        runtime=rt,
        workspace_id=keys.workspace_id,
        identifier_type="member_id",
        identifier=report.sample_member_id,
    )
    kinds = {i.type for i in person.identifiers}
    assert {"member_id", "phone", "unionid", "mp_openid", "anonymous_id"} <= {str(k) for k in kinds}
    assert person.profile is not None
    assert person.profile.order_count >= 1
    assert person.profile.total_spend_fen >= 1200 * person.profile.order_count
    conflicts = pipeline.list_conflicts(
        runtime=rt, workspace_id=keys.workspace_id, limit=50, offset=0
    )
    assert conflicts.items  # shared tablets and a clerk's phone
    orders = rt.events.query(
        keys.workspace_id,
        "SELECT count(*) AS n, sum(revenue_fen) AS fen FROM events WHERE event = 'Order Completed'",
    ).to_pylist()[0]
    assert orders == {"n": report.orders, "fen": report.gmv_fen}


def test_same_seed_builds_the_same_counts(rt: Runtime, tmp_path: Path) -> None:
    _, first = _build(rt)
    other = _runtime(tmp_path / "two")
    try:
        _, second = _build(other)
    finally:
        other.close()
    fields = ("events", "accepted", "orders", "gmv_fen", "stored_events", "sample_member_id")
    assert {f: getattr(first, f) for f in fields} == {f: getattr(second, f) for f in fields}


def test_cli_demo_reuses_the_workspace_and_keeps_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from siyu.cli.main import app
    from siyu.core.config import get_settings

    monkeypatch.setenv("SIYU_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    try:
        first = CliRunner().invoke(
            app, ["demo", "--users", "200", "--seed", "3", "--no-serve", "--port", "9100"]
        )
        assert first.exit_code == 0, first.output
        assert "http://127.0.0.1:9100/docs" in first.stdout
        assert "/api/persons?identifier_type=member_id&identifier=SC" in first.stdout
        path = tmp_path / "data" / "demo-keys.json"
        keys = json.loads(path.read_text())
        assert keys["complete"] is True
        assert keys["secret_key"] in first.stdout
        assert stat.S_IMODE(path.stat().st_mode) == 0o600

        again = CliRunner().invoke(app, ["demo", "--users", "200", "--seed", "3", "--no-serve"])
        assert again.exit_code == 0, again.output
        assert "reusing the demo workspace" in again.stdout
        assert keys["workspace_id"] in again.stdout

        rebuilt = CliRunner().invoke(app, ["demo", "--users", "100", "--no-serve", "--rebuild"])
        assert rebuilt.exit_code == 0, rebuilt.output
        assert json.loads(path.read_text())["workspace_id"] != keys["workspace_id"]
    finally:
        get_settings.cache_clear()


def test_demo_has_tiers_points_coupons_mall_and_referral_trees(rt: Runtime) -> None:
    from sqlalchemy import func, select

    from siyu.loyalty import membership, points_audit
    from siyu.loyalty.points_tables import points_entries
    from siyu.referral import service as referral
    from siyu.referral.tables import referrals

    keys, report = _build(rt, users=600)
    made = report.loyalty
    assert made is not None
    ws = keys.workspace_id
    assert made.members > 0 and sum(made.tiers.values()) == made.members
    assert made.referrals > 0 and made.rewards_paid == made.referrals
    assert made.coupons_issued >= 1 and made.coupons_redeemed >= 1
    assert made.live_codes == 30 + 5 and made.scans > 0
    with rt.sessions() as session:
        ladder = membership.get_tiers(session=session, workspace_id=ws)
        assert [t.name for t in ladder.tiers] == ["普通会员", "银卡", "金卡", "黑金"]
        e = points_entries.c
        reasons: dict[str, int] = dict(
            session.execute(
                select(e.reason, func.count()).where(e.workspace_id == ws).group_by(e.reason)
            ).all()
        )
        assert reasons.get("order", 0) > 0 and reasons.get("referral", 0) > 0
        r = referrals.c
        inviter = session.execute(
            select(r.inviter_id).where(r.workspace_id == ws).limit(1)
        ).scalar_one()
        tree = referral.subtree(session=session, workspace_id=ws, person_id=inviter)
        assert len(tree) >= 2
        audit = points_audit.verify(session=session, workspace_id=ws)
        assert audit.accounts > 0 and audit.mismatches == []

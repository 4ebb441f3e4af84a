"""KOC ranking from events: clicks and orders attributed to posts and sharers in the window,
the KOC's own orders never counted, and the koc tag on the top ones (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from siyu import pipeline
from siyu.core.clock import utcnow
from siyu.core.runtime import Runtime
from siyu.pipeline import ugc as flow
from siyu.profiles import tags
from siyu.ugc import ranking
from siyu.ugc.models import KocFacts, Metrics
from siyu.workspaces.models import WorkspaceCreated
from tests.api.conftest import keys, runtime  # noqa: F401  (fixtures on both stores)
from tests.ugc.helpers import people, post


def _track(who: str, event: str, at: datetime, n: str, **props: Any) -> dict[str, Any]:
    return {"type": "track", "messageId": n, "userId": who, "event": event,
            "timestamp": at.isoformat(), "properties": props}  # fmt: skip


def _posts(rt: Runtime, ws: str, t0: datetime) -> dict[str, str]:
    made = {}
    for name, author in (("p1", "amy"), ("p2", "amy"), ("p3", "bob"), ("p4", "cat")):
        body = post(name, author={"user_id": author}, posted_at=t0)
        p = flow.collect_post(runtime=rt, workspace_id=ws, now=t0, post=body)
        made[name] = p.id
    for name in ("p1", "p2", "p3"):
        flow.approve_post(runtime=rt, workspace_id=ws, post_id=made[name], actor=None, now=t0)
    flow.reject_post(runtime=rt, workspace_id=ws, post_id=made["p4"], reason="广告", actor=None,
                     now=t0)  # fmt: skip
    return made


def test_orders_and_clicks_are_credited_to_the_latest_touch_in_the_window(
    runtime: Runtime,  # noqa: F811
    keys: WorkspaceCreated,  # noqa: F811
) -> None:
    ws = keys.workspace_id
    t0 = utcnow() - timedelta(days=20)
    amy, bob, cat, *_ = people(runtime, ws, ["amy", "bob", "cat", "x", "y", "z"])
    p = _posts(runtime, ws, t0)
    h = timedelta(hours=1)
    day = timedelta(days=1)
    events = [
        _track("x", "Link Clicked", t0 + h, "c1", ugc_post_id=p["p1"]),
        _track("x", "Order Completed", t0 + day, "o1", revenue_fen=10_000),
        _track("x", "Order Completed", t0 + 9 * day, "o2", revenue_fen=99_900),  # window passed
        _track("y", "Link Clicked", t0 + h, "c2", ugc_post_id=p["p3"]),
        _track("y", "Page Viewed", t0 + 2 * h, "c3", ugc_post_id=p["p1"]),  # latest: amy's
        _track("y", "Order Completed", t0 + day, "o3", revenue_fen=20_000),
        _track("z", "Link Clicked", t0 - 12 * day, "c4", ugc_post_id=p["p3"]),  # before start
        _track("z", "Order Completed", t0 + day, "o4", revenue_fen=5_000, sharer_id=bob),
        _track("amy", "Order Completed", t0 + day, "o5", revenue_fen=7_000, ugc_post_id=p["p1"]),
        _track("x", "Link Clicked", t0 + h / 2, "c5", sharer_id=cat),  # cat: no approved post
    ]
    pipeline.ingest(runtime=runtime, workspace_id=ws, received_at=utcnow(), messages=events)
    flow.update_metrics(runtime=runtime, workspace_id=ws, post_id=p["p1"], at=t0 + day,
                        metrics=Metrics(views=999, likes=1))  # fmt: skip
    found = flow.rank_kocs(runtime=runtime, workspace_id=ws, start=t0 - day, end=t0 + 15 * day,
                           now=utcnow(), top=1, apply_tags=True)  # fmt: skip
    by_person = {r.person_id: r for r in found.items}
    a, b, c = by_person[amy], by_person[bob], by_person[cat]
    assert (a.orders, a.buyers, a.gmv_fen, a.clicks) == (2, 2, 30_000, 2)
    assert a.reach == 1000 + 2 and (a.posts, a.approved, a.approval_rate) == (2, 2, 1.0)
    assert (b.orders, b.gmv_fen, b.clicks) == (1, 5_000, 1)
    assert (c.rejected, c.clicks, c.koc) == (1, 1, False)
    assert [r.person_id for r in found.items][:2] == [amy, bob]
    assert [r.koc for r in found.items] == [True, False, False]
    assert found.tagged == 1
    with runtime.sessions() as session:
        assert tags.persons_with_tag(session=session, workspace_id=ws, tag="KOC/koc") == [amy]
    # A shorter window and a larger top: bob is a KOC too; amy keeps the tag.
    again = flow.rank_kocs(runtime=runtime, workspace_id=ws, start=t0 - day, end=t0 + 15 * day,
                           now=utcnow(), top=2, window_days=1, apply_tags=True)  # fmt: skip
    assert {r.person_id for r in again.items if r.koc} == {amy, bob}
    assert (again.tagged, again.untagged) == (1, 0)


def test_the_score_rewards_orders_and_penalises_rejections() -> None:
    base = KocFacts(person_id="a", approved=3, reach=10_000, orders=2, gmv_fen=50_000)
    assert ranking.score(base.model_copy(update={"orders": 3})) > ranking.score(base)
    assert ranking.score(base.model_copy(update={"rejected": 3})) < ranking.score(base)
    assert ranking.score(KocFacts(person_id="z")) == 0
    # Ties: more orders first, then GMV, then reach, then person id.
    ranked = ranking.rank([KocFacts(person_id="b", approved=1), KocFacts(person_id="a",
                           approved=1)], top=5)  # fmt: skip
    assert [r.person_id for r in ranked] == ["a", "b"] and not any(r.koc for r in ranked)


def test_the_daily_job_moves_the_koc_tag_and_skips_workspaces_without_posts(
    runtime: Runtime,  # noqa: F811
    keys: WorkspaceCreated,  # noqa: F811
) -> None:
    ws = keys.workspace_id
    now = utcnow()
    (idle,) = pipeline.run_jobs(runtime=runtime, now=now, workspace_id=ws, only=["koc_tags"])
    assert (idle.status, idle.detail) == ("ran", {"posts": 0}) or idle.status == "not_due"
    t0 = now - timedelta(days=3)
    amy, *_ = people(runtime, ws, ["amy", "bob", "cat", "x"])
    p = _posts(runtime, ws, t0)
    events = [
        _track("x", "Link Clicked", t0 + timedelta(hours=1), "c1", ugc_post_id=p["p1"]),
        _track("x", "Order Completed", t0 + timedelta(hours=2), "o1", revenue_fen=10_000),
    ]
    pipeline.ingest(runtime=runtime, workspace_id=ws, received_at=now, messages=events)
    # The day after, past 04:00 in the workspace's zone: the job is due whatever the hour now.
    tomorrow = now + timedelta(days=1)
    later = tomorrow.replace(hour=23, minute=0) if tomorrow.hour < 20 else tomorrow
    (run,) = pipeline.run_jobs(runtime=runtime, now=later, workspace_id=ws, only=["koc_tags"])
    assert run.status == "ran" and run.detail["kocs"] >= 1, run
    with runtime.sessions() as session:
        assert amy in tags.persons_with_tag(session=session, workspace_id=ws, tag="KOC/koc")

"""The demo library: fifteen items with variants, a month of views, clicks and shares, and
clicks before real orders, so performance shows orders and GMV per item, channel and sharer;
a second run adds nothing."""

from __future__ import annotations

import time
from datetime import timedelta

from siyu import pipeline
from siyu.content import links
from siyu.content import service as content
from siyu.core.clock import utcnow
from siyu.core.runtime import Runtime
from siyu.demo import content_seed
from siyu.pipeline import content_performance
from siyu.workspaces.models import WorkspaceCreated


def test_seed_makes_a_library_with_history(runtime: Runtime, keys: WorkspaceCreated) -> None:
    ws, now = keys.workspace_id, utcnow()
    hello = [
        {"type": "identify", "messageId": f"i{n}", "userId": f"u{n}",
         "timestamp": (now - timedelta(days=40)).isoformat()}
        for n in range(80)
    ]  # fmt: skip
    orders = [
        {"type": "track", "event": "Order Completed", "messageId": f"o{n}", "userId": f"u{n}",
         "timestamp": (now - timedelta(days=n % 25, hours=3)).isoformat(),
         "properties": {"order_id": f"o{n}", "revenue_fen": 10_000 + n}}
        for n in range(80)
    ]  # fmt: skip
    pipeline.ingest(runtime=runtime, workspace_id=ws, received_at=now, messages=hello + orders)
    pipeline.flush(runtime=runtime)
    started = time.perf_counter()
    ids = content_seed.seed_content(runtime, workspace_id=ws, now=now)
    assert time.perf_counter() - started < 60  # ~3 s unloaded; 10–20 s on a busy machine
    assert content_seed.seed_content(runtime, workspace_id=ws, now=now) == ids
    with runtime.sessions() as session:
        items = content.list_content(session=session, workspace_id=ws)
        chain = links.list_links(session=session, workspace_id=ws)
    assert len(items) == 15 and all(len(i.variants) == 6 for i in items)
    assert {i.kind.value for i in items} == {
        "article", "poster", "image", "miniprogram_card", "link", "text"}  # fmt: skip
    assert max(k.depth for k in chain) >= 1  # re-shares
    report = content_performance.content_performance(
        runtime=runtime, workspace_id=ws, start=now - timedelta(days=30), end=now
    )
    total_orders = sum(i.orders for i in report.items)
    assert 0 < total_orders <= 80
    assert sum(i.gmv_fen for i in report.items) >= 10_000 * total_orders
    assert sum(i.clicks for i in report.items) > sum(i.orders for i in report.items)
    assert sum(i.views for i in report.items) > 0 and sum(i.shares for i in report.items) > 0
    assert sum(i.new_contacts for i in report.items) == content_seed.VISITORS
    assert report.sharers and report.sharers[0].gmv_fen > 0
    on_clickhouse = content_performance.content_performance(
        runtime=runtime,
        workspace_id=ws,
        start=now - timedelta(days=30),
        end=now,
        dialect="clickhouse",
    )  # the same SQL's ClickHouse dialect, on chdb over the same segments
    assert on_clickhouse == report
    draft = next(i for i in report.items if i.title == "冬季护手小课堂")
    assert (draft.clicks, draft.links) == (0, 0)

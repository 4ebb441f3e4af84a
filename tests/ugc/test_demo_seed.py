"""The demo seed: posts in every state, rewards paid once, orders through KOCs, the koc tag;
a second run adds nothing."""

from __future__ import annotations

import time
from datetime import timedelta

from siyu import pipeline
from siyu.core.clock import utcnow
from siyu.core.runtime import Runtime
from siyu.demo import ugc_seed
from siyu.loyalty import points
from siyu.pipeline import ugc as flow
from siyu.profiles import tags
from siyu.ugc import service as ugc
from siyu.ugc.models import PostFilter
from siyu.workspaces.models import WorkspaceCreated
from tests.api.conftest import keys, runtime  # noqa: F401  (fixtures on both stores)


def test_seed_makes_moderated_rewarded_posts_and_kocs(
    runtime: Runtime,  # noqa: F811
    keys: WorkspaceCreated,  # noqa: F811
) -> None:
    ws, now = keys.workspace_id, utcnow()
    hello = [{"type": "identify", "messageId": f"i{n}", "userId": f"u{n}"} for n in range(150)]
    pipeline.ingest(runtime=runtime, workspace_id=ws, received_at=now, messages=hello)
    started = time.perf_counter()
    assert ugc_seed.seed_ugc(runtime, workspace_id=ws, now=now) == ugc_seed.POSTS
    assert time.perf_counter() - started < 30
    with runtime.sessions() as session:
        posts = ugc.list_posts(session=session, workspace_id=ws, where=PostFilter(limit=500))
        kocs = tags.persons_with_tag(session=session, workspace_id=ws, tag="KOC/koc")
        statuses = {p.status.value for p in posts.items}
        paid = [p for p in posts.items if p.reward is not None]
        authors = {p.person_id for p in paid}
        earned = sum(
            points.get_account(session=session, workspace_id=ws, person_id=a).balance
            for a in authors
        )
    assert statuses == {"pending", "approved", "rejected"}
    assert {p.status.value for p in paid} == {"approved"}
    # Every approved post paid once: 50 points, or 200 in the campaign.
    assert earned == sum(200 if p.campaign else 50 for p in paid)
    ranking = flow.rank_kocs(runtime=runtime, workspace_id=ws, start=now - timedelta(days=30),
                             end=now, now=now, top=5)  # fmt: skip
    assert sum(r.orders for r in ranking.items) > 0
    assert 0 < len(kocs) <= 5
    assert set(kocs) <= {r.person_id for r in ranking.items if r.approved}
    assert ugc_seed.seed_ugc(runtime, workspace_id=ws, now=now) == 0

"""UGC in the demo brand: three dozen customer posts and reviews (most approved and paid
points, some rejected, some waiting), their metrics over two reports, clicks and orders
that came through the best authors' posts, and the KOC tag on the top authors (idempotent:
skipped when posts exist)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import select

from siyu.collect.models import CollectedEvent, Identifier, MessageType
from siyu.core.runtime import Runtime
from siyu.identity import service as identity
from siyu.identity.tables import identity_persons
from siyu.pipeline import ugc as flow
from siyu.pipeline.ingest import ingest_events
from siyu.ugc import service as ugc
from siyu.ugc.models import DEFAULT_CAMPAIGN, Metrics, PostCreate, PostFilter, RewardRule

AUTHORS = 14
POSTS = 36
READERS = 120
CAMPAIGN = "山茶花精华·晒单有礼"
_TEXTS = (
    "山茶花精华用了两周，干皮救星，上脸很润不黏",
    "回购第三瓶了，夜里用完第二天脸是软的",
    "包装很有质感，送朋友也合适",
    "油皮夏天用略厚，冬天刚好",
    "敏感肌无刺激，跟柜姐说的一样",
    "物流很快，赠品小样也很实用",
)
_PLATFORMS = ("xiaohongshu", "xiaohongshu", "douyin", "weibo", "wechat_moments", "mall_review")


def _persons(runtime: Runtime, workspace_id: str, skip: int, count: int) -> list[str]:
    p = identity_persons.c
    with runtime.sessions() as session:
        return list(
            session.execute(
                select(p.id)
                .where(p.workspace_id == workspace_id, p.survivor_id.is_(None))
                .order_by(p.rank)
                .offset(skip)
                .limit(count)
            ).scalars()
        )


def _posts(authors: list[str], now: datetime, rng: random.Random) -> list[PostCreate]:
    posts = []
    for n in range(POSTS):
        # A few prolific authors: the first ones write most posts.
        author = authors[min(int(rng.expovariate(0.35)), len(authors) - 1)]
        platform = _PLATFORMS[n % len(_PLATFORMS)]
        posted = now - timedelta(days=rng.randint(3, 25), hours=rng.randint(0, 23))
        posts.append(PostCreate(
            platform=platform, external_id=f"demo-{n:03d}", person_id=author,
            url=None if platform == "mall_review" else f"https://example.cn/{platform}/{n}",
            text=_TEXTS[n % len(_TEXTS)], rating=5 - n % 2 if platform == "mall_review" else None,
            images=[f"https://example.cn/img/{n}-{i}.jpg" for i in range(n % 4)],
            product_ids=["SKU-CAMELLIA-SERUM"], campaign=CAMPAIGN if n % 3 == 0 else None,
            posted_at=posted,
            metrics=Metrics(views=rng.randint(50, 400), likes=rng.randint(0, 40)),
        ))  # fmt: skip
    return posts


def _moderate(runtime: Runtime, workspace_id: str, ids: list[str], now: datetime) -> None:
    for n, post_id in enumerate(ids):
        if n % 6 == 5:
            flow.reject_post(runtime=runtime, workspace_id=workspace_id, post_id=post_id,
                             reason="与产品无关 / 疑似广告", actor="demo", now=now)  # fmt: skip
        elif n % 6 != 4:  # one in six stays pending for the operator
            flow.approve_post(runtime=runtime, workspace_id=workspace_id, post_id=post_id,
                              actor="demo", now=now)  # fmt: skip


def _event(held: Identifier, name: str, at: datetime, key: str, props: dict[str, object],
           revenue: int | None = None) -> CollectedEvent:  # fmt: skip
    return CollectedEvent(
        message_id=f"demo-ugc:{key}", type=MessageType.TRACK, timestamp=at, received_at=at,
        identifiers=[held], event=name, properties=props, revenue_fen=revenue,
    )  # fmt: skip


def _traffic(
    runtime: Runtime, workspace_id: str, approved: list[tuple[str, datetime]], now: datetime,
    rng: random.Random,
) -> None:  # fmt: skip
    """Readers click approved posts (more for earlier ones); a fifth order within days."""
    readers = _persons(runtime, workspace_id, AUTHORS, READERS)
    with runtime.sessions() as session, session.begin():
        ids = {}
        for p in readers:
            held = identity.identifiers_of(session=session, workspace_id=workspace_id, person_id=p)
            if held:
                ids[p] = Identifier(held[0].type, held[0].key)
        events = []
        for rank, (post_id, posted) in enumerate(approved):
            for reader in rng.sample(sorted(ids), k=max(2, 24 - 2 * rank)):
                at = min(now, posted + timedelta(hours=rng.randint(1, 72)))
                key = f"{post_id}:{reader}"
                events.append(_event(ids[reader], "Link Clicked", at, f"c:{key}",
                                     {"ugc_post_id": post_id}))  # fmt: skip
                if rng.random() < 0.2:
                    paid = min(now, at + timedelta(hours=rng.randint(1, 96)))
                    events.append(_event(ids[reader], "Order Completed", paid, f"o:{key}",
                                         {"order_id": f"demo-ugc-{key}", "ugc_post_id": post_id},
                                         revenue=rng.choice([19_900, 29_900, 39_800])))  # fmt: skip
        ingest_events(session=session, workspace_id=workspace_id, events=events, now=now)


def seed_ugc(runtime: Runtime, *, workspace_id: str, now: datetime) -> int:
    """Seed the demo's posts, rewards, traffic and KOC tags; how many posts were made."""
    with runtime.sessions() as session, session.begin():
        if ugc.list_posts(session=session, workspace_id=workspace_id,
                          where=PostFilter(limit=1)).total:  # fmt: skip
            return 0
        ugc.set_reward_rule(session=session, workspace_id=workspace_id,
                            campaign=DEFAULT_CAMPAIGN,
                            rule=RewardRule(kind="points", amount=50), now=now)  # fmt: skip
        ugc.set_reward_rule(session=session, workspace_id=workspace_id, campaign=CAMPAIGN,
                            rule=RewardRule(kind="points", amount=200), now=now)  # fmt: skip
    authors = _persons(runtime, workspace_id, 0, AUTHORS)
    if not authors:
        return 0
    rng = random.Random(11)
    posts = _posts(authors, now, rng)
    made = flow.collect_posts(
        runtime=runtime, workspace_id=workspace_id, posts=posts, now=now - timedelta(days=2)
    )
    stored = [c.post for c in made if c.post is not None]
    _moderate(runtime, workspace_id, [p.id for p in stored], now - timedelta(days=2))
    for p in stored:  # a second report: posts kept being read
        grown = Metrics(views=p.metrics.views * 3, likes=p.metrics.likes * 2 + 5,
                        shares=rng.randint(0, 20), comments=rng.randint(0, 30))  # fmt: skip
        flow.update_metrics(runtime=runtime, workspace_id=workspace_id, post_id=p.id,
                            metrics=grown, at=now - timedelta(hours=6))  # fmt: skip
    with runtime.sessions() as session:
        page = ugc.list_posts(session=session, workspace_id=workspace_id,
                              where=PostFilter(status="approved", limit=POSTS))  # fmt: skip
    approved = sorted(((p.id, p.posted_at) for p in page.items), key=lambda x: x[1])
    _traffic(runtime, workspace_id, approved, now, rng)
    # Without flushing: the demo build moves the inbox to the event store itself, and counts
    # the brand's events there. The tag reflects reach and approvals now; `siyu ugc kocs
    # --tag` later counts the orders too.
    flow.rank_kocs(runtime=runtime, workspace_id=workspace_id, start=now - timedelta(days=30),
                   end=now, now=now, top=5, apply_tags=True, flush_first=False)  # fmt: skip
    return len(stored)

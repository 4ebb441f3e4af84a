"""The demo brand's material library (素材库) with a month of performance history: fifteen
items with channel variants, tracked links of the brand and of sharing customers (a fission
chain two levels deep), views, clicks and shares, and the clicks that came before real
orders of the demo history, so orders and GMV are attributed; and the last month's journey
messages that carried items (:mod:`siyu.demo.journey_history`), so items show reach
(idempotent: skipped when the library has links)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.collect.models import Identifier, IdType
from siyu.content import links
from siyu.content import service as content
from siyu.content.models import ContentCreate, ContentLink, LinkCreate
from siyu.content.performance import CLICKED, SHARED, VIEWED
from siyu.content.tables import content_links
from siyu.core.runtime import Runtime
from siyu.demo import journey_history
from siyu.identity import service as identity
from siyu.identity.tables import identity_identifiers, identity_persons
from siyu.pipeline import content_visits
from siyu.pipeline.content_visits import Touch

APPID = "wx5a1c0ffee0d15ea5"
SHARERS = 12
ATTRIBUTED_ORDERS = 160  # recent orders preceded by a content click (of ~1 in 4 recent orders)
BROWSERS = 400  # clicks that led to no order
VISITORS = 40  # new visitors first seen through a link
LINK_CHANNELS = ("wecom", "wecom_group", "sms", "mp_template", "miniprogram", "share", "poster")


def _variants(text: str, title: str, page: str) -> list[dict[str, Any]]:
    return [
        {"channel": "wecom", "text": text},
        {"channel": "wecom_group", "text": f"【群福利】{text}"},
        {"channel": "sms", "text": f"【山茶集】{text[:60]}"},
        {"channel": "mp_template", "title": title[:64], "digest": text[:120]},
        {"channel": "miniprogram", "appid": APPID, "page": page, "title": title[:64]},
        {"channel": "email", "subject": title, "text": text},
    ]


def _library() -> list[dict[str, Any]]:
    rows = [
        ("article", "山茶花精华的三种用法", "早晚各一次，按压两泵，轻拍至吸收。", ["护肤", "教程"]),
        ("article", "敏感肌换季急救指南", "换季泛红？先停用去角质，再补水。", ["护肤", "敏感肌"]),
        ("article", "成分党看过来：山茶籽油", "山茶籽油富含油酸，亲肤不闷痘。", ["成分", "种草"]),
        ("poster", "双12 会员日海报", "双12 会员日，全场 8 折，积分翻倍。", ["大促", "双12"]),
        ("poster", "新品首发：山茶花面霜", "新品首发，前 500 名赠旅行装。", ["新品"]),
        ("image", "门店打卡图", "到店打卡，领取小样一份。", ["门店"]),
        ("image", "买家秀合集", "看看大家的使用前后对比。", ["种草", "UGC"]),
        ("miniprogram_card", "积分商城上新", "积分兑好礼，本周上新 12 款。", ["积分"]),
        ("miniprogram_card", "拼团·三人成团", "三人成团 199 元，48 小时有效。", ["活动", "拼团"]),
        ("link", "双12 主会场", "双12 主会场已开启，满 299 减 50。", ["大促", "双12"]),
        ("link", "会员专享直播", "今晚 8 点直播间见，会员专享价。", ["直播"]),
        ("text", "发货时间说明", "下单后 48 小时内发货，偏远地区 72 小时。", ["售后", "快捷回复"]),
        ("text", "退换货政策", "7 天无理由退换，拆封后不影响二次销售即可。", ["售后", "快捷回复"]),
        ("text", "欢迎语：新朋友", "欢迎来到山茶集！回复 1 领取新人券。", ["欢迎语"]),
        ("article", "冬季护手小课堂", "护手霜要在洗手后三分钟内涂。", ["护肤", "教程"]),
    ]
    items = []
    for n, (kind, title, text, tags) in enumerate(rows):
        item: dict[str, Any] = {
            "kind": kind,
            "title": title,
            "body": text,
            "tags": tags,
            "status": "draft" if n == 14 else "published",
            "variants": _variants(text, title, f"pages/content?id={n + 1}"),
        }
        if kind == "link":
            item["url"] = f"https://shop.shanchaji.example/p/{n + 1}"
        if kind in ("poster", "image"):
            item["media_path"] = f"https://cdn.shanchaji.example/content/{n + 1}.jpg"
        items.append(item)
    return items


def _people(runtime: Runtime, workspace_id: str, limit: int) -> list[str]:
    p = identity_persons.c
    with runtime.sessions() as session:
        return list(
            session.execute(
                select(p.id)
                .where(p.workspace_id == workspace_id, p.survivor_id.is_(None))
                .order_by(p.rank)
                .limit(limit)
            ).scalars()
        )


RECENT_ORDERS_SQL = {
    "duckdb": "SELECT person_id, timestamp FROM events WHERE event = 'Order Completed' "
    "AND person_id IS NOT NULL AND timestamp >= $since ORDER BY timestamp, message_id",
    "clickhouse": "SELECT person_id, timestamp FROM events WHERE event = 'Order Completed' "
    "AND person_id != '' AND timestamp >= {since:DateTime64(6, 'UTC')} "
    "ORDER BY timestamp, message_id",
}


def _recent_orders(runtime: Runtime, ws: str, since: datetime) -> list[tuple[str, datetime]]:
    table = runtime.events.query(ws, RECENT_ORDERS_SQL[runtime.events.dialect], {"since": since})
    return [(r["person_id"], r["timestamp"]) for r in table.to_pylist()]


class History:
    """Builds the touches of the month, keeping links per (item, channel, sharer)."""

    def __init__(
        self, runtime: Runtime, session: Session, ws: str, items: list[str], now: datetime
    ) -> None:
        self.runtime, self.session, self.ws, self.items, self.now = runtime, session, ws, items, now
        self.links: dict[tuple[str, str, str | None], ContentLink] = {}
        self.touches: list[Touch] = []
        self.survivors: dict[str, str] = {}
        self.identifiers: dict[str, Identifier] = {}

    def link(self, item: str, channel: str, sharer: str | None, parent: str | None) -> ContentLink:
        key = (item, channel, sharer)
        if key not in self.links:
            self.links[key], _ = links.link_for(
                session=self.session,
                workspace_id=self.ws,
                content_id=item,
                now=self.now,
                link=LinkCreate(channel=channel, sharer_id=sharer, parent_code=parent),
                base_url=self.runtime.settings.public_url,
            )
        return self.links[key]

    def touch(self, event: str, link: ContentLink, at: datetime, **who: Any) -> None:
        n = len(self.touches)
        self.touches.append(Touch(event, link, at, f"demo:ct:{n}", **who))

    def person(self, person_id: str) -> dict[str, Any]:
        """Who a touch is by: the person and one identifier of theirs (read in bulk)."""
        return {"person_id": person_id, "identifier": self.identifiers.get(person_id)}

    def read_identities(self) -> None:
        """Survivors of merged persons, and one identifier per person, in two queries."""
        self.survivors = dict(identity.person_map(session=self.session, workspace_id=self.ws))
        i = identity_identifiers.c
        rows = self.session.execute(
            select(i.person_id, i.id_type, i.key)
            .where(i.workspace_id == self.ws)
            .order_by(i.person_id, i.first_seen, i.key)
        ).all()
        for person_id, kind, key in rows:
            self.identifiers.setdefault(person_id, Identifier(IdType(kind), key))


def _first_links(h: History, sharers: list[str], rng: random.Random) -> list[ContentLink]:
    made = []
    for item in h.items:
        made += [h.link(item, channel, None, None) for channel in rng.sample(LINK_CHANNELS, 3)]
        made += [
            h.link(item, rng.choice(("share", "wecom", "poster")), sharer, None)
            for sharer in rng.sample(sharers, 3)
        ]
    return made


def _browse(h: History, pool: list[ContentLink], people: list[str], rng: random.Random) -> None:
    for n in range(BROWSERS):
        link, who = rng.choice(pool), rng.choice(people)
        at = h.now - timedelta(days=rng.uniform(0.2, 29.5))
        h.touch(VIEWED, link, at, **h.person(who))
        if n % 2 == 0:
            h.touch(CLICKED, link, at + timedelta(seconds=20), **h.person(who))
        if n % 9 == 0 and link.sharer_id is not None:  # a re-share: the fission chain grows
            mine = h.link(link.content_id, "share", who, link.code)
            h.touch(SHARED, mine, at + timedelta(minutes=2), **h.person(who))
            pool.append(mine)
    for n in range(VISITORS):
        link = rng.choice(pool)
        at = h.now - timedelta(days=rng.uniform(0.2, 20))
        h.touch(CLICKED, link, at, anonymous_id=f"demo-visitor-{n}")


def _before_orders(
    h: History, pool: list[ContentLink], rng: random.Random
) -> list[tuple[str, datetime]]:
    """Clicks before some recent orders; the other recent orders (buyer, time)."""
    orders = _recent_orders(h.runtime, h.ws, h.now - timedelta(days=30))
    rng.shuffle(orders)
    for person, at in orders[:ATTRIBUTED_ORDERS]:
        who = h.survivors.get(person, person)
        link = rng.choice(pool)
        h.touch(CLICKED, link, at - timedelta(hours=rng.uniform(1, 72)), **h.person(who))
    return [(h.survivors.get(p, p), at) for p, at in orders[ATTRIBUTED_ORDERS:]]


def seed_library(runtime: Runtime, *, workspace_id: str, now: datetime) -> list[str]:
    """Create the demo library (a month old) unless it exists; the item ids, in the
    library's order (the draft last)."""
    specs = _library()
    with runtime.sessions() as session, session.begin():
        existing = content.list_content(session=session, workspace_id=workspace_id)
        if existing:
            by_title = {c.title: c.id for c in existing}
            return [by_title[s["title"]] for s in specs if s["title"] in by_title]
        return [
            content.create_content(
                session=session,
                workspace_id=workspace_id,
                now=now - timedelta(days=31),
                item=ContentCreate.model_validate(spec),
                by="demo",
            ).id
            for spec in specs
        ]


def _has_history(runtime: Runtime, workspace_id: str) -> bool:
    k = content_links.c
    with runtime.sessions() as session:
        found = session.execute(select(k.code).where(k.workspace_id == workspace_id).limit(1))
        return found.first() is not None


def seed_content(runtime: Runtime, *, workspace_id: str, now: datetime) -> list[str]:
    """Create the demo library and its month of history — the journeys' sends of items
    included (after the journeys are seeded); the item ids (nothing new if seeded)."""
    ids = seed_library(runtime, workspace_id=workspace_id, now=now)
    people = _people(runtime, workspace_id, 600)
    if not people or _has_history(runtime, workspace_id):
        return ids
    rng = random.Random(12)
    with runtime.sessions() as session, session.begin():  # every link in one transaction
        history = History(runtime, session, workspace_id, ids[:14], now)  # the draft: unshared
        history.read_identities()
        pool = _first_links(history, people[:SHARERS], rng)
        _browse(history, pool, people, rng)
        left = _before_orders(history, pool, rng)
        sent = journey_history.send_history(history, left, rng)
    journey_history.deliver(runtime, sent)
    content_visits.track_touches(
        runtime=runtime, workspace_id=workspace_id, touches=history.touches, now=now
    )
    return ids

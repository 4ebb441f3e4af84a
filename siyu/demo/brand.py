"""山茶集, a synthetic tea-drink chain: who its customers are and what they do, drawn with numpy.

Deterministic for a seed and a ``now``. Customers arrive over ~180 days from Douyin,
Xiaohongshu, Taobao, the stores, the WeChat official account and WeCom live codes; each
buys at a personal rate drawn from a gamma distribution (most buy once or never, a loyal
few weekly) until they go quiet. A few families share a tablet and a few store clerks type
their own phone number for customers, so the identity graph meets real conflicts.
Customers have taste (:class:`Taste`): each prefers a group of the menu (oolong, milk tea or
fruit tea, hence a price band) and two drinks in it, and some drinks are ordered together,
so a recommender has something to learn beyond popularity.
:mod:`siyu.demo.messages` turns the schedule into Segment-spec messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from typing import Any

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

BRAND = "山茶集"
WORKSPACE_NAME = "山茶集 Demo"
MP_APPID = "wx_mp_demo"
DAY = 86_400
HISTORY_DAYS = 180
SHANGHAI_OFFSET = 8 * 3600

# City → number of stores (30 in all).
CITIES: tuple[tuple[str, str, int], ...] = (
    ("SH", "上海", 8),
    ("HZ", "杭州", 6),
    ("SZ", "苏州", 4),
    ("NJ", "南京", 4),
    ("CD", "成都", 4),
    ("GZ", "广州", 4),
)
STORES: tuple[tuple[str, str], ...] = tuple(
    (f"{code}-{n:03d}", f"{BRAND}·{city}{n}号店")
    for code, city, count in CITIES
    for n in range(1, count + 1)
)

# product id, name, price in fen (¥12–¥38 a cup)
MENU: tuple[tuple[str, str, int], ...] = (
    ("tea-oolong", "山茶乌龙", 1200),
    ("tea-jasmine", "茉莉奶绿", 1500),
    ("tea-osmanthus", "桂花拿铁", 1800),
    ("tea-peach", "蜜桃乌龙", 1900),
    ("tea-grape", "多肉葡萄", 2400),
    ("tea-mango", "芒芒甘露", 2200),
    ("tea-cheese", "芝士莓莓", 2600),
    ("tea-matcha", "抹茶雪顶", 2300),
    ("tea-lychee", "荔枝冰茶", 1600),
    ("tea-brown", "黑糖波波", 1700),
    ("tea-gift", "山茶礼盒(6杯券)", 3800),
    ("tea-coldbrew", "冷泡大红袍", 2800),
)
PRICES = np.array([price for _, _, price in MENU], dtype=np.int64)

# Taste groups (menu indices): oolong teas, milk teas, fruit teas; and the share of customers
# preferring each. The gift box is bought outside anyone's favourites.
TASTE_GROUPS: tuple[tuple[int, ...], ...] = ((0, 3, 11), (1, 2, 7, 9), (4, 5, 6, 8))
TASTE_SHARES = (0.3, 0.4, 0.3)
# What a customer orders when not one of their favourites: the shop's overall popularity.
POPULARITY = np.array([6, 5, 8, 7, 9, 6, 5, 6, 4, 7, 2, 3], dtype=np.float64)
# Drinks ordered together: a second cup is the first's partner half the time.
PAIRS: tuple[tuple[int, int], ...] = ((0, 2), (1, 9), (3, 5), (4, 6), (7, 10), (8, 11))
PARTNER = np.array([dict(PAIRS + tuple((b, a) for a, b in PAIRS))[i] for i in range(len(MENU))])
FAVOURITE_SHARES = (0.5, 0.25)  # first favourite, second favourite; the rest: popularity

# source, medium, campaign, share of new customers
CHANNELS: tuple[tuple[str, str, str, float], ...] = (
    ("douyin", "live", "dy_live_autumn", 0.22),
    ("xiaohongshu", "kol", "xhs_kol_osmanthus", 0.14),
    ("taobao", "marketplace", "tmall_flagship", 0.10),
    ("store", "offline_qr", "store_table_qr", 0.30),
    ("wechat_oa", "oa_menu", "oa_new_member_gift", 0.10),
    ("wecom", "live_code", "wecom_guide_live_code", 0.14),
)
CHANNEL_SHARES = np.array([share for *_, share in CHANNELS])
DOUYIN, XHS, TAOBAO, STORE, WECHAT_OA, WECOM = range(len(CHANNELS))


class Kind(IntEnum):
    """What a scheduled event is."""

    LANDING = 0  # first page / screen, with the campaign
    SIGNUP = 1  # identify with ids and traits
    MENU = 2  # screen "Menu"
    VIEWED = 3  # Product Viewed
    ADDED = 4  # Product Added
    ORDER = 5  # Order Completed
    SECOND_LOGIN = 6  # identify from a second device (H5 / app)
    REFERRAL_SENT = 7
    REFERRAL_ACCEPTED = 8


@dataclass
class Customers:
    """One entry per customer; times are epoch seconds."""

    channel: IntArray
    first_seen: IntArray
    last_active: IntArray
    home_store: IntArray
    member: BoolArray
    wecom: BoolArray
    douyin: BoolArray
    taobao: BoolArray
    second_device: BoolArray
    orders: IntArray
    browses: IntArray
    tablet: IntArray  # shared tablet number, or -1
    clerk: IntArray  # clerk whose phone was typed for this member, or -1
    gender: IntArray  # 0 female, 1 male

    @property
    def size(self) -> int:
        """How many customers."""
        return len(self.channel)


@dataclass
class Schedule:
    """Every event, sorted by time: who, what, when, and one kind-specific number.

    ``aux`` is the product index (viewed/added), the order number (order), the other
    party's customer index (referrals), else 0.
    """

    customer: IntArray
    kind: IntArray
    at: IntArray
    aux: IntArray


def _times_in(rng: np.random.Generator, start: IntArray, end: IntArray) -> IntArray:
    """A time in [start, end] per entry, moved into shop hours (10:00–22:00 Shanghai)."""
    span = np.maximum(end - start, 1)
    raw = start + (rng.random(len(start)) * span).astype(np.int64)
    local = (raw + SHANGHAI_OFFSET) % DAY
    shift = np.where(local < 10 * 3600, 10 * 3600 + rng.integers(0, 12 * 3600, len(raw)) - local, 0)
    moved = raw + shift
    inside: IntArray = np.where(moved <= end, moved, raw)
    return inside


def draw_customers(rng: np.random.Generator, n: int, now: int) -> Customers:
    """Who the ``n`` customers are, when they come and how much they buy."""
    start = now - HISTORY_DAYS * DAY
    # Growth: later days bring more customers (a brand that is taking off).
    first_seen = start + (np.sqrt(rng.random(n)) * (HISTORY_DAYS - 1) * DAY).astype(np.int64)
    channel = rng.choice(len(CHANNELS), size=n, p=CHANNEL_SHARES)
    lifespan = rng.exponential(45 * DAY, n).astype(np.int64) + DAY
    last_active = np.minimum(first_seen + lifespan, now - 3600)
    weeks = (last_active - first_seen) / (7 * DAY)
    rate = rng.gamma(shape=0.45, scale=0.55, size=n)  # orders per week
    orders = rng.poisson(rate * weeks) + (channel == STORE)
    member = (channel == STORE) | (orders > 0) | (rng.random(n) < 0.45)
    return Customers(
        channel=channel,
        first_seen=first_seen,
        last_active=last_active,
        home_store=rng.integers(0, len(STORES), n),
        member=member,
        wecom=(channel == WECOM) | (member & (rng.random(n) < 0.25)),
        douyin=channel == DOUYIN,
        taobao=(channel == TAOBAO) | (rng.random(n) < 0.05),
        second_device=rng.random(n) < 0.2,
        orders=np.minimum(orders, 40).astype(np.int64),
        browses=rng.poisson(2.0, n).astype(np.int64),
        tablet=_families(rng, n),
        clerk=_clerks(rng, n, member),
        gender=(rng.random(n) < 0.32).astype(np.int64),
    )


def _families(rng: np.random.Generator, n: int) -> IntArray:
    tablet = np.full(n, -1, dtype=np.int64)
    families = max(1, n // 600)
    chosen = rng.choice(n, size=min(n, families * 3), replace=False)
    tablet[chosen] = np.arange(len(chosen)) // 3
    return tablet


def _clerks(rng: np.random.Generator, n: int, member: BoolArray) -> IntArray:
    clerk = np.full(n, -1, dtype=np.int64)
    members = np.flatnonzero(member)
    clerks = max(1, n // 2_500)
    chosen = rng.choice(members, size=min(len(members), clerks * 6), replace=False)
    clerk[chosen] = np.arange(len(chosen)) // 6
    return clerk


@dataclass
class Taste:
    """Each customer's two favourite drinks (from one taste group), and a generator of its own
    (so the rest of the brand draws exactly what it drew before taste was added)."""

    favourite: IntArray  # (customers, 2) menu indices
    rng: np.random.Generator

    def draw(self, who: IntArray) -> IntArray:
        """A drink for each entry of ``who`` (customer indices), by that customer's taste."""
        u = self.rng.random(len(who))
        popular = self.rng.choice(len(MENU), size=len(who), p=POPULARITY / POPULARITY.sum())
        first, second = FAVOURITE_SHARES
        drawn: IntArray = np.where(
            u < first,
            self.favourite[who, 0],
            np.where(u < first + second, self.favourite[who, 1], popular),
        )
        return drawn

    def basket(self, who: IntArray, first: IntArray, items: IntArray) -> IntArray:
        """(orders, 3) baskets: ``first`` then, up to ``items``, the first drink's partner or
        another drink to taste; -1 for no item."""
        basket = np.stack([first, self.draw(who), self.draw(who)], axis=1)
        paired = self.rng.random((len(who), 2)) < 0.5
        basket[:, 1:] = np.where(paired, PARTNER[first][:, None], basket[:, 1:])
        basket[np.arange(3)[None, :] >= items[:, None]] = -1
        return basket


def draw_taste(rng: np.random.Generator, n: int) -> Taste:
    """Every customer's taste group and two favourite drinks in it."""
    group = rng.choice(len(TASTE_GROUPS), size=n, p=TASTE_SHARES)
    favourite = np.empty((n, 2), dtype=np.int64)
    for g, members in enumerate(TASTE_GROUPS):
        mine = np.flatnonzero(group == g)
        picks = np.argsort(rng.random((len(mine), len(members))), axis=1)[:, :2]
        favourite[mine] = np.asarray(members, dtype=np.int64)[picks]
    return Taste(favourite, rng)


def _repeat(counts: IntArray) -> IntArray:
    repeated: IntArray = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    return repeated


def _session_events(
    rng: np.random.Generator, who: IntArray, at: IntArray, kinds: list[Kind], aux: list[IntArray]
) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """Events of sessions starting at ``at``: ``kinds[i]`` happens ``i`` × ~40 s later."""
    steps = [at + i * rng.integers(20, 90, len(at)) for i in range(len(kinds))]
    return (
        np.tile(who, len(kinds)),
        np.repeat(np.array([int(k) for k in kinds], dtype=np.int64), len(who)),
        np.concatenate(steps),
        np.concatenate(aux),
    )


def _referrals(rng: np.random.Generator, c: Customers) -> list[tuple[IntArray, ...]]:
    members = np.flatnonzero(c.member)
    order = members[np.argsort(c.first_seen[members], kind="stable")]
    friendly = (c.channel == WECOM) | (c.channel == WECHAT_OA) | (c.channel == STORE)
    referees = np.flatnonzero(friendly & (rng.random(c.size) < 0.12))
    earlier = np.searchsorted(c.first_seen[order], c.first_seen[referees])
    referees, earlier = referees[earlier > 0], earlier[earlier > 0]
    referrers = order[(rng.random(len(referees)) * earlier).astype(np.int64)]
    sent = np.maximum(
        c.first_seen[referees] - rng.integers(600, 3 * DAY, len(referees)),
        c.first_seen[referrers],
    )
    accepted = c.first_seen[referees] + 150
    return [
        (referrers, np.full(len(sent), Kind.REFERRAL_SENT), sent, referees),
        (referees, np.full(len(sent), Kind.REFERRAL_ACCEPTED), accepted, referrers),
    ]


def schedule(
    rng: np.random.Generator,
    c: Customers,
    taste: Taste | None = None,
    first_items: IntArray | None = None,
) -> Schedule:
    """Every event of every customer, in time order.

    With ``taste``, viewed drinks follow the customer's taste and an online order's viewed
    and added drink is its first item (``first_items``, one per order); without, uniform.
    """
    everyone = np.arange(c.size, dtype=np.int64)
    zeros = np.zeros(c.size, dtype=np.int64)
    parts: list[tuple[IntArray, ...]] = [
        _session_events(rng, everyone, c.first_seen, [Kind.LANDING, Kind.SIGNUP], [zeros, zeros])
    ]
    second = np.flatnonzero(c.second_device)
    parts.append(
        (
            second,
            np.full(len(second), Kind.SECOND_LOGIN),
            _times_in(rng, c.first_seen[second], c.last_active[second]),
            np.zeros(len(second), dtype=np.int64),
        )
    )
    who = _repeat(c.browses)
    at = _times_in(rng, c.first_seen[who] + 600, c.last_active[who])
    product = rng.integers(0, len(MENU), (2, len(who)))
    if taste is not None:
        product = np.stack([taste.draw(who), taste.draw(who)])
    parts.append(
        _session_events(
            rng,
            who,
            at,
            [Kind.MENU, Kind.VIEWED, Kind.VIEWED],
            [product[0] * 0, product[0], product[1]],
        )
    )
    buyers = _repeat(c.orders)
    at = _times_in(rng, c.first_seen[buyers] + 300, c.last_active[buyers])
    product = rng.integers(0, len(MENU), len(buyers))
    if first_items is not None:
        product = first_items
    in_store = (c.channel[buyers] == STORE) & (rng.random(len(buyers)) < 0.6)
    online = ~in_store
    parts.append(
        _session_events(
            rng,
            buyers[online],
            at[online],
            [Kind.VIEWED, Kind.ADDED],
            [product[online], product[online]],
        )
    )
    number = np.arange(len(buyers), dtype=np.int64)
    parts.append((buyers, np.full(len(buyers), Kind.ORDER), at + 200, number))
    parts.extend(_referrals(rng, c))
    customer, kind, when, aux = (
        np.concatenate([p[i] for p in parts]).astype(np.int64) for i in range(4)
    )
    order = np.lexsort((kind, when))
    return Schedule(customer[order], kind[order], when[order], aux[order])


@dataclass
class Brand:
    """A drawn brand: customers, their schedule, and the baskets of the orders."""

    seed: int
    now: datetime
    customers: Customers
    events: Schedule
    basket: IntArray  # (orders, 3) product index, -1 for no item
    order_store: IntArray

    def stats(self) -> dict[str, Any]:
        """Counts worth printing: customers, events, orders, GMV in fen."""
        prices = np.where(self.basket >= 0, PRICES[np.maximum(self.basket, 0)], 0)
        return {
            "customers": self.customers.size,
            "events": len(self.events.kind),
            "orders": len(self.basket),
            "gmv_fen": int(prices.sum()),
        }


def draw_brand(*, users: int, seed: int, now: datetime) -> Brand:
    """The whole brand for ``users`` customers, deterministic for ``seed`` and ``now``."""
    rng = np.random.default_rng(seed)
    now_s = int(now.timestamp())
    customers = draw_customers(rng, users, now_s)
    taste = draw_taste(np.random.default_rng([seed, 1]), users)
    buyers = _repeat(customers.orders)
    first = taste.draw(buyers)
    events = schedule(rng, customers, taste, first)
    n_orders = int(customers.orders.sum())
    items = rng.choice(3, size=n_orders, p=[0.6, 0.3, 0.1]) + 1
    rng.integers(0, len(MENU), (n_orders, 3))  # the uniform baskets once drawn: keeps the stream
    basket = taste.basket(buyers, first, items)
    away = rng.random(n_orders) < 0.15
    store = np.where(away, rng.integers(0, len(STORES), n_orders), customers.home_store[buyers])
    return Brand(seed, now, customers, events, basket, store.astype(np.int64))

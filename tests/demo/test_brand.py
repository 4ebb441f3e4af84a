"""The demo brand: deterministic, valid Segment messages, identity conflicts built in."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np

from siyu.collect import normalize
from siyu.collect.models import IdType
from siyu.core.crypto import Vault
from siyu.demo.brand import HISTORY_DAYS, MENU, Kind, draw_brand
from siyu.demo.messages import Renderer, people_of

NOW = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)
VAULT = Vault(b"d" * 32)


def test_same_seed_same_brand_other_seed_other_brand() -> None:
    a = draw_brand(users=500, seed=1, now=NOW)
    b = draw_brand(users=500, seed=1, now=NOW)
    c = draw_brand(users=500, seed=2, now=NOW)
    assert a.stats() == b.stats()
    assert np.array_equal(a.events.at, b.events.at)
    assert a.stats() != c.stats()
    first = next(Renderer(a).chunks(100))
    assert first == next(Renderer(b).chunks(100))


def test_schedule_is_time_ordered_within_history_and_customer_windows() -> None:
    brand = draw_brand(users=2_000, seed=3, now=NOW)
    at, who = brand.events.at, brand.events.customer
    assert np.all(np.diff(at) >= 0)
    assert at.min() >= int((NOW - timedelta(days=HISTORY_DAYS)).timestamp())
    assert at.max() <= int(NOW.timestamp())
    accepted = brand.events.kind == Kind.REFERRAL_ACCEPTED
    assert np.all(at[~accepted] >= brand.customers.first_seen[who[~accepted]])


def test_repeat_purchase_is_skewed_and_baskets_priced_per_cup() -> None:
    c = draw_brand(users=5_000, seed=4, now=NOW).customers
    orders = c.orders
    assert 0.2 < np.mean(orders == 0) < 0.7  # many never buy
    assert np.mean(orders == 1) > np.mean(orders >= 5)  # most buyers buy once
    assert np.mean(orders >= 10) > 0.01  # a loyal minority buys weekly
    assert all(1200 <= price <= 3800 for *_, price in MENU)


def test_messages_parse_and_carry_ids_amounts_and_conflicts() -> None:
    brand = draw_brand(users=1_000, seed=5, now=NOW)
    messages = [m for chunk in Renderer(brand).chunks(1_000) for m in chunk]
    assert len(messages) == brand.stats()["events"]
    assert len({m["messageId"] for m in messages}) == len(messages)
    events, rejected = normalize.parse_batch(messages, vault=VAULT, received_at=NOW)
    assert rejected == []
    names = Counter(e.event for e in events)
    assert {"Product Viewed", "Product Added", "Order Completed", "Referral Sent"} <= set(names)
    orders = [e for e in events if e.event == "Order Completed"]
    assert all(e.revenue_fen and 1200 <= e.revenue_fen <= 3 * 3800 for e in orders)
    assert sum(e.revenue_fen or 0 for e in orders) == brand.stats()["gmv_fen"]
    signup_types = {i.type for e in events if e.type == "identify" for i in e.identifiers}
    assert {IdType.MEMBER_ID, IdType.PHONE, IdType.UNIONID, IdType.MP_OPENID} <= signup_types
    assert {IdType.WECOM_EXTERNAL_USERID, IdType.DOUYIN_OPENID} <= signup_types
    # A clerk's phone is typed for several members; families share a tablet's install id.
    people = people_of(brand)
    members = np.flatnonzero(brand.customers.member)
    phones = Counter(people.phone[u] for u in members)
    assert max(phones.values()) > 1
    assert max(Counter(people.anon).values()) == 3
    accepted = [e for e in events if e.event == "Referral Accepted"]
    assert accepted
    assert all(e.properties["referrer_member_id"].startswith("SC") for e in accepted)

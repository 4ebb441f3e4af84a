"""Render the demo brand's schedule as Segment-spec messages, in time order, chunk by chunk.

Each customer carries the ids a real 山茶集 customer would: an install id (``anonymousId``)
and a mini-program openid; members also a member number, phone and unionid; some a WeCom
external userid, a Douyin openid or a Taobao nick; a fifth log in again from a second
device. Families on a shared tablet share its install id, and a clerk's phone typed for
several members makes one phone claim several member numbers: both are refused merges
(conflicts) under the default identity rules.

A referred customer's first touch is the shared link: their landing is a ``Referral Link
Clicked`` event carrying the referrer's member number (with the landing's campaign), then
they sign up and accept the referral, so the fission funnel reads share → click → register
→ order across the two people.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from siyu.demo.brand import CHANNELS, CITIES, MENU, MP_APPID, STORES, Brand, Kind

_MIX = 0x9E3779B97F4A7C15
_MASK = (1 << 64) - 1
_PHONE_PREFIXES = ("138", "139", "135", "136", "137", "150", "151", "158", "186", "188", "177")


def _token(seed: int, salt: int, index: int) -> str:
    """A stable pseudo-random 16-hex-digit token (splitmix64 of seed, salt and index)."""
    z = (index * _MIX + seed * 0xBF58476D1CE4E5B9 + salt * 0x94D049BB133111EB) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return f"{z ^ (z >> 31):016x}"


@dataclass(frozen=True)
class People:
    """The ids of every customer, by customer index."""

    anon: list[str]
    anon2: list[str]
    member_id: list[str]
    phone: list[str]
    unionid: list[str]
    mp_openid: list[str]
    traits: list[dict[str, Any]]


def _phone(seed: int, index: int) -> str:
    digits = (index * 48_271 + seed * 7_919) % 100_000_000
    return f"{_PHONE_PREFIXES[index % len(_PHONE_PREFIXES)]}{digits:08d}"


def _extra_ids(brand: Brand, seed: int, u: int) -> dict[str, Any]:
    c = brand.customers
    found: dict[str, Any] = {}
    if c.wecom[u]:
        found["wecom_external_userid"] = "wmEx" + _token(seed, 4, u)
    if c.douyin[u]:
        found["douyin_openid"] = "dy_" + _token(seed, 5, u)
    if c.taobao[u]:
        found["taobao_buyer_id"] = "tb_" + _token(seed, 6, u)[:10]
    return found


def people_of(brand: Brand) -> People:
    """Ids and signup traits of every customer of ``brand``."""
    c, seed = brand.customers, brand.seed
    city_of = [city for _, city, count in CITIES for _ in range(count)]
    anon, anon2, member_id, phone, unionid, openid, traits = [], [], [], [], [], [], []
    for u in range(c.size):
        tablet = int(c.tablet[u])
        anon.append(f"tablet-{seed}-{tablet:05d}" if tablet >= 0 else "a" + _token(seed, 1, u))
        anon2.append("h5" + _token(seed, 2, u))
        member_id.append(f"SC{1_000_001 + u}")
        clerk = int(c.clerk[u])
        phone.append(f"1390000{clerk:04d}" if clerk >= 0 else _phone(seed, u))
        unionid.append("oU" + _token(seed, 3, u))
        openid.append("oMP" + _token(seed, 7, u))
        home = int(c.home_store[u])
        person: dict[str, Any] = {"city": city_of[home], "home_store": STORES[home][0]}
        person["gender"] = "male" if c.gender[u] else "female"
        person.update(_extra_ids(brand, seed, u))
        if c.member[u]:
            person.update(member_id=member_id[u], phone=phone[u], unionid=unionid[u], level="新客")
        traits.append(person)
    return People(anon, anon2, member_id, phone, unionid, openid, traits)


def _campaign(brand: Brand, u: int) -> dict[str, str]:
    source, medium, name, _ = CHANNELS[int(brand.customers.channel[u])]
    return {"source": source, "medium": medium, "name": name}


def _product(index: int) -> dict[str, Any]:
    product_id, name, price = MENU[index]
    return {"product_id": product_id, "name": name, "price": f"{price / 100:.2f}"}


class Renderer:
    """Builds the message of each scheduled event."""

    def __init__(self, brand: Brand) -> None:
        self.brand = brand
        self.people = people_of(brand)
        events = brand.events
        accepted = events.kind == Kind.REFERRAL_ACCEPTED
        self.referrer_of: dict[int, int] = dict(
            zip(events.customer[accepted].tolist(), events.aux[accepted].tolist(), strict=True)
        )
        self.build: dict[int, Callable[[int, int], dict[str, Any]]] = {
            Kind.LANDING: self._landing,
            Kind.SIGNUP: self._signup,
            Kind.MENU: lambda u, _: {"type": "screen", "name": "Menu"},
            Kind.VIEWED: lambda u, a: self._track("Product Viewed", _product(a)),
            Kind.ADDED: lambda u, a: self._track("Product Added", _product(a) | {"quantity": 1}),
            Kind.ORDER: self._order,
            Kind.SECOND_LOGIN: self._second_login,
            Kind.REFERRAL_SENT: lambda u, a: self._track(
                "Referral Sent", {"referrer_member_id": self.people.member_id[u]}
            ),
            Kind.REFERRAL_ACCEPTED: lambda u, a: self._track(
                "Referral Accepted", {"referrer_member_id": self.people.member_id[a]}
            ),
        }

    @staticmethod
    def _track(event: str, properties: dict[str, Any]) -> dict[str, Any]:
        return {"type": "track", "event": event, "properties": properties}

    def _landing(self, u: int, _: int) -> dict[str, Any]:
        campaign = _campaign(self.brand, u)
        referrer = self.referrer_of.get(u)
        if referrer is not None:
            properties = {"referrer_member_id": self.people.member_id[referrer]}
            clicked = self._track("Referral Link Clicked", properties)
            return clicked | {"context": {"campaign": campaign}}
        page = "screen" if campaign["source"] in ("store", "wechat_oa", "wecom") else "page"
        return {"type": page, "name": "Landing", "context": {"campaign": campaign}}

    def _signup(self, u: int, _: int) -> dict[str, Any]:
        openid = {"type": "mp_openid", "id": self.people.mp_openid[u], "collection": MP_APPID}
        return {
            "type": "identify",
            "traits": self.people.traits[u],
            "context": {"campaign": _campaign(self.brand, u), "externalIds": [openid]},
        }

    def _second_login(self, u: int, _: int) -> dict[str, Any]:
        key = "member_id" if self.brand.customers.member[u] else "unionid"
        value = self.people.member_id[u] if key == "member_id" else self.people.unionid[u]
        return {"type": "identify", "anonymousId": self.people.anon2[u], "traits": {key: value}}

    def _order(self, u: int, number: int) -> dict[str, Any]:
        items = [int(i) for i in self.brand.basket[number] if i >= 0]
        revenue = sum(MENU[i][2] for i in items)
        store = STORES[int(self.brand.order_store[number])][0]
        message = self._track(
            "Order Completed",
            {
                "order_id": f"SCO{number + 1:09d}",
                "revenue": f"{revenue / 100:.2f}",
                "currency": "CNY",
                "products": [_product(i) | {"quantity": 1} for i in items],
                "store_id": store,
            },
        )
        if self.brand.customers.member[u]:
            member = {"type": "member_id", "id": self.people.member_id[u]}
            message["context"] = {"externalIds": [member]}
        return message

    def chunks(self, size: int = 5_000) -> Iterator[list[dict[str, Any]]]:
        """Every message in time order, ``size`` at a time."""
        events = self.brand.events
        for start in range(0, len(events.kind), size):
            stop = start + size
            stamps = np.datetime_as_string(
                (events.at[start:stop] * 1000).astype("datetime64[ms]"), unit="ms", timezone="UTC"
            )
            rows = zip(
                events.customer[start:stop].tolist(),
                events.kind[start:stop].tolist(),
                events.aux[start:stop].tolist(),
                stamps.tolist(),
                strict=True,
            )
            yield [
                self._message(start + i, u, kind, aux, stamp)
                for i, (u, kind, aux, stamp) in enumerate(rows)
            ]

    def _message(self, index: int, u: int, kind: int, aux: int, stamp: str) -> dict[str, Any]:
        message = self.build[kind](u, aux)
        message.setdefault("anonymousId", self.people.anon[u])
        message["messageId"] = f"demo:{self.brand.seed}:{index}"
        message["timestamp"] = stamp
        return message

"""A small brand for the fuzzer to hit: a few customers and one of each object the main
routes create, so generated requests that name a known id get past the 404s."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from siyu.core.clock import utcnow
from siyu.workspaces.models import WorkspaceCreated

WELCOME = {
    "name": "欢迎",
    "trigger": {"type": "event", "spec": {"event": "Signed Up"}},
    "start": "sms",
    "nodes": [
        {
            "type": "action",
            "id": "sms",
            "next": "end",
            "action": {"type": "send_message", "channel": "sms", "template": "hi"},
        },
        {"type": "exit", "id": "end"},
    ],
}


@dataclass
class World:
    """The workspace's credentials and, per path parameter name, an id that exists."""

    keys: WorkspaceCreated
    known: dict[str, str] = field(default_factory=dict)

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys.secret_key}"}


def _customers(client: TestClient, world: World) -> None:
    recent = (utcnow() - timedelta(days=2)).isoformat()
    batch: list[dict[str, Any]] = []
    for n in (1, 2, 3):
        traits = {"member_id": f"M{n}", "city": "杭州", "phone": f"1380013800{n}"}
        batch.append(
            {"type": "identify", "messageId": f"i{n}", "userId": f"u{n}", "traits": traits}
        )
        batch.append(
            {
                "type": "track",
                "messageId": f"o{n}",
                "userId": f"u{n}",
                "event": "Order Completed",
                "timestamp": recent,
                "properties": {"revenue": 100 * n, "order_id": f"O{n}"},
            }
        )
    sent = client.post("/v1/batch", json={"batch": batch}, auth=(world.keys.write_key, ""))
    assert sent.status_code == 200 and not sent.json()["rejected"], sent.text
    found = client.get(
        "/api/persons",
        params={"identifier_type": "member_id", "identifier": "M1"},
        headers=world.admin,
    )
    assert found.status_code == 200, found.text
    world.known["person_id"] = found.json()["person_id"]


def _post(client: TestClient, world: World, url: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(url, json=body, headers=world.admin)
    assert response.status_code in (200, 201), (url, response.text)
    created: dict[str, Any] = response.json()
    return created


def _objects(client: TestClient, world: World) -> None:
    now = utcnow()
    known = world.known
    pid = known["person_id"]
    _post(client, world, "/api/tags/groups", {"name": "兴趣"})
    known["tag"] = _post(client, world, "/api/tags", {"group": "兴趣", "name": "茶"})["id"]
    known["group"] = "兴趣"
    rule = {"type": "trait", "name": "city", "op": "eq", "value": "杭州"}
    known["segment_id"] = _post(
        client, world, "/api/segments", {"name": "杭州", "definition": rule}
    )["id"]
    coupon = {
        "name": "8折券",
        "kind": "percent_off",
        "percent_off": 20,
        "cap_fen": 3000,
        "valid_days": 7,
        "per_person_limit": 1,
        "stock": 50,
    }
    known["template_id"] = _post(client, world, "/api/coupons/templates", coupon)["id"]
    issued = _post(
        client, world, f"/api/coupons/templates/{known['template_id']}/issue", {"person_id": pid}
    )
    known["coupon_id"] = issued["id"]
    journey = client.post("/api/journeys", json=WELCOME, headers=world.admin)
    assert journey.status_code == 201, journey.text
    known["journey_id"] = journey.json()["id"]
    item = {"name": "帆布袋", "price_points": 80, "stock": 5}
    known["item_id"] = _post(client, world, "/api/loyalty/mall/items", item)["id"]
    code = {"name": "门店码", "kind": "kol", "channel": "c", "scene": "s1"}
    known["code_id"] = _post(client, world, "/api/live-codes", code)["id"]
    entry = {"question": "包邮吗", "answer": "满99包邮"}
    known["entry_id"] = _post(client, world, "/api/assistant/entries", entry)["id"]
    prizes = [{"name": "积分", "kind": "points", "amount": 20, "weight": 1, "stock": 3}]
    lottery = {
        "name": "抽奖",
        "kind": "lottery",
        "prizes": prizes,
        "starts_at": (now - timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(days=3)).isoformat(),
    }
    known["activity_id"] = _post(client, world, "/api/activities", lottery)["id"]
    note = _post(client, world, f"/api/persons/{pid}/notes", {"text": "VIP"})
    known["note_id"] = note["id"]
    known["workspace_id"] = world.keys.workspace_id
    known["invitee_id"] = pid


def seed(client: TestClient, keys: WorkspaceCreated) -> World:
    """Customers M1–M3 with orders, and one tag, segment, coupon template and coupon, journey,
    mall item, live code, KB entry, activity and note; their ids by path parameter name."""
    world = World(keys=keys)
    _customers(client, world)
    _objects(client, world)
    return world

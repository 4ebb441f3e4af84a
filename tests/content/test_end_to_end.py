"""A content push end to end (SQLite and PostgreSQL): an item → a journey message carrying it
with the recipient's tracked link → sent → a friend clicks the link, identifies and orders →
performance credits the click, the order and its GMV to the item, the channel and the sharer."""

from __future__ import annotations

import json
from datetime import datetime

from fastapi.testclient import TestClient

from siyu.channels import service as channels
from siyu.channels.dispatch import dispatch_due
from siyu.channels.models import Channel, Delivery, OutboundMessage
from siyu.channels.restraint import ConsentStatus
from siyu.core.clock import utcnow
from siyu.core.runtime import Runtime
from siyu.pipeline import content_visits, journey_jobs
from siyu.workspaces.models import WorkspaceCreated
from tests.api.test_identity import admin, person_of, send
from tests.content.test_api import LINK_ITEM, make


class SmsGateway:
    """The provider end of the SMS channel: it keeps what it was asked to send."""

    channel = Channel.SMS

    def __init__(self) -> None:
        self.sent: list[OutboundMessage] = []

    def send(self, message: OutboundMessage) -> Delivery:
        self.sent.append(message)
        return Delivery(provider_message_id=f"sms-{len(self.sent)}", accepted_at=utcnow())


def _journey(client: TestClient, keys: WorkspaceCreated, content_id: str) -> str:
    h = admin(keys)
    template = {
        "channel": "sms",
        "name": "content",
        "body": "{{ content_message }}",
        "sender": "山茶集",
    }
    assert client.put("/api/channels/templates", json=template, headers=h).status_code == 200
    definition = {
        "name": "双12 推送",
        "trigger": {"type": "event", "spec": {"event": "Signed Up"}},
        "start": "push",
        "nodes": [
            {
                "type": "action",
                "id": "push",
                "next": "end",
                "action": {
                    "type": "send_message",
                    "channel": "sms",
                    "template": "content",
                    "content_id": content_id,
                },
            },
            {"type": "exit", "id": "end"},
        ],
    }
    made = client.post("/api/journeys", content=json.dumps(definition), headers=h)
    assert made.status_code == 201, made.text
    jid: str = made.json()["id"]
    assert client.post(f"/api/journeys/{jid}/activate", headers=h).status_code == 200
    return jid


def _alice_signs_up(client: TestClient, keys: WorkspaceCreated, runtime: Runtime) -> str:
    send(
        client,
        keys,
        [
            {
                "type": "identify",
                "messageId": "a1",
                "userId": "alice",
                "traits": {"phone": "13800138000"},
            },
            {"type": "track", "messageId": "a2", "userId": "alice", "event": "Signed Up"},
        ],
    )
    alice: str = person_of(client, keys, "user_id", "alice")["person_id"]
    with runtime.sessions() as s, s.begin():
        channels.set_consent(
            session=s,
            workspace_id=keys.workspace_id,
            person_id=alice,
            channel=Channel.SMS,
            status=ConsentStatus.GRANTED,
            source="test",
            now=utcnow(),
        )
    return alice


def test_content_push_to_attributed_order(
    client: TestClient, keys: WorkspaceCreated, runtime: Runtime
) -> None:
    h = admin(keys)
    item = make(client, keys, LINK_ITEM)
    _journey(client, keys, item["id"])
    alice = _alice_signs_up(client, keys, runtime)
    assert journey_jobs.advance_journeys(runtime, utcnow()) == 1
    gateway = SmsGateway()
    report = dispatch_due(
        session_factory=runtime.sessions,
        transports={Channel.SMS: gateway},
        now=utcnow(),
        vault=runtime.vault,
    )
    assert report.claimed == 1
    (message,) = gateway.sent
    link = client.get(f"/api/content/items/{item['id']}/links", headers=h).json()
    assert [(k["channel"], k["sharer_id"]) for k in link] == [("sms", alice)]
    url = link[0]["url"]
    assert message.content == f"【山茶集】双12 会场开了 {url}"
    assert message.params["content_id"] == item["id"]

    # Alice forwards it; Bob opens it, then signs in and orders.
    opened = client.get("/c/" + link[0]["code"], follow_redirects=False)
    assert opened.headers["location"] == LINK_ITEM["url"]
    aid = opened.cookies[content_visits.ANONYMOUS_COOKIE]
    client.cookies.clear()
    send(
        client,
        keys,
        [
            {"type": "identify", "messageId": "b1", "anonymousId": aid, "userId": "bob"},
            {
                "type": "track",
                "messageId": "b2",
                "userId": "bob",
                "event": "Order Completed",
                "properties": {"order_id": "o1", "revenue_fen": 12_900},
            },
            {
                "type": "track",
                "messageId": "a3",
                "userId": "alice",
                "event": "Order Completed",
                "properties": {"order_id": "o2", "revenue_fen": 5_000},
            },  # alice never clicked
        ],
    )

    found = client.get("/api/content/performance", headers=h)
    assert found.status_code == 200, found.text
    (row,) = found.json()["items"]
    assert (row["reach"], row["clicks"], row["orders"], row["gmv_fen"]) == (1, 1, 1, 12_900)
    assert row["new_contacts"] == 1  # Bob was first seen through the link
    (sms,) = row["channels"]
    assert (sms["channel"], sms["reach"], sms["orders"], sms["gmv_fen"]) == ("sms", 1, 1, 12_900)
    (sharer,) = found.json()["sharers"]
    assert (sharer["sharer_id"], sharer["orders"], sharer["gmv_fen"]) == (alice, 1, 12_900)
    bob = person_of(client, keys, "user_id", "bob")["person_id"]
    assert bob != alice

    # An order a week and more after the click is nobody's; a shorter window drops it too.
    later = datetime.fromisoformat("2099-01-01T00:00:00+00:00")
    outside = client.get(
        "/api/content/performance",
        headers=h,
        params={"end": later.isoformat(), "start": "2098-12-01T00:00:00Z"},
    )
    assert outside.json()["items"][0]["orders"] == 0

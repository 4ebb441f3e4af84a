"""Journeys, messages and channels over the management API: create (JSON and YAML), versions,
status, dry run with caps, stats, messages with hold reasons, ad hoc sends with a key,
templates, policy, consent, settings with write-only secrets, unsubscribe, 4xx naming fields."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from siyu.channels import service as channels
from siyu.channels.models import Channel
from siyu.core.clock import utcnow
from siyu.core.runtime import Runtime
from siyu.pipeline import channel_settings, journey_jobs
from siyu.workspaces.models import WorkspaceCreated
from tests.api.test_coupons import members
from tests.api.test_identity import admin

WELCOME = {
    "name": "欢迎",
    "trigger": {"type": "event", "spec": {"event": "Signed Up"}},
    "start": "sms",
    "nodes": [
        {"type": "action", "id": "sms", "next": "end",
         "action": {"type": "send_message", "channel": "sms", "template": "hi"}},
        {"type": "exit", "id": "end"},
    ],
}  # fmt: skip

YAML = """
name: 欢迎 YAML
trigger: {type: event, spec: {event: Signed Up}}
start: w
nodes:
  - {type: wait, id: w, duration: PT1H, next: end}
  - {type: exit, id: end}
"""


def test_journey_lifecycle(client: TestClient, keys: WorkspaceCreated, runtime: Runtime) -> None:
    h = admin(keys)
    created = client.post("/api/journeys", content=json.dumps(WELCOME), headers=h)
    assert created.status_code == 201, created.text
    jid = created.json()["id"]
    assert created.json()["status"] == "draft"
    assert created.json()["created_at"].endswith("+08:00")
    yaml_made = client.post(
        "/api/journeys", content=YAML, headers={**h, "Content-Type": "application/yaml"}
    )
    assert yaml_made.status_code == 201, yaml_made.text
    assert {j["name"] for j in client.get("/api/journeys", headers=h).json()} == {
        "欢迎",
        "欢迎 YAML",
    }
    v2 = client.post(f"/api/journeys/{jid}/versions", content=json.dumps(WELCOME), headers=h)
    assert v2.json()["current_version"] == 2
    detail = client.get(f"/api/journeys/{jid}", headers=h).json()
    assert [v["version"] for v in detail["versions"]] == [1, 2]
    for action, status in (("activate", "active"), ("pause", "paused"), ("resume", "active")):
        assert client.post(f"/api/journeys/{jid}/{action}", headers=h).json()["status"] == status

    (person,) = members(client, keys, 1)
    client.put("/api/channels/templates", headers=h,
               json={"channel": "sms", "name": "hi", "body": "你好", "sender": "品牌"})  # fmt: skip
    client.post("/v1/track", auth=(keys.write_key, ""),
                json={"event": "Signed Up", "userId": "u0", "messageId": "s1"})  # fmt: skip
    journey_jobs.advance_journeys(runtime, utcnow())
    listed = client.get("/api/messages", params={"journey_id": jid}, headers=h).json()
    assert [(m["person_id"], m["status"], m["reason"]) for m in listed] == [
        (person, "held", "no_address")  # u0 has no phone
    ]
    stats = client.get(f"/api/journeys/{jid}/stats", headers=h).json()
    assert stats["entries"] == 1
    assert {n["node_id"]: n["sent"] for n in stats["nodes"]}["sms"] == 1

    run = client.post(f"/api/journeys/{jid}/dry-run", headers=h,
                      json={"start": "2026-01-01T00:00:00+08:00",
                            "end": "2026-01-08T00:00:00+08:00"})  # fmt: skip
    assert run.status_code == 200, run.text
    assert run.json()["held_back"] is not None

    assert client.post(f"/api/journeys/{jid}/archive", headers=h).json()["status"] == "archived"
    again = client.post(f"/api/journeys/{jid}/activate", headers=h)
    assert again.status_code == 409


def test_journey_errors_name_the_field(client: TestClient, keys: WorkspaceCreated) -> None:
    h = admin(keys)
    bad = {**WELCOME, "start": "nowhere"}
    answer = client.post("/api/journeys", content=json.dumps(bad), headers=h)
    assert (answer.status_code, answer.json()["error"]["field"]) == (400, "start")
    missing = client.get("/api/journeys/jny_nope", headers=h)
    assert missing.status_code == 404
    empty = client.post("/api/journeys", content="", headers=h)
    assert (empty.status_code, empty.json()["error"]["field"]) == (400, "body")
    jid = client.post("/api/journeys", content=json.dumps(WELCOME), headers=h).json()["id"]
    span = {"start": "2026-01-01T00:00:00", "end": "2026-01-02T00:00:00"}
    naive = client.post(f"/api/journeys/{jid}/dry-run", headers=h, json=span)
    assert (naive.status_code, naive.json()["error"]["field"]) == (400, "start")


def test_messages_consent_settings(client: TestClient, keys: WorkspaceCreated) -> None:
    h = admin(keys)
    (person,) = members(client, keys, 1)
    otp = {"channel": "sms", "name": "otp", "body": "码 {{ code }}", "sender": "品牌"}
    client.put("/api/channels/templates", headers=h, json=otp)
    body = {"person_id": person, "channel": "sms", "template": "otp", "params": {"code": "1"}}
    no_key = client.post("/api/messages", json=body, headers=h)
    assert no_key.status_code == 422
    first = client.post("/api/messages", json=body, headers={**h, "Idempotency-Key": "k1"})
    assert first.status_code == 201, first.text
    again = client.post("/api/messages", json=body, headers={**h, "Idempotency-Key": "k1"})
    assert again.json()["message_id"] == first.json()["message_id"]
    assert again.json()["duplicate"] is True

    granted = client.put(f"/api/channels/consent/{person}", headers=h,
                         json={"channel": "sms", "status": "revoked"})  # fmt: skip
    assert granted.status_code == 200, granted.text
    consents = client.get(f"/api/channels/consent/{person}", headers=h).json()
    assert consents["consents"][0]["status"] == "revoked"

    policy = client.get("/api/channels/policy", headers=h).json()
    policy["quiet_hours"] = False
    assert client.put("/api/channels/policy", json=policy, headers=h).json()["quiet_hours"] is False

    no_secret = client.put("/api/channels/settings", headers=h,
                           json={"channel": "webhook"})  # fmt: skip
    assert (no_secret.status_code, no_secret.json()["error"]["field"]) == (400, "secret")
    put = client.put("/api/channels/settings", headers=h,
                     json={"channel": "sms", "provider": "aliyun", "access_key_id": "AK",
                           "secret": "very-secret", "sign_name": "品牌"})  # fmt: skip
    assert put.status_code == 200, put.text
    assert "very-secret" not in put.text
    assert put.json()["secret_set"] is True
    listed = client.get("/api/channels/settings", headers=h)
    assert "very-secret" not in listed.text
    assert client.get("/unsubscribe", params={"token": "bad"}).status_code in (401, 403)


def test_unsubscribe_link_and_sms_reply(
    client: TestClient, keys: WorkspaceCreated, runtime: Runtime
) -> None:
    h = admin(keys)
    (person,) = members(client, keys, 1)
    phone = {"userId": "u0", "messageId": "ph", "traits": {"phone": "13800138000"}}
    client.post("/v1/identify", auth=(keys.write_key, ""), json=phone)
    for channel in ("email", "sms"):
        client.put(f"/api/channels/consent/{person}", headers=h,
                   json={"channel": channel, "status": "granted"})  # fmt: skip
    token = channels.unsubscribe_token(
        secret=channel_settings.unsubscribe_secret(runtime.vault),
        workspace_id=keys.workspace_id, person_id=person, channel=Channel.EMAIL,
    )  # fmt: skip
    page = client.post("/unsubscribe", params={"token": token})
    assert page.status_code == 200 and "退订" in page.text
    reply = client.post("/api/channels/sms/inbound", headers=h,
                        data={"phone": "13800138000", "text": "TD"})  # fmt: skip
    assert reply.status_code == 200, reply.text
    assert reply.json()["unsubscribed"] is True
    current = client.get(f"/api/channels/consent/{person}", headers=h).json()["consents"]
    assert {c["channel"]: c["status"] for c in current} == {"email": "revoked", "sms": "revoked"}

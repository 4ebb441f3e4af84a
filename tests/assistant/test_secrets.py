# ruff: noqa: F811  (the API fixtures are imported, then requested by name)
"""Robot webhook URLs are stored sealed with the workspace vault and read masked; the masked
URL sent back keeps the stored one, and the callback still speaks through it (SQLite and
PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from siyu.assistant import secrets
from siyu.assistant.tables import assistant_groups, assistant_settings
from siyu.core.crypto import Vault
from siyu.core.runtime import Runtime
from siyu.workspaces.models import WorkspaceCreated
from tests.api.conftest import client, keys, runtime  # noqa: F401  (fixtures)
from tests.api.test_identity import admin
from tests.assistant.fake_robot import KEY, RobotState, serve_fake_robot
from tests.assistant.test_api import CHAT, _members, _post, _seed


@pytest.fixture
def robot() -> Iterator[tuple[str, RobotState]]:
    with serve_fake_robot() as served:
        yield served


def test_webhooks_are_sealed_masked_and_kept_when_sent_back(
    client: TestClient, keys: WorkspaceCreated, runtime: Runtime, robot: tuple[str, RobotState]
) -> None:
    webhook, state = robot  # …/cgi-bin/webhook/send?key=robot-key-1
    base = webhook.split("/cgi-bin")[0]
    _seed(client, keys, webhook)
    h, ws = admin(keys), keys.workspace_id
    [group] = client.get("/api/assistant/groups", headers=h).json()
    shown = group["robot_webhook_url"]
    assert shown.endswith("?key=…ey-1") and KEY not in shown
    settings = client.get("/api/assistant/settings", headers=h).json()
    default = f"{base}/cgi-bin/webhook/send?key=default-key-0000-1111"
    put = client.put("/api/assistant/settings", json={**settings, "robot_webhook_url": default},
                     headers=h)  # fmt: skip
    assert put.status_code == 200 and "default-key" not in put.text
    with runtime.sessions() as s:
        stored = [
            s.execute(select(assistant_groups.c.robot_webhook_url)).scalar_one(),
            s.execute(select(assistant_settings.c.robot_webhook_url)).scalar_one(),
        ]
    assert all(v.startswith("v1:") and KEY not in v for v in stored)
    assert runtime.vault.decrypt(stored[0]) == webhook
    # The masked URL sent back (a form round trip) keeps the stored webhook.
    again = client.put(f"/api/assistant/groups/{CHAT}", json={**group, "muted": False}, headers=h)
    assert again.status_code == 200 and again.json()["robot_webhook_url"] == shown
    assert _post(client, ws, _members("add_member", "wmNEW9")).status_code == 200
    [(key, body)] = state.received
    assert key == KEY and "上海1群" in body["text"]["content"]


def test_a_plain_url_from_before_sealing_is_still_read_and_masked() -> None:
    vault = Vault(b"v" * 32)
    plain = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abcdef-1234"
    assert secrets.reveal(vault, plain) == plain
    assert secrets.masked_stored(vault, plain) == (
        "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…1234"
    )
    sealed = secrets.seal(vault, plain, None, "robot_webhook_url")
    assert sealed is not None and secrets.reveal(vault, sealed) == plain
    masked = secrets.mask(plain)
    assert secrets.seal(vault, masked, sealed, "robot_webhook_url") == sealed

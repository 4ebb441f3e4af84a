"""Delivery settings per workspace: secrets encrypted and write-only, the dispatcher's transports
limited to configured channels, a workspace without settings refused, a change rebuilt."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from siyu.channels.models import Channel, OutboundMessage, SendError
from siyu.core.config import Settings
from siyu.core.errors import InvalidInputError, NotFoundError
from siyu.core.runtime import Runtime, open_runtime
from siyu.pipeline import channel_settings as settings
from siyu.pipeline.channel_tables import channel_settings
from siyu.workspaces import service as workspaces

NOW = datetime.fromisoformat("2026-11-28T02:30:00+00:00")


@pytest.fixture
def runtime(db_engine: Engine, tmp_path: Path) -> Iterator[Runtime]:
    url = db_engine.url.render_as_string(hide_password=False)
    rt = open_runtime(Settings(data_dir=tmp_path, database_url=url), run_migrations=False)
    yield rt
    rt.close()


def _message(ws: str) -> OutboundMessage:
    return OutboundMessage(id="m1", workspace_id=ws, person_id="p1", channel=Channel.WEBHOOK,
                           recipient="http://127.0.0.1:9/x", template="t", params={},
                           idempotency_key="k1")  # fmt: skip


def test_settings_secrets_and_transports(runtime: Runtime) -> None:
    with runtime.sessions() as s, s.begin():
        ws = workspaces.create_workspace(session=s, name="a", now=NOW).workspace_id
        other = workspaces.create_workspace(session=s, name="b", now=NOW).workspace_id
    transports = settings.Transports(sessions=runtime.sessions, vault=runtime.vault)
    assert transports.configured() == {}

    with runtime.sessions() as s, s.begin():
        with pytest.raises(InvalidInputError) as missing:
            settings.put_settings(session=s, vault=runtime.vault, workspace_id=ws, now=NOW,
                                  settings=settings.WebhookSettings())  # fmt: skip
        assert missing.value.field == "secret"
        view = settings.put_settings(
            session=s, vault=runtime.vault, workspace_id=ws, now=NOW,
            settings=settings.WebhookSettings(secret="a-long-enough-secret"),
        )  # fmt: skip
    assert view.secret_set and "secret" not in view.config
    with runtime.sessions() as s:
        stored = s.execute(select(channel_settings.c.secret_enc)).scalar_one()
    assert "a-long-enough-secret" not in stored
    assert runtime.vault.decrypt(stored) == "a-long-enough-secret"
    assert set(transports.configured()) == {Channel.WEBHOOK}

    webhook = transports.configured()[Channel.WEBHOOK]
    assert isinstance(webhook, settings.SettingsTransport)
    with pytest.raises(SendError, match="not configured"):
        webhook.send(_message(other))
    first = webhook._for(ws)
    assert webhook._for(ws) is first  # kept while the settings stand
    with runtime.sessions() as s, s.begin():
        settings.put_settings(  # no secret: the stored one stays
            session=s, vault=runtime.vault, workspace_id=ws, now=NOW + timedelta(minutes=1),
            settings=settings.WebhookSettings(),
        )  # fmt: skip
        assert settings.get_settings(session=s, workspace_id=ws, channel="webhook").secret_set
    assert webhook._for(ws) is not first  # rebuilt after the change
    with runtime.sessions() as s, pytest.raises(NotFoundError):
        settings.get_settings(session=s, workspace_id=other, channel="sms")
    with runtime.sessions() as s, pytest.raises(InvalidInputError):
        settings.get_settings(session=s, workspace_id=ws, channel="wecom")

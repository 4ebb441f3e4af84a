"""Community fixtures: a runtime over the ``db`` store (SQLite and PostgreSQL), the fake
WeCom server, and a workspace whose WeCom account points at it, with customers known to
identity by their external_userid."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from siyu import pipeline
from siyu.channels import wechat_accounts
from siyu.channels.wechat_accounts import AccountKind, WechatAccountSet
from siyu.core.config import Settings
from siyu.core.runtime import Runtime, open_runtime
from siyu.workspaces import service as workspaces
from tests.channels.fake_wechat import FakeState, serve_fake_wechat

NOW = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)
AES = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"


@dataclass
class Brand:
    runtime: Runtime
    workspace_id: str
    wecom: FakeState
    secret_key: str


@pytest.fixture
def runtime(db_engine: Engine, tmp_path: Path) -> Iterator[Runtime]:
    """A runtime over the ``db`` store (schema from the tables) and a fresh event store."""
    url = db_engine.url.render_as_string(hide_password=False)
    rt = open_runtime(Settings(data_dir=tmp_path, database_url=url), run_migrations=False)
    yield rt
    rt.close()


def identify(rt: Runtime, ws: str, external_userid: str, at: datetime) -> str:
    """A customer known by their WeCom external_userid; their person id."""
    pipeline.ingest(
        runtime=rt,
        workspace_id=ws,
        messages=[
            {
                "type": "identify",
                "messageId": f"id-{external_userid}",
                "userId": f"u-{external_userid}",
                "timestamp": at.isoformat(),
                "context": {
                    "externalIds": [{"type": "wecom_external_userid", "id": external_userid}]
                },
            }
        ],
        received_at=at,
    )
    found = pipeline.find_person(
        runtime=rt,
        workspace_id=ws,
        identifier_type="wecom_external_userid",
        identifier=external_userid,
    )
    assert found is not None
    return found.person_id


def order(rt: Runtime, ws: str, external_userid: str, at: datetime, fen: int, n: str) -> None:
    """An order of the customer."""
    pipeline.ingest(
        runtime=rt,
        workspace_id=ws,
        messages=[
            {
                "type": "track",
                "event": "Order Completed",
                "messageId": f"order-{n}",
                "userId": f"u-{external_userid}",
                "timestamp": at.isoformat(),
                "properties": {"order_id": n, "revenue": f"{fen / 100:.2f}"},
            }
        ],
        received_at=at,
    )


@pytest.fixture
def brand(runtime: Runtime) -> Iterator[Brand]:
    """A workspace with a WeCom account on the fake server; three groups in WeCom."""
    with serve_fake_wechat() as (url, state):
        with runtime.sessions() as s, s.begin():
            made = workspaces.create_workspace(session=s, name="品牌", now=NOW - timedelta(days=60))
            ws = made.workspace_id
            wechat_accounts.set_account(
                session=s,
                vault=runtime.vault,
                workspace_id=ws,
                kind=AccountKind.WECOM,
                account=WechatAccountSet(
                    app_id=state.corp_id,
                    token="tok123",
                    encoding_aes_key=AES,
                    secret=state.secret,
                    api_base_url=url,
                ),
                now=NOW,
            )
        stamp = int((NOW - timedelta(days=30)).timestamp())
        state.add_group("wrG1", "宝妈1群", "zhangsan", ["wmA", "wmB", "wmC"], stamp)
        state.add_group("wrG2", "宝妈2群", "zhangsan", ["wmD"], stamp)
        state.add_group("wrG3", "会员群", "lisi", ["wmA", "wmE"], stamp)
        yield Brand(runtime, ws, state, made.secret_key)

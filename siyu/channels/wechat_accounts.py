"""Per-workspace WeChat accounts: the WeCom corp, official account and mini program, with
their callback token, EncodingAESKey and API secret stored encrypted with the vault."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from siyu.channels.mp import MP_BASE_URL, MpClient
from siyu.channels.wechat_crypto import CallbackCrypto, decode_aes_key
from siyu.channels.wechat_tables import wechat_accounts
from siyu.channels.wecom import WECOM_BASE_URL, WecomClient
from siyu.core.clock import utcnow
from siyu.core.crypto import Vault
from siyu.core.errors import InvalidInputError, NotFoundError

_TOKEN = re.compile(r"^[A-Za-z0-9]{3,32}$")


class AccountKind(StrEnum):
    """Which WeChat account of a workspace."""

    WECOM = "wecom"
    MP = "mp"
    MINIPROGRAM = "miniprogram"


class WechatAccountSet(BaseModel):
    """Credentials of one account as the admin enters them (secrets never come back out)."""

    app_id: str = Field(min_length=1, max_length=64, description="corpid or appid.")
    token: str = Field(description="Callback Token: 3-32 letters or digits.")
    encoding_aes_key: str = Field(description="Callback EncodingAESKey: 43 characters.")
    secret: str = Field(min_length=1, max_length=200, description="API secret.")
    original_id: str | None = Field(default=None, max_length=64, description="gh_… (MP).")
    api_base_url: str | None = Field(
        default=None,
        max_length=300,
        pattern=r"^https?://",
        description="The API host when not the official one (an egress proxy); none = official.",
    )

    @field_validator("token")
    @classmethod
    def _token(cls, value: str) -> str:
        if not _TOKEN.match(value):
            raise ValueError("token must be 3-32 letters or digits")
        return value

    @field_validator("encoding_aes_key")
    @classmethod
    def _aes_key(cls, value: str) -> str:
        try:
            decode_aes_key(value)
        except InvalidInputError as exc:
            raise ValueError(exc.message) from None
        return value


class WechatAccount(BaseModel):
    """A configured account, without its secrets."""

    kind: AccountKind
    app_id: str
    original_id: str | None = None
    api_base_url: str | None = None
    updated_at: datetime


def _row(session: Session, workspace_id: str, kind: AccountKind) -> Any:
    a = wechat_accounts.c
    row = session.execute(
        select(wechat_accounts).where(a.workspace_id == workspace_id, a.kind == kind.value)
    ).first()
    if row is None:
        raise NotFoundError(f"no {kind.value} account is configured", field="kind")
    return row


def set_account(
    *,
    session: Session,
    vault: Vault,
    workspace_id: str,
    kind: AccountKind,
    account: WechatAccountSet,
    now: datetime,
) -> WechatAccount:
    """Store (or replace) the workspace's account of ``kind``, secrets encrypted."""
    values = {
        "app_id": account.app_id,
        "original_id": account.original_id,
        "token_enc": vault.encrypt(account.token),
        "aes_key_enc": vault.encrypt(account.encoding_aes_key),
        "secret_enc": vault.encrypt(account.secret),
        "api_base_url": account.api_base_url,
        "updated_at": now,
    }
    a = wechat_accounts.c
    done = session.execute(
        update(wechat_accounts)
        .where(a.workspace_id == workspace_id, a.kind == kind.value)
        .values(**values)
    )
    if not done.rowcount:  # type: ignore[attr-defined]
        session.execute(
            insert(wechat_accounts).values(workspace_id=workspace_id, kind=kind.value, **values)
        )
    return get_account(session=session, workspace_id=workspace_id, kind=kind)


def get_account(*, session: Session, workspace_id: str, kind: AccountKind) -> WechatAccount:
    """The account of ``kind``. Raises NotFoundError."""
    row = _row(session, workspace_id, kind)
    return WechatAccount(
        kind=kind,
        app_id=row.app_id,
        original_id=row.original_id,
        api_base_url=row.api_base_url,
        updated_at=row.updated_at,
    )


def callback_crypto(
    *, session: Session, vault: Vault, workspace_id: str, kind: AccountKind
) -> CallbackCrypto:
    """The callback crypto of the account (its token, key and receive id)."""
    row = _row(session, workspace_id, kind)
    return CallbackCrypto(
        token=vault.decrypt(row.token_enc),
        encoding_aes_key=vault.decrypt(row.aes_key_enc),
        receive_id=row.app_id,
    )


def wecom_client(
    *,
    session: Session,
    vault: Vault,
    workspace_id: str,
    base_url: str = WECOM_BASE_URL,
    clock: Callable[[], datetime] = utcnow,
) -> WecomClient:
    """A WeCom client with the workspace's corp id and secret (and API host, if set)."""
    row = _row(session, workspace_id, AccountKind.WECOM)
    return WecomClient(
        corp_id=row.app_id,
        secret=vault.decrypt(row.secret_enc),
        base_url=row.api_base_url or base_url,
        clock=clock,
    )


def mp_client(
    *,
    session: Session,
    vault: Vault,
    workspace_id: str,
    kind: AccountKind = AccountKind.MP,
    base_url: str = MP_BASE_URL,
    clock: Callable[[], datetime] = utcnow,
) -> MpClient:
    """An official-account (or mini program) client with the workspace's appid and secret."""
    row = _row(session, workspace_id, kind)
    return MpClient(
        app_id=row.app_id,
        secret=vault.decrypt(row.secret_enc),
        base_url=row.api_base_url or base_url,
        clock=clock,
    )

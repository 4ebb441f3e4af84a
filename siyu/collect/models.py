"""Types of the collect domain: Segment-spec messages in, collected events out."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class IdType(StrEnum):
    """Identifier types siyu resolves. WeChat-family ids are first class."""

    USER_ID = "user_id"  # Segment userId: the brand's own account id
    MEMBER_ID = "member_id"  # loyalty member number (会员号)
    PHONE = "phone"  # mobile number, normalised to digits (+86 dropped)
    EMAIL = "email"
    UNIONID = "unionid"  # WeChat Open Platform unionid
    WECHAT_OPENID = "wechat_openid"  # official-account openid; value is "appid:openid"
    MP_OPENID = "mp_openid"  # mini-program openid; value is "appid:openid"
    WECOM_EXTERNAL_USERID = "wecom_external_userid"  # WeCom 外部联系人 external_userid
    DOUYIN_OPENID = "douyin_openid"
    TAOBAO_BUYER_ID = "taobao_buyer_id"  # Taobao/Tmall buyer nick or ouid
    JD_BUYER_ID = "jd_buyer_id"
    DEVICE_ID = "device_id"
    ANONYMOUS_ID = "anonymous_id"  # Segment anonymousId (cookie / install id)


# Direct identifiers stored only as keyed hash + AES-GCM ciphertext (never in clear).
PII_TYPES: frozenset[IdType] = frozenset({IdType.PHONE, IdType.EMAIL})


class Identifier(BaseModel):
    """One normalised identifier as it travels through siyu.

    ``key`` is what is stored and compared: the normalised value, or for PII types its keyed
    hash. ``masked`` and ``encrypted`` are set only for PII types.
    """

    model_config = ConfigDict(frozen=True)

    type: IdType
    key: str = Field(description="Normalised value, or keyed hash for phone/email.")
    masked: str | None = Field(default=None, description="Display form, e.g. 138****5678.")
    encrypted: str | None = Field(default=None, description="AES-GCM ciphertext of the value.")


class MessageType(StrEnum):
    """The Segment spec's call types."""

    TRACK = "track"
    IDENTIFY = "identify"
    PAGE = "page"
    SCREEN = "screen"
    ALIAS = "alias"
    GROUP = "group"


class CollectedEvent(BaseModel):
    """A validated message, with identifiers normalised and the time corrected for skew."""

    message_id: str
    type: MessageType
    event: str | None = Field(default=None, description="track event or page/screen name.")
    anonymous_id: str | None = None
    user_id: str | None = None
    group_id: str | None = None
    identifiers: list[Identifier] = Field(description="Every id seen in the message, deduped.")
    traits: dict[str, Any] = Field(default_factory=dict)
    properties: dict[str, Any] = Field(default_factory=dict)
    context: dict[str, Any] = Field(default_factory=dict)
    timestamp: datetime = Field(description="When it happened (UTC), corrected for clock skew.")
    received_at: datetime = Field(description="When siyu received it (UTC).")
    sent_at: datetime | None = None
    channel: str | None = Field(default=None, description="utm_source / context channel.")
    campaign: str | None = Field(default=None, description="utm_campaign.")
    revenue_fen: int | None = Field(default=None, description="Order amount in fen, if any.")


class Rejection(BaseModel):
    """Why one message of a batch was not accepted."""

    index: int = Field(description="Position of the message in the batch (0-based).")
    message_id: str | None = None
    field: str = Field(description="Dotted path of the offending field, e.g. batch[3].userId.")
    reason: str


class IngestResult(BaseModel):
    """What happened to a batch: every message is accepted, a duplicate, or rejected."""

    accepted: int = Field(description="New messages durably committed.")
    duplicates: int = Field(description="Messages whose messageId was already accepted.")
    rejected: list[Rejection] = Field(default_factory=list, description="Bad messages, why.")

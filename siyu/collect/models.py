"""Types of the collect domain: Segment-spec messages in, collected events out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


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


@dataclass(frozen=True, slots=True)
class Identifier:
    """One normalised identifier as it travels through siyu.

    ``key`` is what is stored and compared: the normalised value, or for PII types its keyed
    hash. ``masked`` and ``encrypted`` are set only for PII types and take no part in
    equality (the ciphertext differs on every encryption). A slotted dataclass rather than a
    pydantic model: the ingest path builds several per event and never needs validation here.
    """

    type: IdType
    key: str
    masked: str | None = field(default=None, compare=False)
    encrypted: str | None = field(default=None, compare=False)


class MessageType(StrEnum):
    """The Segment spec's call types."""

    TRACK = "track"
    IDENTIFY = "identify"
    PAGE = "page"
    SCREEN = "screen"
    ALIAS = "alias"
    GROUP = "group"


@dataclass(slots=True)
class CollectedEvent:
    """A validated message, with identifiers normalised and the time corrected for skew.

    Built once per event on the ingest hot path by :func:`siyu.collect.normalize.parse_message`
    (already validated there), hence a slotted dataclass.
    """

    message_id: str
    type: MessageType
    timestamp: datetime  # when it happened (UTC), corrected for clock skew
    received_at: datetime  # when siyu received it (UTC)
    identifiers: list[Identifier] = field(default_factory=list)  # every id seen, deduped
    event: str | None = None  # track event name, or page/screen name
    anonymous_id: str | None = None
    user_id: str | None = None
    group_id: str | None = None
    traits: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    sent_at: datetime | None = None
    channel: str | None = None  # utm_source / context.campaign.source
    campaign: str | None = None  # utm_campaign / context.campaign.name
    revenue_fen: int | None = None  # order amount in fen, if any


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

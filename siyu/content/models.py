"""Types that cross the content domain's boundary: items, channel variants, tracked links.

A content item (素材) is one piece an operator reuses: an article, a poster, an image, a
mini-program card, a link or a text snippet. Each channel needs its own shape of it — a
WeCom 1:1 text, an SMS that fits its length, a mini-program card with its appid and page —
so an item carries one *variant* per channel, validated field by field.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

SMS_MAX_CHARS = 500
"""Longest SMS text siyu sends (a long SMS of up to 7 segments; providers cap near 500)."""
LINK_CHARS = 40
"""Characters reserved in an SMS for the tracked link (``https://host/c/<code>``)."""
WECOM_TEXT_MAX = 2000
"""WeCom text messages carry at most 2,048 bytes; 2,000 characters keeps a margin for CJK."""


class ContentKind(StrEnum):
    """What a piece of content is."""

    ARTICLE = "article"
    POSTER = "poster"
    IMAGE = "image"
    MINIPROGRAM_CARD = "miniprogram_card"
    LINK = "link"
    TEXT = "text"


class ContentStatus(StrEnum):
    """Only published items go out in journeys and quick replies."""

    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class _Variant(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WecomVariant(_Variant):
    """A WeCom 1:1 message from the customer's staff member (text, then the link)."""

    channel: Literal["wecom"] = "wecom"
    text: str = Field(min_length=1, max_length=WECOM_TEXT_MAX)
    image_path: str | None = Field(default=None, max_length=1000, description="Image to attach.")


class WecomGroupVariant(_Variant):
    """A post to customer groups through their owners."""

    channel: Literal["wecom_group"] = "wecom_group"
    text: str = Field(min_length=1, max_length=WECOM_TEXT_MAX)
    image_path: str | None = Field(default=None, max_length=1000)


class OfficialAccountVariant(_Variant):
    """An official-account message: a title and digest the template shows, and a text."""

    channel: Literal["mp_template"] = "mp_template"
    title: str = Field(min_length=1, max_length=64)
    digest: str = Field(default="", max_length=120, description="The summary line (摘要).")
    text: str = Field(default="", max_length=WECOM_TEXT_MAX)


_APPID = re.compile(r"^wx[0-9a-f]{16}$")


class MiniProgramVariant(_Variant):
    """A mini-program card: which mini program (appid), which page, its title and cover."""

    channel: Literal["miniprogram"] = "miniprogram"
    appid: str = Field(description="The mini program's appid (wx + 16 hex).")
    page: str = Field(min_length=1, max_length=500, description="Page path, e.g. pages/item?id=1.")
    title: str = Field(min_length=1, max_length=64)
    thumb_path: str | None = Field(default=None, max_length=1000, description="Cover image.")

    @field_validator("appid")
    @classmethod
    def _appid(cls, value: str) -> str:
        if not _APPID.match(value):
            raise ValueError("a mini-program appid is wx followed by 16 hex digits")
        return value

    @field_validator("page")
    @classmethod
    def _page(cls, value: str) -> str:
        if value.startswith(("http://", "https://")) or " " in value:
            raise ValueError("a page is a path inside the mini program, e.g. pages/item?id=1")
        return value.lstrip("/")


class SmsVariant(_Variant):
    """An SMS: text that, with the tracked link appended, fits one long SMS."""

    channel: Literal["sms"] = "sms"
    text: str = Field(min_length=1)

    @field_validator("text")
    @classmethod
    def _fits(cls, value: str) -> str:
        room = SMS_MAX_CHARS - LINK_CHARS
        if len(value) > room:
            raise ValueError(
                f"SMS text is {len(value)} characters; with its link it must fit "
                f"{SMS_MAX_CHARS}, so at most {room}"
            )
        return value


class EmailVariant(_Variant):
    """An email: a subject and a plain-text body (the link is appended)."""

    channel: Literal["email"] = "email"
    subject: str = Field(min_length=1, max_length=200)
    text: str = Field(min_length=1, max_length=100_000)


Variant = Annotated[
    WecomVariant
    | WecomGroupVariant
    | OfficialAccountVariant
    | MiniProgramVariant
    | SmsVariant
    | EmailVariant,
    Field(discriminator="channel"),
]
VARIANT_CHANNELS = ("wecom", "wecom_group", "mp_template", "miniprogram", "sms", "email")


class ContentCreate(BaseModel):
    """A new content item."""

    model_config = ConfigDict(extra="forbid")

    kind: ContentKind
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(default="", max_length=100_000, description="Article or snippet text.")
    url: str | None = Field(
        default=None, max_length=2000, description="Where a click goes (http/https)."
    )
    media_path: str | None = Field(
        default=None, max_length=1000, description="Poster or image file, or its URL."
    )
    tags: list[str] = Field(default_factory=list, max_length=30)
    status: ContentStatus = ContentStatus.DRAFT
    variants: list[Variant] = Field(default_factory=list, max_length=len(VARIANT_CHANNELS))


class ContentUpdate(BaseModel):
    """Changes to an item; fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, min_length=1, max_length=200)
    body: str | None = Field(default=None, max_length=100_000)
    url: str | None = Field(default=None, max_length=2000)
    media_path: str | None = Field(default=None, max_length=1000)
    tags: list[str] | None = Field(default=None, max_length=30)
    status: ContentStatus | None = None
    variants: list[Variant] | None = Field(default=None, max_length=len(VARIANT_CHANNELS))


class Content(BaseModel):
    """A content item as stored, with its version and who changed it last."""

    id: str
    kind: ContentKind
    title: str
    body: str
    url: str | None
    media_path: str | None
    tags: list[str]
    status: ContentStatus
    variants: list[Variant]
    version: int = Field(description="1 when created; each edit adds one.")
    created_at: datetime
    updated_at: datetime
    updated_by: str = Field(description="Who made the last change (user, key or 'cli').")

    def variant(self, channel: str) -> Variant | None:
        """The item's variant for ``channel``, if it has one."""
        return next((v for v in self.variants if v.channel == channel), None)


class ContentVersion(BaseModel):
    """One saved version of an item (what it was after that edit)."""

    version: int
    at: datetime
    by: str
    snapshot: dict[str, object]


class LinkCreate(BaseModel):
    """Ask for a sharer's tracked link of an item on a channel."""

    model_config = ConfigDict(extra="forbid")

    channel: str = Field(
        default="share",
        min_length=1,
        max_length=20,
        pattern=r"^[a-z0-9_]+$",
        description="Where the link is shared: a channel (wecom, sms…) or 'share', 'poster'.",
    )
    sharer_id: str | None = Field(
        default=None, max_length=40, description="The person sharing it (none: the brand)."
    )
    parent_code: str | None = Field(
        default=None, max_length=20, description="The link through which the sharer got it."
    )


class ContentLink(BaseModel):
    """A tracked link: one item, one channel, one sharer, and where it sits in the chain."""

    code: str
    content_id: str
    channel: str
    sharer_id: str | None
    parent_code: str | None
    depth: int = Field(description="0 for the brand's or a first sharer's link; +1 per re-share.")
    created_at: datetime
    url: str = Field(description="The public tracked URL (GET redirects and records a click).")


class QuickReply(BaseModel):
    """A published item in the shape a staff member pastes into a chat."""

    content_id: str
    kind: ContentKind
    title: str
    text: str
    url: str | None
    media_path: str | None
    tags: list[str]

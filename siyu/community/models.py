"""Shapes of the community domain: groups, members, group live codes, SOPs, moderation,
tasks and health."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field, model_validator

DEFAULT_CAP = 200  # WeCom lets at most 200 people join a customer group by QR code


class GroupStatus(StrEnum):
    """Where a customer group is: live in WeCom, dismissed, or made by a live code and not
    yet seen in WeCom."""

    ACTIVE = "active"
    DISMISSED = "dismissed"
    PENDING = "pending"


class WecomGroupMember(BaseModel):
    """One member of a group as WeCom lists it (groupchat/get)."""

    userid: str
    type: int = Field(description="1 staff, 2 external contact.")
    join_time: datetime | None = None
    join_scene: int | None = None
    name: str | None = None


class WecomGroup(BaseModel):
    """A customer group as WeCom describes it."""

    chat_id: str
    name: str = ""
    owner: str | None = None
    notice: str | None = None
    created_at: datetime | None = None
    members: list[WecomGroupMember] = Field(default_factory=list)


class Group(BaseModel):
    """A customer group in siyu."""

    chat_id: str
    name: str
    owner_userid: str | None
    status: GroupStatus
    cap: int
    seats: int = Field(description="Members plus seats handed out by a group live code.")
    members: int
    tags: list[str]
    live_code_id: str | None = None
    created_at: datetime | None = None
    last_message_at: datetime | None = None
    last_join_at: datetime | None = None


class Member(BaseModel):
    """A member of a group (current or gone)."""

    member_id: str
    staff: bool
    person_id: str | None
    name: str | None = None
    joined_at: datetime | None
    left_at: datetime | None


class GroupDetail(Group):
    """A group with its members."""

    member_list: list[Member]


class SyncReport(BaseModel):
    """What a sync from WeCom changed."""

    groups: int
    new_groups: int
    dismissed: int
    joins: int
    leaves: int
    linked_persons: int


class GroupTagsSet(BaseModel):
    """Operator tags on a group (replaces them)."""

    tags: list[str] = Field(max_length=20, description="Tags, each 1–60 characters.")


# -- group live codes --------------------------------------------------------------------------


class GroupLiveCodeCreate(BaseModel):
    """A group live code (群活码) over ``chat_ids``; when all are full, a new group named
    ``room_base_name`` + number is made (owned by ``owner_userid``)."""

    name: str = Field(min_length=1, max_length=200)
    state: str = Field(
        min_length=1, max_length=30, pattern=r"^[A-Za-z0-9_\-]+$", description="Join-way state."
    )
    chat_ids: list[str] = Field(min_length=1, max_length=50)
    owner_userid: str = Field(min_length=1, max_length=80)
    cap: int = Field(default=DEFAULT_CAP, ge=1, le=DEFAULT_CAP)
    room_base_name: str = Field(min_length=1, max_length=60)
    room_base_id: int = Field(default=1, ge=1)


class GroupLiveCode(BaseModel):
    """A group live code and the group it points at now."""

    id: str
    name: str
    state: str
    config_id: str | None
    qr_code: str | None
    cap: int
    chat_ids: list[str]
    current_chat_id: str | None
    owner_userid: str
    room_base_name: str
    room_base_id: int
    wecom_chat_id: str | None = Field(description="The group WeCom's join way points at.")
    created_at: datetime


class GroupScanCreate(BaseModel):
    """A customer scanned a group live code."""

    identifier_type: str = Field(default="wecom_external_userid", max_length=40)
    identifier: str = Field(min_length=1, max_length=200)


class GroupScan(BaseModel):
    """Where a scan was seated (or why not)."""

    id: str
    code_id: str
    person_id: str
    chat_id: str | None
    outcome: Literal["seated", "blocked"]
    at: datetime
    new_group: bool = False


class LiveCodeStats(BaseModel):
    """Scans of a group live code, per group."""

    code_id: str
    scans: int
    blocked: int
    by_group: dict[str, int]


# -- SOP -------------------------------------------------------------------------------------


class Schedule(BaseModel):
    """When an SOP runs: once ``at``, or every day / week at ``time`` (local HH:MM)."""

    every: Literal["once", "day", "week"] = "once"
    at: datetime | None = Field(default=None, description="For once: when (aware).")
    time: str | None = Field(default=None, pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    weekday: int | None = Field(default=None, ge=0, le=6, description="0 Monday (weekly).")

    @model_validator(mode="after")
    def _complete(self) -> Schedule:
        if self.every == "once" and (self.at is None or self.at.tzinfo is None):
            raise ValueError("a once schedule needs an aware 'at'")
        if self.every != "once" and self.time is None:
            raise ValueError("a repeating schedule needs 'time' (HH:MM)")
        if self.every == "week" and self.weekday is None:
            raise ValueError("a weekly schedule needs 'weekday'")
        return self


class SopCreate(BaseModel):
    """A group SOP: a post (WeCom group mass send the owner confirms) or a reminder to the
    owner, for some groups or every group with a tag."""

    name: str = Field(min_length=1, max_length=200)
    kind: Literal["post", "reminder"] = "post"
    text: str = Field(min_length=1, max_length=4000)
    chat_ids: list[str] = Field(default_factory=list, max_length=500)
    tag: str | None = Field(default=None, max_length=60)
    schedule: Schedule

    @model_validator(mode="after")
    def _target(self) -> SopCreate:
        if not self.chat_ids and not self.tag:
            raise ValueError("an SOP needs chat_ids or a tag")
        return self


class Sop(SopCreate):
    """A stored SOP."""

    id: str
    active: bool
    next_run_at: datetime | None
    created_at: datetime


class SopTask(BaseModel):
    """One owner's part of one SOP run: a WeCom mass-send task (or a reminder)."""

    id: str
    sop_id: str
    kind: str
    sender: str
    chat_ids: list[str]
    msgid: str | None
    status: Literal["creating", "awaiting", "confirmed", "failed", "sent"]
    results: dict[str, str]
    reason: str | None
    created_at: datetime
    settled_at: datetime | None


# -- moderation ------------------------------------------------------------------------------


class RuleCreate(BaseModel):
    """A keyword rule: reply with a text, or flag the message."""

    keyword: str = Field(min_length=1, max_length=100)
    action: Literal["reply", "flag"]
    reply: str | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _reply(self) -> RuleCreate:
        if self.action == "reply" and not self.reply:
            raise ValueError("a reply rule needs 'reply'")
        return self


class Rule(RuleCreate):
    """A stored keyword rule."""

    id: str
    created_at: datetime


class GroupMessageIn(BaseModel):
    """A group message with its content (from WeCom's message archive or a callback)."""

    msg_id: str = Field(min_length=1, max_length=100)
    sender: str = Field(min_length=1, max_length=80)
    content: str = Field(max_length=4000)
    at: datetime


class Verdict(BaseModel):
    """What moderation made of one message."""

    reasons: list[str] = Field(description="keyword:<kw>, link, qr_ad, flood.")
    reply: str | None = None
    reply_due: bool = Field(
        default=False,
        description="The reply goes into the group now (once per message: a repeat gets false).",
    )
    spammer: bool = Field(default=False, description="The sender is (now) marked a spammer.")
    duplicate: bool = False


class Spammer(BaseModel):
    """A member marked as a spammer: blocked from group live codes."""

    member_id: str
    person_id: str | None
    reasons: list[str]
    chat_ids: list[str]
    marked_at: datetime


class CommunityTask(BaseModel):
    """Work for a group owner (remove a spammer, revive a dormant group)."""

    id: str
    kind: Literal["remove_member", "dormant"]
    chat_id: str
    member_id: str | None
    owner_userid: str | None
    detail: str
    status: Literal["open", "done"]
    notified: bool
    created_at: datetime


class CommunitySettings(BaseModel):
    """Welcome text for new group members, the WeCom app that messages staff, dormancy."""

    welcome_text: str | None = Field(default=None, max_length=1000)
    welcome_template_id: str | None = None
    agent_id: str | None = Field(default=None, max_length=20, pattern=r"^\d+$")
    dormant_days: int = Field(default=7, ge=1, le=365)


# -- health ----------------------------------------------------------------------------------


class GroupHealth(BaseModel):
    """One group (or owner) over a period."""

    key: str = Field(description="chat_id, or the owner's userid.")
    name: str
    owner_userid: str | None
    groups: int = 1
    members: int
    joins: int
    leaves: int
    active_speakers: int
    messages: int
    orders: int
    gmv_fen: int


class HealthReport(BaseModel):
    """Group health per group and per owner."""

    since: datetime
    until: datetime
    groups: list[GroupHealth]
    owners: list[GroupHealth]


class DormantGroup(BaseModel):
    """A group gone quiet."""

    chat_id: str
    name: str
    owner_userid: str | None
    last_message_at: datetime | None
    last_join_at: datetime | None
    reasons: list[str] = Field(description="no_messages, joins_stalled.")

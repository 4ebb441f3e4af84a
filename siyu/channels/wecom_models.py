"""Types of the WeCom side: external contacts, live-code contact ways, mass-send tasks."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field


class FollowUser(BaseModel):
    """A staff member who has the customer as an external contact."""

    userid: str
    added_at: datetime | None = None
    state: str | None = Field(default=None, description="联系我 state the customer came through.")
    remark: str | None = None
    add_way: int | None = None


class ExternalContact(BaseModel):
    """A WeCom external contact (外部联系人) and the staff who follow them."""

    external_userid: str
    name: str | None = None
    unionid: str | None = Field(default=None, description="Only for WeChat users, if bound.")
    type: int | None = Field(default=None, description="1 WeChat user, 2 WeCom user.")
    follow_users: list[FollowUser] = Field(default_factory=list)


class ContactWay(BaseModel):
    """A 联系我 configuration: its id and QR code; adds through it carry ``state``."""

    config_id: str
    qr_code: str | None = None
    state: str


class MassSend(BaseModel):
    """A mass-send task WeCom created; staff must confirm it before anything is sent."""

    msgid: str
    fail_list: list[str] = Field(default_factory=list, description="Targets WeCom refused.")


class TaskStatus(StrEnum):
    """Where one staff member is with a mass-send task (get_groupmsg_task)."""

    PENDING = "pending"  # 0: not sent yet
    SENT = "sent"  # 2: sent (WeCom uses 2 in the task list)


class StaffTask(BaseModel):
    """One staff member's part of a mass-send task."""

    userid: str
    status: TaskStatus
    sent_at: datetime | None = None


class RecipientStatus(StrEnum):
    """What became of one recipient of a mass send (get_groupmsg_send_result)."""

    PENDING = "pending"  # 0
    SENT = "sent"  # 1
    NOT_FRIEND = "not_friend"  # 2: the customer is no longer a contact
    LIMITED = "limited"  # 3: the customer already received a mass message (cap)


class RecipientResult(BaseModel):
    """One recipient's result of a mass send."""

    external_userid: str | None = None
    chat_id: str | None = None
    userid: str
    status: RecipientStatus
    sent_at: datetime | None = None


class ContactRecord(BaseModel):
    """A stored external contact: what identify needs (ids, owner, the channel state)."""

    external_userid: str
    unionid: str | None = None
    name: str | None = None
    owner_userid: str | None = Field(default=None, description="The customer's owning staff.")
    first_state: str | None = Field(default=None, description="State of the first add.")
    first_added_at: datetime | None = None
    active: bool = Field(description="Someone in the corp still has the customer as a contact.")
    follow_userids: list[str] = Field(default_factory=list, description="Still following.")


class ContactChangeResult(BaseModel):
    """What a contact callback changed."""

    contact: ContactRecord
    new_contact: bool = Field(description="The first add of this customer seen by siyu.")
    duplicate: bool = Field(default=False, description="A retried callback, applied before.")


class SyncReport(BaseModel):
    """The result of a contact sync."""

    contacts: list[ContactRecord]
    follows_added: int
    follows_removed: int


class StaffTaskState(StrEnum):
    """Where a staff-confirmed WeCom mass send is."""

    AWAITING = "awaiting"  # the staff member has not confirmed yet
    CONFIRMED = "confirmed"  # confirmed and sent: the outbox message is SENT
    LAPSED = "lapsed"  # the SLA passed; the WeCom task was cancelled; fall back
    FAILED = "failed"  # WeCom refused or could not deliver it (not a contact, cap)


class StaffLoopPolicy(BaseModel):
    """How long staff get, when they are reminded, and how many mass sends a customer takes.

    WeCom's 创建企业群发 page (developer.work.weixin.qq.com/document/path/92135, updated
    2025-11-17) says each customer or group receives at most as many mass messages a month
    as the month has days, which an admin can tighten to 7 a week or 1 a day; the older rule
    was 4 per natural month. Hence ``cap`` and ``cap_period``; set ``cap=4`` for the old rule.
    Reminders: at most 3 per task in 24 hours (remind_groupmsg_send).
    """

    sla: timedelta = Field(default=timedelta(hours=24), description="Lapse after this.")
    remind_after: timedelta = Field(default=timedelta(hours=2), description="First reminder.")
    remind_every: timedelta = Field(default=timedelta(hours=4), description="Between reminders.")
    reminders_per_day: int = Field(
        default=3, ge=0, le=3, description="WeCom allows 3 reminders per task per 24 h."
    )
    cap: int | None = Field(
        default=None,
        ge=1,
        description="Mass sends one customer or group may receive per period; None = WeCom's "
        "current default rule, the number of days in the month.",
    )
    cap_period: Literal["month", "week", "day"] = "month"


class StaffTaskView(BaseModel):
    """One staff task as the outbox and the console see it."""

    message_id: str = Field(description="The outbox message id.")
    msgid: str = Field(description="WeCom's mass-send id.")
    sender: str
    target: str
    chat_type: Literal["single", "group"]
    status: StaffTaskState
    reason: str | None = None
    reminders: int = Field(description="Reminders sent so far.")
    created_at: datetime
    settled_at: datetime | None = None


class StaffOutcome(BaseModel):
    """What one poll did to a task; the outbox maps it (CONFIRMED → SENT, else fall back)."""

    message_id: str
    status: StaffTaskState
    reminded: bool = False
    reason: str | None = None
    fallback: bool = Field(default=False, description="Send on another channel instead.")
    settled_at: datetime | None = Field(default=None, description="When it settled, if it did.")


class StaffStats(BaseModel):
    """Completion of staff tasks per staff member over a period."""

    sender: str
    assigned: int
    confirmed: int
    lapsed: int
    failed: int
    awaiting: int
    confirm_rate: float
    median_seconds_to_confirm: float | None

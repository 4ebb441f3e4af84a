"""Tables of the WeChat-ecosystem channels: accounts, WeCom contacts and staff tasks, MP quota
and QR scenes."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Index, Integer, String, Table, Text, UniqueConstraint

from siyu.core.db import UTCDateTime, metadata

# One WeCom corp, official account or mini program per workspace and kind; the token,
# EncodingAESKey and secret are stored encrypted with the workspace vault.
wechat_accounts = Table(
    "wechat_accounts",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("kind", String(20), primary_key=True),  # wecom | mp | miniprogram
    Column("app_id", String(64), nullable=False),  # corpid or appid: the receive id
    Column("original_id", String(64)),  # gh_… of an official account
    Column("token_enc", Text(), nullable=False),
    Column("aes_key_enc", Text(), nullable=False),
    Column("secret_enc", Text(), nullable=False),
    Column("api_base_url", String(300)),  # None: the official API host
    Column("updated_at", UTCDateTime(), nullable=False),
)

wecom_contacts = Table(
    "wecom_contacts",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("external_userid", String(128), primary_key=True),
    Column("name", String(200)),
    Column("unionid", String(128)),
    Column("type", Integer()),
    Column("owner_userid", String(64)),  # the earliest follow user still following
    Column("first_state", String(64)),  # the 联系我 state of the first add: the channel
    Column("first_added_at", UTCDateTime()),
    Column("status", String(10), nullable=False),  # active | removed
    Column("updated_at", UTCDateTime(), nullable=False),
    Index("ix_wecom_contacts_owner", "workspace_id", "owner_userid"),
)

wecom_follows = Table(
    "wecom_follows",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("external_userid", String(128), primary_key=True),
    Column("userid", String(64), primary_key=True),
    Column("state", String(64)),
    Column("remark", String(200)),
    Column("added_at", UTCDateTime()),
    Column("removed_at", UTCDateTime()),
)

wecom_contact_history = Table(
    "wecom_contact_history",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("workspace_id", String(40), nullable=False),
    Column("external_userid", String(128), nullable=False),
    Column("userid", String(64), nullable=False),
    Column("change", String(40), nullable=False),
    Column("state", String(64)),
    Column("source", String(10), nullable=False),  # callback | sync
    Column("dedupe_key", String(300), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    UniqueConstraint("workspace_id", "dedupe_key", name="uq_wecom_contact_history_key"),
    Index("ix_wecom_contact_history_contact", "workspace_id", "external_userid", "at"),
)

# One row per outbox message sent as a WeCom mass-send task (the staff-in-the-loop state).
wecom_tasks = Table(
    "wecom_tasks",
    metadata,
    Column("message_id", String(64), primary_key=True),  # the outbox message id
    Column("workspace_id", String(40), nullable=False),
    Column("msgid", String(128), nullable=False),
    Column("sender", String(64), nullable=False),
    Column("chat_type", String(10), nullable=False),  # single | group
    Column("target", String(128), nullable=False),  # external_userid or chat_id
    Column("person_id", String(40)),
    Column("status", String(12), nullable=False),  # awaiting | confirmed | lapsed | failed
    Column("reason", String(200)),
    Column("reminders", JSON(), nullable=False),  # ISO times of reminders sent
    Column("created_at", UTCDateTime(), nullable=False),
    Column("settled_at", UTCDateTime()),
    Index("ix_wecom_tasks_open", "workspace_id", "status", "created_at"),
    Index("ix_wecom_tasks_target", "workspace_id", "target", "created_at"),
)

mp_quota = Table(
    "mp_quota",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("app_id", String(64), primary_key=True),
    Column("day", String(10), primary_key=True),  # YYYY-MM-DD in Beijing time
    Column("used", Integer(), nullable=False),
)

mp_qr_scenes = Table(
    "mp_qr_scenes",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("scene", String(64), primary_key=True),
    Column("channel", String(200), nullable=False),
    Column("name", String(200)),
    Column("permanent", Integer(), nullable=False),
    Column("ticket", String(200), nullable=False),
    Column("url", String(500)),
    Column("expires_at", UTCDateTime()),
    Column("created_at", UTCDateTime(), nullable=False),
)

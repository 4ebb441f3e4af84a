"""Tables of the community domain (社群运营): customer groups, members, activity, group live
codes and their scans, SOPs and their WeCom tasks, keyword rules, flags, spammers, tasks."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from siyu.core.db import UTCDateTime, metadata

# A WeCom customer group (客户群). ``seats`` counts members plus seats handed out by group live
# codes; a code never hands out a seat past ``cap`` (the conditional update is the guard).
community_groups = Table(
    "community_groups",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("chat_id", String(80), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("owner_userid", String(80)),
    Column("notice", Text()),
    Column("status", String(12), nullable=False),  # active | dismissed | pending
    Column("cap", Integer(), nullable=False),
    Column("seats", Integer(), nullable=False),
    Column("members", Integer(), nullable=False),
    Column("tags", JSON(), nullable=False),
    Column("live_code_id", String(40)),
    Column("created_at", UTCDateTime()),
    Column("synced_at", UTCDateTime()),
    Column("last_message_at", UTCDateTime()),
    Column("last_join_at", UTCDateTime()),
    Index("ix_community_groups_owner", "workspace_id", "owner_userid"),
)

community_members = Table(
    "community_members",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("chat_id", String(80), primary_key=True),
    Column("member_id", String(80), primary_key=True),  # staff userid or external_userid
    Column("staff", Boolean(), nullable=False),
    Column("person_id", String(40)),
    Column("name", String(200)),
    Column("join_scene", Integer()),
    Column("joined_at", UTCDateTime()),
    Column("left_at", UTCDateTime()),
    Index("ix_community_members_person", "workspace_id", "person_id"),
)

# One row per join, leave or message, keyed so a WeCom retry or a second feed (the assistant's
# group callback, the contact callback, ingest, a sync) counts once: the only store of group
# activity. ``outcome`` is what the assistant did with it (answered | rule | handover | ignored
# | opted_out; welcomed for a join), claimed once; ``reply_claimed_at`` marks a keyword rule's
# reply being handed to the group robot (released when the post fails, a lease otherwise),
# ``reply_posted_at`` the robot taking it: posted once per message. ``chat_id`` is a WeCom
# group, or a 微信客服 conversation ``kf:<open_kfid>`` the assistant answers (activity only).
community_activity = Table(
    "community_activity",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("event_key", String(200), primary_key=True),
    Column("chat_id", String(100), nullable=False),
    Column("kind", String(10), nullable=False),  # joined | left | message
    Column("member_id", String(100), nullable=False),
    Column("person_id", String(40)),
    Column("at", UTCDateTime(), nullable=False),
    Column("outcome", String(20)),
    Column("reply_claimed_at", UTCDateTime()),
    Column("reply_posted_at", UTCDateTime()),
    Index("ix_community_activity_chat_at", "workspace_id", "chat_id", "at"),
    Index("ix_community_activity_member_at", "workspace_id", "member_id", "at"),
)

community_live_codes = Table(
    "community_live_codes",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("state", String(30), nullable=False),
    Column("config_id", String(80)),
    Column("qr_code", String(500)),
    Column("cap", Integer(), nullable=False),
    Column("chat_ids", JSON(), nullable=False),  # the code's groups, in rotation order
    Column("current_chat_id", String(80)),
    Column("owner_userid", String(80), nullable=False),
    Column("room_base_name", String(100), nullable=False),
    Column("room_base_id", Integer(), nullable=False),  # number of the next group made
    Column("wecom_chat_id", String(80)),  # the group the WeCom join way points at
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("workspace_id", "state", name="uq_community_live_codes_state"),
)

community_live_code_scans = Table(
    "community_live_code_scans",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("id", String(40), primary_key=True),
    Column("code_id", String(40), nullable=False),
    Column("person_id", String(40), nullable=False),
    Column("chat_id", String(80)),
    Column("outcome", String(10), nullable=False),  # seated | blocked
    Column("idempotency_key", String(200), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    UniqueConstraint("workspace_id", "idempotency_key", name="uq_community_scans_key"),
    Index("ix_community_scans_code", "workspace_id", "code_id"),
)

community_sops = Table(
    "community_sops",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(10), nullable=False),  # post | reminder
    Column("text", Text(), nullable=False),
    Column("chat_ids", JSON(), nullable=False),
    Column("tag", String(60)),
    Column("schedule", JSON(), nullable=False),
    Column("active", Boolean(), nullable=False),
    Column("next_run_at", UTCDateTime()),
    Column("created_at", UTCDateTime(), nullable=False),
)

# A WeCom group mass send (or a reminder) of one SOP run for one owner; ``run_key`` makes a
# repeated run create nothing twice.
community_sop_tasks = Table(
    "community_sop_tasks",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("id", String(40), primary_key=True),
    Column("sop_id", String(40), nullable=False),
    Column("run_key", String(200), nullable=False),
    Column("kind", String(10), nullable=False),
    Column("sender", String(80), nullable=False),
    Column("chat_ids", JSON(), nullable=False),
    Column("msgid", String(80)),
    Column("status", String(12), nullable=False),  # creating | awaiting | confirmed | failed
    Column("results", JSON(), nullable=False),  # chat_id → sent | pending | failed
    Column("reason", String(300)),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("settled_at", UTCDateTime()),
    UniqueConstraint("workspace_id", "run_key", name="uq_community_sop_tasks_run"),
)

community_rules = Table(
    "community_rules",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("id", String(40), primary_key=True),
    Column("keyword", String(100), nullable=False),
    Column("action", String(10), nullable=False),  # reply | flag
    Column("reply", Text()),
    Column("created_at", UTCDateTime(), nullable=False),
)

# What moderation saw in one message: matched rules and spam signals.
community_flags = Table(
    "community_flags",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("msg_key", String(200), primary_key=True),
    Column("chat_id", String(80), nullable=False),
    Column("member_id", String(80), nullable=False),
    Column("reasons", JSON(), nullable=False),
    Column("excerpt", String(200), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Index("ix_community_flags_member_at", "workspace_id", "member_id", "at"),
)

community_spammers = Table(
    "community_spammers",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("member_id", String(80), primary_key=True),
    Column("person_id", String(40)),
    Column("reasons", JSON(), nullable=False),
    Column("chat_ids", JSON(), nullable=False),
    Column("marked_at", UTCDateTime(), nullable=False),
)

# Work for an owner: remove a spammer (WeCom has no API to remove a customer from a customer
# group), or revive a dormant group. ``task_key`` keeps one per subject and day.
community_tasks = Table(
    "community_tasks",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("id", String(40), primary_key=True),
    Column("task_key", String(200), nullable=False),
    Column("kind", String(20), nullable=False),  # remove_member | dormant
    Column("chat_id", String(80), nullable=False),
    Column("member_id", String(80)),
    Column("owner_userid", String(80)),
    Column("detail", String(500), nullable=False),
    Column("status", String(10), nullable=False),  # open | done
    Column("notified", Boolean(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("workspace_id", "task_key", name="uq_community_tasks_key"),
)

community_settings = Table(
    "community_settings",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("welcome_text", Text()),
    Column("welcome_template_id", String(80)),
    Column("agent_id", String(20)),  # the WeCom app that messages staff, if any
    Column("dormant_days", Integer(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

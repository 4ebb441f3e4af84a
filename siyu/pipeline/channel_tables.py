"""Delivery settings per workspace and channel (SMS gateway keys, SMTP, webhook signing secret).

The non-secret part is plain JSON; the secret (access key secret, SMTP password, webhook
signing secret) is encrypted with the vault, like the WeChat accounts' secrets.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, String, Table, Text

from siyu.core.db import UTCDateTime, metadata

channel_settings = Table(
    "channel_settings",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("channel", String(20), primary_key=True),  # sms | email | webhook
    Column("config", JSON(), nullable=False),
    Column("secret_enc", Text(), nullable=True),
    Column("updated_at", UTCDateTime(), nullable=False),
)

"""Types of the workspaces domain that cross boundaries."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class Workspace(BaseModel):
    """A brand's workspace."""

    id: str = Field(description="Workspace id, e.g. ws_01jd…")
    name: str = Field(description="Display name of the brand.")
    write_key: str = Field(description="Public key SDKs send as the HTTP Basic user.")
    timezone: str = Field(description="IANA zone used to show times, e.g. Asia/Shanghai.")
    created_at: datetime


class WorkspaceCreated(BaseModel):
    """What creating a workspace returns once: the secret key is never shown again."""

    workspace_id: str
    write_key: str
    secret_key: str

"""Types of tags that cross boundaries: groups, tags, assignments, history, notes."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class TagKind(StrEnum):
    """Who decides who holds the tags of a group."""

    MANUAL = "manual"  # operators, one person or a CSV list at a time
    RULE = "rule"  # a segment definition, recomputed on schedule and on demand
    MODEL = "model"  # RFM, lifecycle, LTV: written whole by the model


class TagGroupCreate(BaseModel):
    """A new tag group (e.g. 性别, 地域, 消费力, 兴趣)."""

    name: str = Field(min_length=1, max_length=100, description="Unique in the workspace.")
    kind: TagKind = Field(default=TagKind.MANUAL, description="manual | rule | model")
    exclusive: bool = Field(
        default=False, description="At most one tag of the group per person (e.g. 性别)."
    )
    description: str | None = Field(default=None, max_length=2000)


class TagGroupUpdate(BaseModel):
    """Changes to a group; absent fields stay."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=2000)


class TagGroup(BaseModel):
    """A group of tags."""

    id: str
    name: str
    kind: TagKind
    exclusive: bool
    description: str | None = None
    created_at: datetime


class TagCreate(BaseModel):
    """A new tag in a group; rule tags carry a segment definition."""

    group: str = Field(description="Group id or name.")
    name: str = Field(min_length=1, max_length=100, description="Unique in the group.")
    rule: dict[str, Any] | None = Field(
        default=None, description="Rule tags only: the segment definition that decides holders."
    )
    description: str | None = Field(default=None, max_length=2000)


class TagUpdate(BaseModel):
    """Changes to a tag; absent fields stay."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    rule: dict[str, Any] | None = Field(default=None, description="Rule tags: a new definition.")
    description: str | None = Field(default=None, max_length=2000)


class Tag(BaseModel):
    """A tag and its group."""

    id: str
    group_id: str
    group: str = Field(description="Group name.")
    name: str
    kind: TagKind
    rule: dict[str, Any] | None = None
    description: str | None = None
    position: int
    created_at: datetime
    refreshed_at: datetime | None = Field(default=None, description="Rule tags: last refresh.")
    persons: int | None = Field(default=None, description="Holders, when asked for.")


class PersonTag(BaseModel):
    """A tag one person holds."""

    tag_id: str
    tag: str
    group_id: str
    group: str
    source: TagKind = Field(description="How the person came to hold it.")
    assigned_by: str | None = None
    assigned_at: datetime


class TagChanges(BaseModel):
    """How many tag assignments a bulk change made and removed."""

    gained: int = Field(default=0, description="Assignments added.")
    lost: int = Field(default=0, description="Assignments removed.")


class TagHistoryEntry(BaseModel):
    """One gain or loss of a tag by a person, and why."""

    person_id: str
    tag_id: str
    tag: str
    group: str
    change: str = Field(description="gained | lost")
    source: TagKind = Field(description="manual (by actor) | rule | model")
    actor: str | None = Field(default=None, description="The operator, for manual changes.")
    reason: str | None = None
    at: datetime


class TagImportRow(BaseModel):
    """A CSV row that named no known person."""

    line: int = Field(description="1-based line in the file (the header is line 1).")
    type: str
    value: str
    reason: str


class TagImportReport(BaseModel):
    """What tagging a CSV list of identifiers did."""

    rows: int
    persons: int = Field(description="Distinct persons the rows resolved to.")
    gained: int
    unresolved: list[TagImportRow]


class NoteCreate(BaseModel):
    """A note (画像补白) on a person."""

    text: str = Field(min_length=1, max_length=10_000, description="The note.")


class Note(BaseModel):
    """A note an operator attached to a person."""

    id: str
    person_id: str
    text: str
    author: str | None = None
    created_at: datetime
    updated_at: datetime

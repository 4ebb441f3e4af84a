"""Types of the identity domain that cross boundaries."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from siyu.collect.models import IdType


class IdentityRule(BaseModel):
    """How one identifier type merges persons."""

    id_type: IdType
    priority: int = Field(description="1 = strongest; decides order and the merge survivor.")
    limit: int | None = Field(description="Most identifiers of this type per person; null = any.")


class IdentityRules(BaseModel):
    """A workspace's merge rules, strongest type first."""

    workspace_id: str
    rules: list[IdentityRule]


class IdentifierRef(BaseModel):
    """An identifier by type and stored key (the keyed hash for phone/email)."""

    type: IdType
    key: str


class IdentifierView(BaseModel):
    """One identifier of a person, as shown to operators."""

    type: IdType
    key: str = Field(description="Stored key: the value, or keyed hash for PII types.")
    masked: str | None = Field(default=None, description="Display form for PII, e.g. 138****5678.")
    first_seen: datetime
    introduced_by: str = Field(description="Person that first brought this identifier.")


class IdentityConflict(BaseModel):
    """A link that was not merged because it would break a limit or an operator block."""

    id: int
    person_id: str = Field(description="Person the message was attributed to.")
    other_person_id: str = Field(description="Person it was not merged with.")
    id_type: IdType = Field(description="Type whose limit (or block) refused the merge.")
    identifiers: list[IdentifierRef] = Field(description="The two identifiers of the edge.")
    message_id: str | None
    reason: str = Field(description="limit | blocked")
    created_at: datetime


class ConflictsPage(BaseModel):
    """A page of conflicts, newest first."""

    items: list[IdentityConflict]
    total: int
    limit: int
    offset: int


class PersonMerge(BaseModel):
    """One merge: which person absorbed which, when, and why."""

    survivor_id: str
    absorbed_id: str
    message_id: str | None = Field(description="Message whose link merged them (null: rebuild).")
    reason: str = Field(description="link | rebuild")
    merged_at: datetime
    split_at: datetime | None = None
    split_reason: str | None = None


class SplitResult(BaseModel):
    """What a split did; the caller re-attributes events of the moved identifiers."""

    person_id: str = Field(description="The person that keeps the rest.")
    restored_person_id: str
    restored_persons: list[str] = Field(description="Restored person and those it had absorbed.")
    moved: list[IdentifierRef] = Field(description="Identifiers now with restored_person_id.")


class RebuildReport(BaseModel):
    """What a full rebuild from stored links found and changed."""

    links: int
    identifiers: int
    persons: int
    slow_components: int = Field(description="Components that needed the sequential pass.")
    slow_links: int
    persons_new: int
    persons_retired: int
    identifiers_moved: int

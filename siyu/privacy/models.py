"""Privacy shapes that cross boundaries: audit entries, erasure receipts, exports, retention."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

AuditAction = Literal[
    "export",
    "unmasked_view",
    "erase",
    # accounts: the subject is "user:<user id>"
    "password_reset_issued",
    "password_reset",
    "password_changed",
    "member_added",
    "role_changed",
    "member_removed",
]


class AuditEntry(BaseModel):
    """One access to a person's personal information."""

    id: int
    actor: str = Field(description="Who: the account or the API key's fingerprint.")
    action: AuditAction
    subject: str = Field(
        description="The person id; after an erasure, the erasure's subject digest."
    )
    detail: dict[str, Any] = Field(default_factory=dict)
    at: datetime


class AuditPage(BaseModel):
    """A page of the audit log, newest first."""

    entries: list[AuditEntry]
    next_before_id: int | None = Field(description="Pass as ?before_id= for the next page.")


class ErasureReceipt(BaseModel):
    """Proof of one erasure: what was removed where, when, hashed and signed.

    ``receipt_hash`` is the SHA-256 of the canonical JSON of the other fields (sorted keys,
    no spaces); ``signature`` is an HMAC-SHA256 of that hash under the workspace vault's key,
    so the operator can show the receipt was issued by this installation and not altered.
    """

    id: str
    workspace_id: str
    subject_digest: str = Field(description="Keyed hash of the erased person id (not PII).")
    counts: dict[str, int] = Field(description="Rows removed or anonymised, per store.table.")
    erased_at: datetime
    receipt_hash: str
    signature: str
    replayed: bool = Field(default=False, description="True when this answers a retried call.")


class PersonExport(BaseModel):
    """Everything siyu holds about one person (data-subject access request)."""

    workspace_id: str
    person_id: str
    person_ids: list[str] = Field(description="The person and every person it absorbed.")
    exported_at: datetime
    identities: list[dict[str, Any]] = Field(description="Identifiers, PII decrypted.")
    tables: dict[str, list[dict[str, Any]]] = Field(
        description="Rows about the person in the operational store, per table."
    )
    events: list[dict[str, Any]] = Field(description="Raw events from the event store and inbox.")


class RetentionPolicy(BaseModel):
    """How long a workspace keeps each kind of personal information (None: forever)."""

    workspace_id: str
    event_retention_days: int | None = Field(description="Raw events. None: they are kept.")
    message_retention_days: int | None = Field(
        default=180,
        description="Outbox messages: after this many days a sent, delivered, failed or held "
        "message loses its body, subject, recipient and template parameters; its status, "
        "channel, times, source and content id stay.",
    )
    consent_history_retention_days: int | None = Field(
        default=1095,
        description="Consent history: superseded answers older than this are deleted; the "
        "current answer and the history row that recorded it are always kept.",
    )
    audit_retention_days: int | None = Field(
        default=1095, description="Audit log rows older than this are deleted (at least 180)."
    )
    group_text_retention_days: int | None = Field(
        default=90,
        description="Group and assistant message texts: moderation flags lose their excerpt, "
        "unanswered questions not asked again are deleted.",
    )


class RetentionUpdate(BaseModel):
    """A change to the retention policy: only the fields given change; null keeps forever."""

    event_retention_days: int | None = None
    message_retention_days: int | None = None
    consent_history_retention_days: int | None = None
    audit_retention_days: int | None = None
    group_text_retention_days: int | None = None

    def changes(self) -> dict[str, int | None]:
        """The fields set, by column name."""
        return {name: getattr(self, name) for name in sorted(self.model_fields_set)}


class RetentionRun(BaseModel):
    """What one retention pass dropped or redacted."""

    workspace_id: str
    event_retention_days: int | None
    cutoff: datetime | None = Field(description="Events before this instant were dropped.")
    events_dropped: int
    policy: RetentionPolicy | None = Field(default=None, description="The policy applied.")
    counts: dict[str, int] = Field(
        default_factory=dict,
        description="Operational rows deleted or redacted, per table.action "
        "(channel_messages.redacted, privacy_audit.deleted, …).",
    )

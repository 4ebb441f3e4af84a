"""Team and privacy builders: members, audit entries and an erasure receipt as table rows, and
the audit filter's dates as instants."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any, get_args
from zoneinfo import ZoneInfo

from siyu.accounts.models import Member
from siyu.console.i18n import translate
from siyu.console.views.people import local_time
from siyu.core.errors import InvalidInputError
from siyu.privacy.models import AuditAction, AuditEntry, ErasureReceipt

AUDIT_ACTIONS: tuple[str, ...] = get_args(AuditAction)
USER_PREFIX = "user:"


def member_rows(members: list[Member], lang: str, zone: str) -> list[dict[str, Any]]:
    """One row per member: email, name, role (in the operator's language), joined."""
    return [
        {
            "key": m.user_id,
            "email": m.email,
            "name": m.name,
            "role": translate(lang, f"role.{m.role.value}"),
            "joined": local_time(m.joined_at, zone),
        }
        for m in members
    ]


def who(raw: str, emails: dict[str, str]) -> str:
    """An audit actor or subject for people: ``user:<id>`` as the user's email when known."""
    if raw.startswith(USER_PREFIX):
        return emails.get(raw.removeprefix(USER_PREFIX), raw)
    return raw


def _detail(detail: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(detail.items()))


def audit_rows(
    entries: list[AuditEntry], emails: dict[str, str], lang: str, zone: str
) -> list[dict[str, Any]]:
    """Audit entries as listed (newest first): when (workspace zone), who, what, target."""
    return [
        {
            "key": e.id,
            "at": local_time(e.at, zone),
            "actor": who(e.actor, emails),
            "action": translate(lang, f"audit.action.{e.action}"),
            "subject": who(e.subject, emails),
            "detail": _detail(e.detail),
        }
        for e in entries
    ]


def _day(raw: str | None, field: str) -> date | None:
    text = (raw or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(f"{field} must be a date like 2026-11-29", field=field) from None


def day_bounds(
    start: str | None, end: str | None, zone: str
) -> tuple[datetime | None, datetime | None]:
    """The instants (UTC) from the start of day ``start`` to the end of day ``end``, both
    counted in the workspace's zone; a blank side is open. InvalidInputError naming ``since`` or
    ``until`` when a date does not parse or the range is reversed."""
    first, last = _day(start, "since"), _day(end, "until")
    if first is not None and last is not None and last < first:
        raise InvalidInputError("the end date is before the start date", field="until")
    tz = ZoneInfo(zone)

    def at_midnight(day: date) -> datetime:
        return datetime.combine(day, time(), tzinfo=tz).astimezone(ZoneInfo("UTC"))

    since = at_midnight(first) if first is not None else None
    until = at_midnight(last + timedelta(days=1)) if last is not None else None
    return since, until


def receipt_facts(receipt: ErasureReceipt, zone: str) -> list[tuple[str, str]]:
    """The receipt's fields as (message key, value) pairs, in the order shown."""
    return [
        ("privacy.receipt_id", receipt.id),
        ("privacy.receipt_subject", receipt.subject_digest),
        ("privacy.receipt_at", local_time(receipt.erased_at, zone)),
        ("privacy.receipt_hash", receipt.receipt_hash),
        ("privacy.receipt_signature", receipt.signature),
    ]


def receipt_rows(receipt: ErasureReceipt) -> list[dict[str, Any]]:
    """Rows removed or anonymised, per store and table, largest first."""
    ordered = sorted(receipt.counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [{"key": name, "table": name, "rows": rows} for name, rows in ordered]

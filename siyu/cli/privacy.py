"""``siyu privacy``: data-subject export and erasure, the audit log, retention periods."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, get_args

import typer

from siyu.cli.main import JsonOption, WorkspaceOption, cli_actor, open_workspace, readable_errors
from siyu.core.clock import utcnow
from siyu.core.errors import InvalidInputError
from siyu.pipeline import privacy
from siyu.privacy.models import AuditAction, RetentionUpdate
from siyu.privacy.service import audit_instant

privacy_app: typer.Typer = typer.Typer(
    help="Personal information (PIPL): export, erase, audit log, retention.",
    no_args_is_help=True,
)


@privacy_app.command("export")
@readable_errors
def export(
    person_id: Annotated[str, typer.Argument(help="The person (any of its merged ids).")],
    out: Annotated[Path, typer.Option("--out", help="Write the JSON document here.")],
    workspace: WorkspaceOption = None,
) -> None:
    """Export all data of a person as one JSON document (audited)."""
    with open_workspace(workspace) as (rt, ws):
        doc = privacy.export_person(
            runtime=rt, workspace_id=ws.id, person_id=person_id, actor=cli_actor(), now=utcnow()
        )
    out.write_text(doc.model_dump_json(indent=2))
    typer.echo(
        f"exported {len(doc.person_ids)} person id(s), {len(doc.identities)} identifiers, "
        f"{sum(len(r) for r in doc.tables.values())} rows, {len(doc.events)} events to {out}"
    )


@privacy_app.command("erase")
@readable_errors
def erase(
    person_id: Annotated[str, typer.Argument(help="The person (any of its merged ids).")],
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: this cannot be undone.")] = False,
    idempotency_key: Annotated[
        str | None, typer.Option("--idempotency-key", help="A retry with it answers the receipt.")
    ] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Erase a person everywhere (operational store, event store, identity); prints the receipt."""
    if not yes:
        raise InvalidInputError("erasure cannot be undone: pass --yes", field="yes")
    with open_workspace(workspace) as (rt, ws):
        receipt = privacy.erase_person(
            runtime=rt,
            workspace_id=ws.id,
            person_id=person_id,
            actor=cli_actor(),
            now=utcnow(),
            idempotency_key=idempotency_key,
        )
    if as_json:
        typer.echo(receipt.model_dump_json())
        return
    typer.echo(f"receipt     {receipt.id}{'  (already erased)' if receipt.replayed else ''}")
    typer.echo(f"erased at   {receipt.erased_at.isoformat()}")
    typer.echo(f"subject     {receipt.subject_digest}")
    typer.echo(f"hash        {receipt.receipt_hash}")
    typer.echo(f"signature   {receipt.signature}")
    for name, count in receipt.counts.items():
        typer.echo(f"  {name:40} {count}")


ACTIONS: tuple[str, ...] = get_args(AuditAction)
_RANGE = "a date (YYYY-MM-DD, the workspace's zone) or an ISO time with its offset"


@privacy_app.command("audit")
@readable_errors
def audit(
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 50,
    person_id: Annotated[str | None, typer.Option("--person", help="Only this subject.")] = None,
    action: Annotated[
        str | None, typer.Option("--action", help=f"Only this action: {', '.join(ACTIONS)}.")
    ] = None,
    since: Annotated[str | None, typer.Option("--since", help=f"From {_RANGE}.")] = None,
    until: Annotated[
        str | None,
        typer.Option("--until", help=f"Until {_RANGE}; a date's day is included, a time not."),
    ] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """The audit log of unmasked views, exports, erasures and account changes, newest first."""
    if action is not None and action not in ACTIONS:
        raise InvalidInputError(
            f"unknown action {action!r}; one of {', '.join(ACTIONS)}", field="action"
        )
    with open_workspace(workspace) as (rt, ws):
        page = privacy.list_audit(
            runtime=rt, workspace_id=ws.id, limit=limit, person_id=person_id,
            action=action,  # type: ignore[arg-type]  # checked against ACTIONS above
            since=audit_instant(since, "since", ws.timezone),
            until=audit_instant(until, "until", ws.timezone),
        )  # fmt: skip
    if as_json:
        typer.echo(page.model_dump_json())
        return
    for e in page.entries:
        typer.echo(f"{e.at.isoformat()}  {e.action:14} {e.actor:30} {e.subject}")


# ``siyu audit list``: the same command under the name the log goes by elsewhere.
audit_app: typer.Typer = typer.Typer(help="The audit log.", no_args_is_help=True)
audit_app.command("list")(audit)


def _days(help_text: str) -> Any:
    return typer.Option(help=help_text + " 0 keeps forever.", show_default=False)


@privacy_app.command("retention")
@readable_errors
def retention(
    days: Annotated[
        int | None,
        typer.Option("--days", help="Keep raw events this many days; 0 keeps them forever."),
    ] = None,
    messages_days: Annotated[
        int | None, _days("Empty sent/failed/held outbox bodies and recipients after N days (≥7).")
    ] = None,
    consent_days: Annotated[
        int | None, _days("Delete superseded consent answers after N days (≥180).")
    ] = None,
    audit_days: Annotated[int | None, _days("Delete audit rows after N days (≥180).")] = None,
    group_text_days: Annotated[
        int | None, _days("Empty group flag excerpts, delete unanswered questions after N days.")
    ] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Set retention periods (the options given) and apply the policy now; without options,
    apply the policy as set. Defaults: events kept, messages 180, consent 1095, audit 1095,
    group texts 90 days."""
    given = {
        "event_retention_days": days,
        "message_retention_days": messages_days,
        "consent_history_retention_days": consent_days,
        "audit_retention_days": audit_days,
        "group_text_retention_days": group_text_days,
    }
    change = RetentionUpdate(**{k: v or None for k, v in given.items() if v is not None})
    with open_workspace(workspace) as (rt, ws):
        now = utcnow()
        if change.model_fields_set:
            privacy.set_retention(runtime=rt, workspace_id=ws.id, change=change, now=now)
        run = privacy.apply_retention(runtime=rt, workspace_id=ws.id, now=now)
    if as_json:
        typer.echo(run.model_dump_json())
        return
    if run.event_retention_days is None:
        typer.echo("raw events are kept (no retention period set)")
    else:
        typer.echo(
            f"kept {run.event_retention_days} days: dropped {run.events_dropped} events "
            f"before {run.cutoff.isoformat() if run.cutoff else '-'}"
        )
    for name, n in sorted(run.counts.items()):
        typer.echo(f"{name}: {n}")

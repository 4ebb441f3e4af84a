"""``siyu privacy``: data-subject export and erasure, the audit log, event retention."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from siyu.cli.main import JsonOption, WorkspaceOption, pick_workspace, readable_errors, runtime
from siyu.core.clock import utcnow
from siyu.core.errors import InvalidInputError
from siyu.pipeline import privacy

privacy_app: typer.Typer = typer.Typer(
    help="Personal information (PIPL): export, erase, audit log, retention.",
    no_args_is_help=True,
)


def _actor() -> str:
    # The CLI runs on the server as an operator's shell account: that account is the actor.
    return f"cli:{os.environ.get('USER') or os.environ.get('LOGNAME') or 'unknown'}"


@privacy_app.command("export")
@readable_errors
def export(
    person_id: Annotated[str, typer.Argument(help="The person (any of its merged ids).")],
    out: Annotated[Path, typer.Option("--out", help="Write the JSON document here.")],
    workspace: WorkspaceOption = None,
) -> None:
    """Export all data of a person as one JSON document (audited)."""
    rt = runtime()
    try:
        ws = pick_workspace(rt, workspace)
        doc = privacy.export_person(
            runtime=rt, workspace_id=ws.id, person_id=person_id, actor=_actor(), now=utcnow()
        )
    finally:
        rt.close()
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
    rt = runtime()
    try:
        ws = pick_workspace(rt, workspace)
        receipt = privacy.erase_person(
            runtime=rt,
            workspace_id=ws.id,
            person_id=person_id,
            actor=_actor(),
            now=utcnow(),
            idempotency_key=idempotency_key,
        )
    finally:
        rt.close()
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


@privacy_app.command("audit")
@readable_errors
def audit(
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 50,
    person_id: Annotated[str | None, typer.Option("--person")] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """The audit log of unmasked views, exports and erasures, newest first."""
    rt = runtime()
    try:
        ws = pick_workspace(rt, workspace)
        page = privacy.list_audit(runtime=rt, workspace_id=ws.id, limit=limit, person_id=person_id)
    finally:
        rt.close()
    if as_json:
        typer.echo(page.model_dump_json())
        return
    for e in page.entries:
        typer.echo(f"{e.at.isoformat()}  {e.action:14} {e.actor:30} {e.subject}")


@privacy_app.command("retention")
@readable_errors
def retention(
    days: Annotated[
        int | None,
        typer.Option("--days", help="Keep raw events this many days; 0 keeps them forever."),
    ] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Set the raw-event retention period and apply it now (without --days: apply the set one)."""
    rt = runtime()
    try:
        ws = pick_workspace(rt, workspace)
        now = utcnow()
        if days is not None:
            privacy.set_retention(runtime=rt, workspace_id=ws.id, days=days or None, now=now)
        run = privacy.apply_retention(runtime=rt, workspace_id=ws.id, now=now)
    finally:
        rt.close()
    if as_json:
        typer.echo(run.model_dump_json())
    elif run.event_retention_days is None:
        typer.echo("raw events are kept (no retention period set)")
    else:
        typer.echo(
            f"kept {run.event_retention_days} days: dropped {run.events_dropped} events "
            f"before {run.cutoff.isoformat() if run.cutoff else '-'}"
        )

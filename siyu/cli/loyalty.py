"""``siyu loyalty``: the points expiry job, the ledger audit, balances and manual adjustments."""

from __future__ import annotations

from typing import Annotated

import typer

from siyu.cli.main import JsonOption, WorkspaceOption, open_workspace, readable_errors, runtime
from siyu.core.clock import utcnow
from siyu.core.ids import new_id
from siyu.loyalty import points, points_audit
from siyu.loyalty.points_models import ExpiryReport

loyalty_app: typer.Typer = typer.Typer(
    help="Loyalty: points expiry, ledger audit, balances.", no_args_is_help=True
)


@loyalty_app.command("expire")
@readable_errors
def expire(workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """Expire every lot whose time has come (safe to rerun; run it daily)."""
    rt = runtime()
    now, total = utcnow(), ExpiryReport(lots=0, points=0)
    while True:
        with rt.sessions() as session, session.begin():
            batch = points_audit.expire_due(session=session, now=now, workspace_id=workspace)
        total = ExpiryReport(lots=total.lots + batch.lots, points=total.points + batch.points)
        if batch.lots == 0:
            break
    typer.echo(
        total.model_dump_json()
        if as_json
        else f"expired {total.points} points in {total.lots} lots"
    )


@loyalty_app.command("verify")
@readable_errors
def verify(workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """Re-derive every balance from the entries; exit 1 when any account disagrees."""
    rt = runtime()
    with rt.sessions() as session:
        report = points_audit.verify(session=session, workspace_id=workspace)
    if as_json:
        typer.echo(report.model_dump_json())
    else:
        typer.echo(
            f"{report.accounts} accounts, {report.entries} entries, "
            f"{len(report.mismatches)} mismatches"
        )
        for m in report.mismatches:
            typer.echo(f"  {m.workspace_id} {m.person_id}: {m.detail}")
    if report.mismatches:
        raise typer.Exit(1)


@loyalty_app.command("balance")
@readable_errors
def balance(person_id: str, workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """A member's balance and open lots."""
    with open_workspace(workspace) as (rt, ws), rt.sessions() as session:
        account = points.get_account(session=session, workspace_id=ws.id, person_id=person_id)
    if as_json:
        typer.echo(account.model_dump_json())
        return
    typer.echo(f"balance {account.balance}")
    for lot in account.lots:
        typer.echo(f"  lot {lot.id}: {lot.remaining}/{lot.amount} expires {lot.expires_at}")


@loyalty_app.command("adjust")
@readable_errors
def adjust(
    person_id: str,
    amount: Annotated[int, typer.Argument(help="Points to add (negative to take away).")],
    workspace: WorkspaceOption = None,
    key: Annotated[str | None, typer.Option(help="Idempotency key (rerun-safe).")] = None,
    note: Annotated[str | None, typer.Option(help="Why, kept as the entry's source.")] = None,
    as_json: JsonOption = False,
) -> None:
    """A manual adjustment, recorded as its own entry."""
    with open_workspace(workspace) as (rt, ws), rt.sessions() as session, session.begin():
        result = points.adjust_points(
            session=session,
            workspace_id=ws.id,
            person_id=person_id,
            points=amount,
            idempotency_key=key or new_id("adj"),
            now=utcnow(),
            source=note,
        )
    typer.echo(result.model_dump_json() if as_json else f"balance {result.balance}")

"""``siyu live-codes`` and ``siyu referrals``: channel live codes, staff credit, referral tree."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from pydantic import BaseModel

from siyu import pipeline
from siyu.cli.main import (
    JsonOption,
    WorkspaceOption,
    echo,
    open_workspace,
    readable_errors,
    transact,
)
from siyu.core.clock import utcnow
from siyu.core.errors import InvalidInputError
from siyu.referral import codes, livecodes
from siyu.referral import service as referral
from siyu.referral.models import (
    LiveCodeCreate,
    LiveCodeKind,
    ScanCreate,
    StaffAssignment,
    StaffCreate,
    StoreCreate,
)

live_codes_app: typer.Typer = typer.Typer(
    help="Channel live codes (渠道活码), staff and stores.", no_args_is_help=True
)
referrals_app: typer.Typer = typer.Typer(
    help="Referral (裂变): invite codes, tree, K-factor.", no_args_is_help=True
)


def _fields(model: BaseModel) -> str:
    return "\n".join(f"{k:16} {v}" for k, v in model.model_dump(mode="json").items())


def _echo(value: Any, as_json: bool) -> None:
    # A list prints one JSON object a line; one model its fields, one a line.
    echo(value, as_json, BaseModel.model_dump_json if isinstance(value, list) else _fields)


@live_codes_app.command("add-store")
@readable_errors
def add_store(name: str, workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """Add a store."""
    _echo(
        transact(workspace, livecodes.create_store, store=StoreCreate(name=name), now=utcnow()),
        as_json,
    )


@live_codes_app.command("add-staff")
@readable_errors
def add_staff(
    name: str,
    store: Annotated[str | None, typer.Option(help="Store id.")] = None,
    daily_cap: Annotated[int | None, typer.Option(help="Most adds a day.", min=1)] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add a staff member (导购)."""
    staff = StaffCreate(name=name, store_id=store, daily_cap=daily_cap)
    _echo(transact(workspace, livecodes.create_staff, staff=staff, now=utcnow()), as_json)


@live_codes_app.command("create")
@readable_errors
def create(
    name: str,
    kind: Annotated[LiveCodeKind, typer.Option(help="Where the code is shown.")],
    channel: Annotated[str, typer.Option(help="First-touch channel (utm_source).")],
    staff: Annotated[
        list[str] | None, typer.Option(help="Staff id (repeat); id:backup for a backup.")
    ] = None,
    scene: Annotated[str | None, typer.Option(help="Scene parameter; generated if absent.")] = None,
    store: Annotated[str | None, typer.Option(help="Store id.")] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a channel live code rotating among staff."""
    assignments = [
        StaffAssignment(staff_id=s.removesuffix(":backup"), backup=s.endswith(":backup"))
        for s in staff or []
    ]
    try:
        code = LiveCodeCreate(name=name, kind=kind, channel=channel, scene=scene, store_id=store,
                              staff=assignments)  # fmt: skip
    except ValueError as exc:
        raise InvalidInputError(str(exc).splitlines()[-1], field="scene") from None
    _echo(transact(workspace, livecodes.create_live_code, code=code, now=utcnow()), as_json)


@live_codes_app.command("list")
@readable_errors
def list_codes(workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """Every live code, newest first."""
    _echo(transact(workspace, livecodes.list_live_codes), as_json)


@live_codes_app.command("qr")
@readable_errors
def qr(
    code_id: str,
    out: Annotated[Path, typer.Option(help="Where to write; .png or .svg.")],
    workspace: WorkspaceOption = None,
) -> None:
    """Write a live code's QR image (PNG or SVG by the file's suffix)."""
    code = transact(workspace, livecodes.get_live_code, code_id=code_id)
    if out.suffix.lower() == ".png":
        out.write_bytes(codes.qr_png(code.url))
    elif out.suffix.lower() == ".svg":
        out.write_text(codes.qr_svg(code.url), encoding="utf-8")
    else:
        raise InvalidInputError("out must end in .png or .svg", field="out")
    typer.echo(str(out))


@live_codes_app.command("scan")
@readable_errors
def scan(
    code_id: str,
    identifier_type: str,
    identifier: str,
    action: Annotated[str, typer.Option(help="scan or add.")] = "add",
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record a scan or contact add through a live code."""
    if action not in ("scan", "add"):
        raise InvalidInputError("action must be scan or add", field="action")
    with open_workspace(workspace) as (rt, ws):
        body = ScanCreate(identifier_type=identifier_type, identifier=identifier, action=action)
        result = pipeline.record_live_code_scan(
            runtime=rt, workspace_id=ws.id, code_id=code_id, scan=body, now=utcnow()
        )
    _echo(result, as_json)


@live_codes_app.command("stats")
@readable_errors
def stats(code_id: str, workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """Scans, adds, customers, first orders and GMV of a code."""
    _echo(transact(workspace, livecodes.live_code_stats, code_id=code_id), as_json)


@live_codes_app.command("credit")
@readable_errors
def credit(
    by: Annotated[str, typer.Option(help="staff or store.")] = "staff",
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Customers, GMV and repurchase per staff member or store."""
    if by not in ("staff", "store"):
        raise InvalidInputError("by must be staff or store", field="by")
    kind: Literal["staff", "store"] = "staff" if by == "staff" else "store"
    _echo(transact(workspace, livecodes.credit, by=kind), as_json)


@referrals_app.command("code")
@readable_errors
def invite_code(
    person_id: str, workspace: WorkspaceOption = None, as_json: JsonOption = False
) -> None:
    """A person's invite code and link."""
    _echo(transact(workspace, referral.invite_code, person_id=person_id, now=utcnow()), as_json)


@referrals_app.command("tree")
@readable_errors
def tree(
    person_id: str,
    depth: Annotated[int, typer.Option(min=1, max=50)] = 10,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Everyone a person brought, level by level."""
    nodes = transact(workspace, referral.subtree, person_id=person_id, max_depth=depth)
    if as_json:
        _echo(nodes, True)
        return
    for node in nodes:
        typer.echo(f"{'  ' * node.depth}{node.person_id}")


@referrals_app.command("leaderboard")
@readable_errors
def leaderboard(
    limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """K-factor and the top inviters."""
    summary = transact(workspace, referral.summary, limit=limit)
    if as_json:
        _echo(summary, True)
        return
    typer.echo(f"inviters {summary.inviters}  invitees {summary.invitees}  "
               f"K {summary.k_factor:.2f}  K(ordered) {summary.k_factor_ordered:.2f}")  # fmt: skip
    for row in summary.leaderboard:
        typer.echo(
            f"{row.person_id}  {row.invitees:>5}  {row.ordered:>5}  {row.gmv_fen / 100:>12.2f}"
        )


@referrals_app.command("refusals")
@readable_errors
def refusals(workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """Referrals refused by anti-fraud rules, with the reason."""
    _echo(transact(workspace, referral.refusals), as_json)


@referrals_app.command("pay")
@readable_errors
def pay(workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """Pay pending referral rewards through loyalty (points, coupons)."""
    with open_workspace(workspace) as (rt, ws):
        payout = pipeline.pay_referral_rewards(runtime=rt, workspace_id=ws.id, now=utcnow())
    if as_json:
        _echo(payout, True)
        return
    typer.echo(f"paid {len(payout.paid)}  failed {len(payout.failed)}")
    for failure in payout.failed:
        typer.echo(f"{failure.idempotency_key}: {failure.reason}")

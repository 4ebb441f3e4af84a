"""``siyu tiers``, ``siyu members`` and ``siyu coupons``: the ladder, members, coupons."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError

from siyu.cli.main import JsonOption, WorkspaceOption, readable_errors, transact
from siyu.core.clock import utcnow
from siyu.core.errors import InvalidInputError
from siyu.loyalty import coupon_service as coupons
from siyu.loyalty import membership
from siyu.loyalty.coupon_models import CouponTemplateCreate, Redemption
from siyu.loyalty.tier_models import GrowthCreate, MemberEnrol, TierLadder

tiers_app: typer.Typer = typer.Typer(
    help="Membership tiers: ladder, board, period-end job.", no_args_is_help=True
)
members_app: typer.Typer = typer.Typer(
    help="Members: enrol, import, growth, history.", no_args_is_help=True
)
coupons_app: typer.Typer = typer.Typer(
    help="Coupons: templates, issue, redeem, void, expire.", no_args_is_help=True
)

M = TypeVar("M", bound=BaseModel)
KeyOption = Annotated[
    str | None, typer.Option("--key", help="Idempotency key: a rerun does nothing twice.")
]


def _load(model: type[M], file: Path) -> M:
    try:
        return model.model_validate(json.loads(file.read_text(encoding="utf-8")))
    except OSError as exc:
        raise InvalidInputError(f"cannot read {file}: {exc.strerror}", field="file") from None
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"{file} is not JSON: {exc.msg}", field="file") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidInputError(
            first["msg"], field=".".join(str(p) for p in first["loc"]) or "file"
        ) from None


def _echo(value: Any, as_json: bool) -> None:
    if isinstance(value, list):
        if as_json:
            typer.echo(json.dumps([v.model_dump(mode="json") for v in value], ensure_ascii=False))
        for item in [] if as_json else value:
            typer.echo("  ".join(str(v) for v in item.model_dump(mode="json").values()))
        return
    data = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False))
        return
    for key, item in data.items():
        typer.echo(f"{key:16} {item}")


# -- siyu tiers -----------------------------------------------------------------------------


@tiers_app.command("set")
@readable_errors
def tiers_set(
    file: Annotated[Path, typer.Argument(help="JSON: {policy, tiers: [...]}")],
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Replace the tier ladder."""
    _echo(
        transact(workspace, membership.set_tiers, ladder=_load(TierLadder, file), now=utcnow()),
        as_json,
    )


@tiers_app.command("board")
@readable_errors
def tiers_board(workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """Members per tier."""
    board = transact(workspace, membership.distribution, now=utcnow())
    if as_json:
        _echo(board, True)
        return
    for t in board.tiers:
        typer.echo(f"{t.tier:10} {t.name:8} {t.members:8} {t.share:6.1%}")
    typer.echo(f"total {board.total}  in grace {board.in_grace}  paid {board.paid_active}")


@tiers_app.command("refresh")
@readable_errors
def tiers_refresh(workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """Re-evaluate every member (downgrades due now apply)."""
    _echo(transact(workspace, membership.refresh_members, now=utcnow()), as_json)


# -- siyu members ---------------------------------------------------------------------------


@members_app.command("enrol")
@readable_errors
def members_enrol(
    member_id: Annotated[str | None, typer.Option(help="Member number seen by identify.")] = None,
    person_id: Annotated[str | None, typer.Option(help="Or a person id.")] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Enrol one member."""
    if not (member_id or person_id):
        raise InvalidInputError("give --member-id or --person-id", field="member_id")
    enrol = MemberEnrol(member_id=member_id, person_id=person_id)
    _echo(transact(workspace, membership.enrol_member, enrol=enrol, now=utcnow()), as_json)


@members_app.command("import")
@readable_errors
def members_import(
    file: Annotated[Path, typer.Argument(help="CSV with a member_id or person_id column.")],
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Enrol every row; unknown members are counted."""
    try:
        with file.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise InvalidInputError(f"cannot read {file}: {exc.strerror}", field="file") from None
    if rows and not ({"member_id", "person_id"} & set(rows[0])):
        raise InvalidInputError("the CSV needs a member_id or person_id column", field="file")
    enrols = [
        MemberEnrol(member_id=r.get("member_id") or None, person_id=r.get("person_id") or None)
        for r in rows
        if r.get("member_id") or r.get("person_id")
    ]
    _echo(transact(workspace, membership.enrol_many, rows=enrols, now=utcnow()), as_json)


@members_app.command("grow")
@readable_errors
def members_grow(
    person_id: str,
    amount: int,
    reason: Annotated[str, typer.Option(help="Why.")] = "manual",
    key: KeyOption = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add growth value to a member."""
    growth = GrowthCreate(amount=amount, reason=reason)
    member = transact(
        workspace,
        membership.add_growth,
        person_id=person_id,
        growth=growth,
        now=utcnow(),
        idempotency_key=key,
    )
    _echo(member, as_json)


@members_app.command("show")
@readable_errors
def members_show(
    person_id: str, workspace: WorkspaceOption = None, as_json: JsonOption = False
) -> None:
    """A member, its tier and benefits."""
    _echo(transact(workspace, membership.get_member, person_id=person_id, now=utcnow()), as_json)


@members_app.command("history")
@readable_errors
def members_history(
    person_id: str, workspace: WorkspaceOption = None, as_json: JsonOption = False
) -> None:
    """A member's tier history."""
    _echo(transact(workspace, membership.tier_history, person_id=person_id), as_json)


# -- siyu coupons ---------------------------------------------------------------------------


@coupons_app.command("create")
@readable_errors
def coupons_create(
    file: Annotated[Path, typer.Argument(help="JSON coupon template.")],
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a coupon template."""
    template = _load(CouponTemplateCreate, file)
    _echo(transact(workspace, coupons.create_template, template=template, now=utcnow()), as_json)


@coupons_app.command("templates")
@readable_errors
def coupons_templates(workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """Coupon templates."""
    _echo(transact(workspace, coupons.list_templates), as_json)


@coupons_app.command("issue")
@readable_errors
def coupons_issue(
    template_id: str,
    person_id: str,
    key: KeyOption = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Issue one coupon to a person."""
    coupon = transact(
        workspace,
        coupons.issue_coupon,
        template_id=template_id,
        person_id=person_id,
        now=utcnow(),
        idempotency_key=key,
        source="cli",
    )
    _echo(coupon, as_json)


@coupons_app.command("issue-segment")
@readable_errors
def coupons_issue_segment(
    template_id: str,
    segment_id: str,
    key: Annotated[str, typer.Option("--key", help="Idempotency key (required).")],
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Issue one coupon to every member of a segment."""
    result = transact(
        workspace,
        coupons.issue_to_segment,
        template_id=template_id,
        segment_id=segment_id,
        now=utcnow(),
        idempotency_key=key,
    )
    _echo(result, as_json)


@coupons_app.command("redeem")
@readable_errors
def coupons_redeem(
    coupon_id: str,
    order_id: Annotated[str, typer.Option("--order")],
    amount_fen: Annotated[int, typer.Option("--amount-fen", min=0)],
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Redeem a coupon against an order (idempotent per order)."""
    redemption = Redemption(order_id=order_id, order_amount_fen=amount_fen)
    _echo(
        transact(
            workspace,
            coupons.redeem_coupon,
            coupon_id=coupon_id,
            redemption=redemption,
            now=utcnow(),
        ),
        as_json,
    )


@coupons_app.command("void")
@readable_errors
def coupons_void(
    coupon_id: str,
    reason: Annotated[str | None, typer.Option(help="Why.")] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Void an unused coupon."""
    _echo(
        transact(workspace, coupons.void_coupon, coupon_id=coupon_id, reason=reason, now=utcnow()),
        as_json,
    )


@coupons_app.command("expire")
@readable_errors
def coupons_expire(workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """Mark coupons past their window expired."""
    _echo(transact(workspace, coupons.expire_coupons, now=utcnow()), as_json)

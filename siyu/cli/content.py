"""``siyu content``: the material library — list, add from a JSON file, show, a sharer's
tracked link (and poster QR), and performance side by side."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

import orjson
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from siyu.cli.main import JsonOption, WorkspaceOption, echo, open_workspace, readable_errors
from siyu.content import links
from siyu.content import service as content
from siyu.content.models import Content, ContentCreate, ContentKind, ContentStatus, LinkCreate
from siyu.core.clock import utcnow
from siyu.core.errors import InvalidInputError
from siyu.pipeline import content_performance
from siyu.referral import codes

_COUNTS = ("reach", "views", "clicks", "shares", "new_contacts", "orders")

content_app: typer.Typer = typer.Typer(
    help="Material library (素材库): items, channel variants, tracked links, performance.",
    no_args_is_help=True,
)


def _read(file: Path) -> ContentCreate:
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(f"cannot read {file}: {exc.strerror}", field="file") from None
    try:
        return ContentCreate.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "file"
        raise InvalidInputError(f"{where}: {first['msg']}", field=where) from None


def _line(c: Content) -> str:
    channels = ",".join(v.channel for v in c.variants) or "-"
    return f"{c.id}  {c.kind.value:16}  {c.status.value:9}  v{c.version}  {c.title}  [{channels}]"


@content_app.command("list")
@readable_errors
def list_(
    kind: Annotated[ContentKind | None, typer.Option(help="Only this kind.")] = None,
    status: Annotated[ContentStatus | None, typer.Option(help="Only this status.")] = None,
    tag: Annotated[str | None, typer.Option(help="Only items with this tag.")] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Items, newest change first."""
    with open_workspace(workspace) as (rt, ws), rt.sessions() as session:
        found = content.list_content(
            session=session, workspace_id=ws.id, kind=kind, status=status, tag=tag
        )
    echo(found, as_json, _line)


@content_app.command("add")
@readable_errors
def add(
    file: Annotated[Path, typer.Argument(help="A JSON file of the item (see docs/content.md).")],
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add an item from a JSON file."""
    body = _read(file)
    with open_workspace(workspace) as (rt, ws), rt.sessions() as session, session.begin():
        made = content.create_content(
            session=session, workspace_id=ws.id, item=body, now=utcnow(), by="cli"
        )
    echo(made, as_json, _line)


@content_app.command("show")
@readable_errors
def show(content_id: str, workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """One item with its variants and links."""
    with open_workspace(workspace) as (rt, ws), rt.sessions() as session:
        item = content.get_content(session=session, workspace_id=ws.id, content_id=content_id)
        found = links.list_links(
            session=session,
            workspace_id=ws.id,
            content_id=content_id,
            base_url=rt.settings.public_url,
        )
    if as_json:
        typer.echo(
            orjson.dumps(
                {
                    **item.model_dump(mode="json"),
                    "links": [k.model_dump(mode="json") for k in found],
                }
            ).decode()
        )
        return
    typer.echo(_line(item))
    for v in item.variants:
        typer.echo(f"  variant {v.model_dump_json(exclude={'channel'})}  ({v.channel})")
    for k in found:
        typer.echo(f"  link {k.url}  {k.channel}  sharer {k.sharer_id or '-'}  depth {k.depth}")


@content_app.command("link")
@readable_errors
def link(
    content_id: str,
    sharer: Annotated[str | None, typer.Option(help="The sharer's person id.")] = None,
    channel: Annotated[str, typer.Option(help="wecom, sms… or share, poster.")] = "share",
    qr: Annotated[Path | None, typer.Option(help="Write the link as a PNG QR here.")] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """A sharer's tracked link of an item (made on first ask), optionally as a poster QR."""
    try:
        ask = LinkCreate(channel=channel, sharer_id=sharer)
    except ValidationError as exc:
        raise InvalidInputError(exc.errors()[0]["msg"], field="channel") from None
    with open_workspace(workspace) as (rt, ws), rt.sessions() as session, session.begin():
        made, _ = links.link_for(
            session=session,
            workspace_id=ws.id,
            content_id=content_id,
            link=ask,
            now=utcnow(),
            base_url=rt.settings.public_url,
        )
    if qr is not None:
        qr.write_bytes(codes.qr_png(made.url))
    typer.echo(made.model_dump_json() if as_json else made.url)


@content_app.command("performance")
@readable_errors
def performance(
    days: Annotated[int, typer.Option(min=1, max=366, help="The last N days.")] = 30,
    window: Annotated[int, typer.Option(help="Attribution window in days (1–90).")] = 7,
    content_id: Annotated[str | None, typer.Option("--content", help="One item.")] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Reach, views, clicks, shares, new contacts, orders and GMV per item and channel."""
    end = utcnow()
    with open_workspace(workspace) as (rt, ws):
        found = content_performance.content_performance(
            runtime=rt,
            workspace_id=ws.id,
            start=end - timedelta(days=days),
            end=end,
            window_days=window,
            content_id=content_id,
        )
    if as_json:
        typer.echo(found.model_dump_json())
        return
    table = Table(
        "item",
        "channel",
        "reach",
        "views",
        "clicks",
        "shares",
        "new contacts",
        "orders",
        "GMV (yuan)",
    )
    for item in found.items:
        for label, channel, row in [(item.title, "all", item)] + [
            ("", c.channel, c) for c in item.channels
        ]:
            table.add_row(
                label,
                channel,
                *(str(getattr(row, n)) for n in _COUNTS),
                f"{row.gmv_fen / 100:,.2f}",
            )
    Console().print(table)

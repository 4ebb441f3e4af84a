"""``siyu keys``: create, list, rotate and revoke a workspace's API keys."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from siyu.accounts import keys
from siyu.accounts.models import ApiKeyCreated, KeyKind
from siyu.cli.main import JsonOption, WorkspaceOption, pick_workspace, readable_errors, runtime
from siyu.core.clock import utcnow

keys_app: typer.Typer = typer.Typer(
    help="API keys: write keys (collect) and secret keys with scopes.", no_args_is_help=True
)


def _show(created: ApiKeyCreated, as_json: bool) -> None:
    if as_json:
        typer.echo(created.model_dump_json())
        return
    key = created.api_key
    typer.echo(f"{key.id}  {key.kind.value}  {key.name}  {' '.join(key.scopes)}")
    typer.echo(f"key  {created.key}   (shown once; keep it safe)")


@keys_app.command("create")
@readable_errors
def keys_create(
    name: Annotated[str, typer.Option("--name", help="What the key is for.")],
    kind: Annotated[KeyKind, typer.Option("--kind", help="write or secret.")] = KeyKind.secret,
    scope: Annotated[
        list[str] | None,
        typer.Option("--scope", help="A permission (repeat); default: all, as an owner."),
    ] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a key and print it (the only time it is shown)."""
    rt = runtime()
    ws = pick_workspace(rt, workspace)
    with rt.sessions() as session, session.begin():
        created = keys.create_key(
            session=session, workspace_id=ws.id, kind=kind, name=name, scopes=scope, now=utcnow()
        )
    _show(created, as_json)


@keys_app.command("list")
@readable_errors
def keys_list(workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """The workspace's keys (never the secrets), revoked ones marked."""
    rt = runtime()
    ws = pick_workspace(rt, workspace)
    with rt.sessions() as session:
        found = keys.list_keys(session=session, workspace_id=ws.id)
    if as_json:
        typer.echo(json.dumps([k.model_dump(mode="json") for k in found]))
        return
    for k in found:
        state = "revoked" if k.revoked_at else "live"
        typer.echo(f"{k.id}  {k.kind.value}  {k.name}  {k.hint}…  {state}  {' '.join(k.scopes)}")


@keys_app.command("rotate")
@readable_errors
def keys_rotate(
    key_id: str, workspace: WorkspaceOption = None, as_json: JsonOption = False
) -> None:
    """Give a key a new secret; the old one stops at once."""
    rt = runtime()
    ws = pick_workspace(rt, workspace)
    with rt.sessions() as session, session.begin():
        created = keys.rotate_key(session=session, workspace_id=ws.id, key_id=key_id, now=utcnow())
    _show(created, as_json)


@keys_app.command("revoke")
@readable_errors
def keys_revoke(key_id: str, workspace: WorkspaceOption = None) -> None:
    """Revoke a key for good."""
    rt = runtime()
    ws = pick_workspace(rt, workspace)
    with rt.sessions() as session, session.begin():
        revoked = keys.revoke_key(session=session, workspace_id=ws.id, key_id=key_id, now=utcnow())
    typer.echo(f"{revoked.id}  revoked")

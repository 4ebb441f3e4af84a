"""``siyu keys``: create, list, rotate and revoke a workspace's API keys; rotate the master
keyring that encrypts personal data at rest."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from siyu.accounts import keys
from siyu.accounts.models import ApiKeyCreated, KeyKind
from siyu.cli.main import JsonOption, WorkspaceOption, open_workspace, readable_errors, runtime
from siyu.core.clock import utcnow
from siyu.core.crypto import (
    KeyringError,
    Vault,
    key_file,
    keyring_line,
    with_new_key,
    without_key,
    write_key_file,
)
from siyu.core.errors import InvalidInputError
from siyu.core.runtime import Runtime
from siyu.pipeline import key_rotation

keys_app: typer.Typer = typer.Typer(
    help="API keys (write keys for collect, secret keys with scopes) and the master keyring.",
    no_args_is_help=True,
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
    with open_workspace(workspace) as (rt, ws), rt.sessions() as session, session.begin():
        created = keys.create_key(
            session=session, workspace_id=ws.id, kind=kind, name=name, scopes=scope, now=utcnow()
        )
    _show(created, as_json)


@keys_app.command("list")
@readable_errors
def keys_list(workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """The workspace's keys (never the secrets), revoked ones marked."""
    with open_workspace(workspace) as (rt, ws), rt.sessions() as session:
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
    with open_workspace(workspace) as (rt, ws), rt.sessions() as session, session.begin():
        created = keys.rotate_key(session=session, workspace_id=ws.id, key_id=key_id, now=utcnow())
    _show(created, as_json)


@keys_app.command("revoke")
@readable_errors
def keys_revoke(key_id: str, workspace: WorkspaceOption = None) -> None:
    """Revoke a key for good."""
    with open_workspace(workspace) as (rt, ws), rt.sessions() as session, session.begin():
        revoked = keys.revoke_key(session=session, workspace_id=ws.id, key_id=key_id, now=utcnow())
    typer.echo(f"{revoked.id}  revoked")


# -- the master keyring (PII at rest) -------------------------------------------------------

BatchOption = Annotated[int, typer.Option("--batch-size", min=1, help="Rows per transaction.")]


def _reencrypt(rt: Runtime, vault: Vault, batch_size: int) -> None:
    with rt.sessions() as session:
        total = key_rotation.pending(session=session, vault=vault)
    with Progress(
        TextColumn("re-encrypting under {task.fields[key]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    ) as bar:
        task = bar.add_task("reencrypt", total=total, key=vault.active_id)
        report = key_rotation.reencrypt_all(
            sessions=rt.sessions,
            vault=vault,
            batch_size=batch_size,
            progress=lambda n: bar.advance(task, n),
        )
    for name, count in report.rewritten.items():
        typer.echo(f"{name}  {count} re-encrypted")
    if report.skipped_changed:
        typer.echo(
            f"{report.skipped_changed} not rewritten: changed meanwhile by their writer, or "
            "no key opens them (see master-status; save those values again)"
        )
    typer.echo(f"every ciphertext now under {vault.active_id}; {report.total} rewritten")


def _replace_keyring(rt: Runtime, vault: Vault) -> bool:
    """Write the key file; with SIYU_MASTER_KEY set, print the new value instead (False)."""
    if rt.settings.master_key:
        typer.echo("SIYU_MASTER_KEY is set, so siyu cannot change it. Set it to:")
        typer.echo(keyring_line(vault))
        return False
    write_key_file(key_file(rt.settings.data_dir), vault)
    return True


def _keyring_errors(command: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            command(*args, **kwargs)
        except KeyringError as exc:
            raise InvalidInputError(str(exc), field="master_key") from None

    return wrapper


@keys_app.command("master-status")
@readable_errors
@_keyring_errors
def master_status(as_json: JsonOption = False) -> None:
    """The master keyring's key ids and how many ciphertexts each key seals, per column."""
    rt = runtime()
    with rt.sessions() as session:
        counts = key_rotation.count_by_key(session=session, vault=rt.vault)
    if as_json:
        shown = {"active": rt.vault.active_id, "keys": rt.vault.key_ids, "columns": counts}
        typer.echo(json.dumps(shown))
        return
    typer.echo(f"keys {' '.join(rt.vault.key_ids)}  (active {rt.vault.active_id})")
    for name, per_key in counts.items():
        typer.echo(f"{name}  " + "  ".join(f"{k}={n}" for k, n in per_key.items()))


@keys_app.command("rotate-master")
@readable_errors
@_keyring_errors
def rotate_master(batch_size: BatchOption = 1000) -> None:
    """Add a new master key, make it the one that encrypts, and re-encrypt every ciphertext.

    Restart every other siyu process afterwards (they must learn the new key), run
    reencrypt-master once more for what they wrote meanwhile, then retire-master the old key.
    """
    rt = runtime()
    vault = with_new_key(rt.vault)
    if not _replace_keyring(rt, vault):
        typer.echo("then run: siyu keys reencrypt-master")
        return
    typer.echo(f"master key {vault.active_id} added to {key_file(rt.settings.data_dir)}")
    _reencrypt(rt, vault, batch_size)


@keys_app.command("reencrypt-master")
@readable_errors
@_keyring_errors
def reencrypt_master(batch_size: BatchOption = 1000) -> None:
    """Re-encrypt every ciphertext not yet under the active master key (resumable)."""
    rt = runtime()
    _reencrypt(rt, rt.vault, batch_size)


@keys_app.command("retire-master")
@readable_errors
@_keyring_errors
def retire_master(key_id: str) -> None:
    """Drop an old master key from the keyring once no ciphertext uses it."""
    rt = runtime()
    vault = without_key(rt.vault, key_id)
    with rt.sessions() as session:
        key_rotation.check_retirable(session=session, vault=rt.vault, key_id=key_id)
    if _replace_keyring(rt, vault):
        typer.echo(f"master key {key_id} retired; keys {' '.join(vault.key_ids)}")

"""``siyu``: create workspaces, serve, import, rebuild identities, build the demo brand.

Every command answers bad input with one readable line on stderr and a non-zero exit code
(2 bad input, 3 auth, 4 not found, 5 conflict, 6 store).
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from siyu.core.clock import utcnow
from siyu.core.errors import (
    AuthError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    SiyuError,
    StoreError,
)
from siyu.core.runtime import Runtime, open_runtime
from siyu.workspaces import service as workspaces

app = typer.Typer(help="siyu (私域): your brand's own customer pool.", no_args_is_help=True)
workspace_app = typer.Typer(help="Workspaces (one per brand).", no_args_is_help=True)
identity_app = typer.Typer(help="The identity graph (OneID).", no_args_is_help=True)
app.add_typer(workspace_app, name="workspace")
app.add_typer(identity_app, name="identity")

err = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])

EXIT_CODES: list[tuple[type[SiyuError], int]] = [
    (InvalidInputError, 2),
    (AuthError, 3),
    (NotFoundError, 4),
    (ConflictError, 5),
    (StoreError, 6),
]


def exit_code_of(error: SiyuError) -> int:
    """The exit code for an error class."""
    return next((code for cls, code in EXIT_CODES if isinstance(error, cls)), 1)


def readable_errors(command: F) -> F:
    """Turn a SiyuError into one line on stderr and its exit code."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except SiyuError as exc:
            where = f" ({exc.field})" if exc.field else ""
            err.print(f"[red]error[/red]{where}: {exc.message}", highlight=False)
            raise typer.Exit(exit_code_of(exc)) from None

    return wrapper  # type: ignore[return-value]


def runtime() -> Runtime:
    """The stores named by the environment, migrated."""
    return open_runtime()


@app.command()
@readable_errors
def migrate() -> None:
    """Create or upgrade the operational store's tables."""
    open_runtime().close()
    typer.echo("migrated")


@workspace_app.command("create")
@readable_errors
def workspace_create(
    name: str,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    timezone: Annotated[str, typer.Option(help="IANA zone for display.")] = "Asia/Shanghai",
) -> None:
    """Create a workspace and print its keys (the secret key is shown only now)."""
    rt = runtime()
    with rt.sessions() as session, session.begin():
        created = workspaces.create_workspace(
            session=session, name=name, now=utcnow(), timezone=timezone
        )
    if as_json:
        typer.echo(json.dumps(created.model_dump()))
        return
    typer.echo(f"workspace_id  {created.workspace_id}")
    typer.echo(f"write_key     {created.write_key}")
    typer.echo(f"secret_key    {created.secret_key}   (shown once; keep it safe)")


@workspace_app.command("list")
@readable_errors
def workspace_list() -> None:
    """List workspaces."""
    rt = runtime()
    with rt.sessions() as session:
        for ws in workspaces.list_workspaces(session=session):
            typer.echo(f"{ws.id}  {ws.name}  {ws.timezone}")


@app.command()
@readable_errors
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Serve the collection and management API over an existing data directory."""
    import uvicorn

    from siyu.api.app import create_app

    rt = runtime()
    uvicorn.run(create_app(rt), host=host, port=port, log_level="warning")


@app.command()
@readable_errors
def flush() -> None:
    """Move events waiting in the inbox to the event store now."""
    from siyu import pipeline

    moved = pipeline.flush(runtime=runtime())
    typer.echo(f"moved {moved} events to the event store")


def main() -> None:  # pragma: no cover - console entry
    """Entry point for ``python -m siyu.cli.main``."""
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())

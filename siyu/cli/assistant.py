"""``siyu bot``: the community assistant — evaluate, ask, import a knowledge base, seed the
demo KB, list handed-over questions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from siyu.assistant import service as assistant
from siyu.assistant.models import EvalReport
from siyu.cli.main import JsonOption, WorkspaceOption, open_workspace, readable_errors
from siyu.core.clock import utcnow
from siyu.core.errors import InvalidInputError

bot_app: typer.Typer = typer.Typer(
    help="Community assistant (社群助手): knowledge base, evaluation, hand-overs.",
    no_args_is_help=True,
)
out = Console()


def _eval_table(report: EvalReport) -> Table:
    questions = report.results[0].questions if report.results else 0
    table = Table(
        title=f"Held-out 山茶集 questions ({questions}); assistant threshold "
        f"{report.threshold:.2f}, margin {report.min_margin:.2f}"
    )
    for name in ("method", "accuracy", "hand-over", "wrong answer"):
        table.add_column(name, justify="left" if name == "method" else "right")
    for r in report.results:
        table.add_row(
            r.method, f"{r.accuracy:.1%}", f"{r.handover_rate:.1%}", f"{r.wrong_rate:.1%}"
        )
    return table


@bot_app.command("evaluate")
@readable_errors
def evaluate(
    threshold: Annotated[
        float | None, typer.Option(help="Confidence threshold (default: the workspace default).")
    ] = None,
    margin: Annotated[float | None, typer.Option(help="Minimum margin over the second.")] = None,
    misses: Annotated[bool, typer.Option(help="List the assistant's misses.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Accuracy, hand-over and wrong-answer rates on the held-out questions, against the
    keyword and character-bigram TF-IDF baselines."""
    for value, field in ((threshold, "threshold"), (margin, "margin")):
        if value is not None and not 0 <= value <= 1:
            raise InvalidInputError(f"{field} must be between 0 and 1", field=field)
    report = assistant.evaluate(threshold=threshold, min_margin=margin)
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
        return
    out.print(_eval_table(report))
    if misses:
        for line in report.results[0].misses:
            out.print(f"  {line}")


@bot_app.command("ask")
@readable_errors
def ask(
    question: Annotated[str, typer.Argument(help="A customer's question.")],
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """What the assistant would answer in the workspace (nothing is recorded)."""
    with open_workspace(workspace) as (rt, ws), rt.sessions() as session:
        reply = assistant.ask(session=session, workspace_id=ws.id, question=question)
    if as_json:
        typer.echo(reply.model_dump_json())
        return
    which = reply.entry_id or reply.rule_id or "-"
    typer.echo(f"{reply.outcome.value} ({which}, confidence {reply.confidence:.2f}): {reply.text}")


@bot_app.command("import")
@readable_errors
def import_kb(
    file: Annotated[Path, typer.Argument(help="CSV: id,question,alternatives,answer,tags.")],
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create or update knowledge-base entries from a CSV file (UTF-8 or GBK)."""
    if not file.is_file():
        raise InvalidInputError(f"no file {file}", field="file")
    with open_workspace(workspace) as (rt, ws), rt.sessions() as session, session.begin():
        summary = assistant.import_entries(
            session=session, workspace_id=ws.id, data=file.read_bytes(), now=utcnow()
        )
    if as_json:
        typer.echo(summary.model_dump_json())
        return
    typer.echo(f"created {summary.created}, updated {summary.updated}")
    for line in summary.rejected:
        typer.echo(f"rejected {line}")


@bot_app.command("seed-demo")
@readable_errors
def seed_demo(workspace: WorkspaceOption = None) -> None:
    """Load the shipped 山茶集 knowledge base, synonyms and keyword rules into a workspace."""
    with open_workspace(workspace) as (rt, ws), rt.sessions() as session, session.begin():
        summary = assistant.seed_demo(session=session, workspace_id=ws.id, now=utcnow())
    typer.echo(f"created {summary.created}, updated {summary.updated}")


@bot_app.command("unanswered")
@readable_errors
def unanswered(
    workspace: WorkspaceOption = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: JsonOption = False,
) -> None:
    """Questions handed over to a human, most asked first."""
    with open_workspace(workspace) as (rt, ws), rt.sessions() as session:
        rows = assistant.list_unanswered(session=session, workspace_id=ws.id, limit=limit)
    if as_json:
        typer.echo("[" + ",".join(r.model_dump_json() for r in rows) + "]")
        return
    table = Table(title="Handed over")
    for name in ("count", "question", "closest entry", "confidence", "last asked"):
        table.add_column(name)
    for r in rows:
        table.add_row(
            str(r.count),
            r.question,
            r.best_entry_id or "-",
            f"{r.best_confidence:.2f}",
            f"{r.last_at:%Y-%m-%d %H:%M}",
        )
    out.print(table)

"""``siyu recommend``: train, evaluate, show a person's products, load stock flags."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import TypeAdapter, ValidationError
from rich.console import Console
from rich.table import Table

from siyu.cli.main import JsonOption, WorkspaceOption, open_workspace, readable_errors
from siyu.core.clock import utcnow
from siyu.core.errors import InvalidInputError
from siyu.recommend import service as recommend
from siyu.recommend.models import Evaluation, Filters, ProductUpdate

recommend_app: typer.Typer = typer.Typer(
    help="Product recommendations (ALS/BPR, bought-together, popular).", no_args_is_help=True
)
out = Console()
_TRUE = {"1", "true", "yes", "y", "是", "有货"}
_FALSE = {"0", "false", "no", "n", "否", "缺货", ""}


def _instant(text: str, field: str) -> datetime:
    try:
        found = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(f"{text!r} is not a date or time (ISO 8601)", field=field) from None
    return found if found.tzinfo else found.replace(tzinfo=UTC)


@recommend_app.command("train")
@readable_errors
def train(workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """Train the workspace's models now and make them current."""
    with open_workspace(workspace) as (rt, ws):
        info = recommend.train(runtime=rt, workspace_id=ws.id, now=utcnow())
    if as_json:
        typer.echo(info.model_dump_json())
        return
    typer.echo(
        f"trained {info.algorithm.value} on {info.persons:,} persons × {info.products:,} products"
        f" ({info.interactions:,} cells, {info.orders:,} orders) in {info.seconds:.2f} s"
    )


def _table(found: Evaluation) -> Table:
    table = Table(
        title=f"Recommendations @{found.k}: trained before {found.split_at:%Y-%m-%d %H:%M}, "
        f"tested to {found.until:%Y-%m-%d %H:%M} UTC ({found.test_persons:,} persons)"
    )
    for name in ("method", f"precision@{found.k}", f"recall@{found.k}", "MAP", "NDCG", "coverage"):
        table.add_column(name, justify="left" if name == "method" else "right")
    for m in found.methods:
        table.add_row(
            m.method,
            f"{m.precision:.4f}",
            f"{m.recall:.4f}",
            f"{m.map:.4f}",
            f"{m.ndcg:.4f}",
            f"{m.coverage:.1%}",
        )
    return table


@recommend_app.command("evaluate")
@readable_errors
def evaluate(
    k: Annotated[int, typer.Option("--k", help="List length, 1–100.")] = 10,
    split_at: Annotated[
        str | None, typer.Option(help="Train before, test after (ISO; default: until − test days).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="End of the test window (default now).")] = None,
    test_days: Annotated[int, typer.Option(min=1, max=365, help="Default test window.")] = 30,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Precision, recall, MAP, NDCG and coverage @k of ALS, BPR, bought-together and popular."""
    recommend.check_k(k)
    end = _instant(until, "until") if until else utcnow()
    split = _instant(split_at, "split_at") if split_at else end - timedelta(days=test_days)
    with open_workspace(workspace) as (rt, ws):
        found = recommend.evaluate(runtime=rt, workspace_id=ws.id, split_at=split, until=end, k=k)
    if as_json:
        typer.echo(found.model_dump_json())
        return
    out.print(_table(found))
    out.print(
        f"train: {found.train_persons:,} persons, {found.products:,} products, "
        f"{found.train_interactions:,} cells"
    )


@recommend_app.command("show")
@readable_errors
def show(
    person_id: str,
    k: Annotated[int, typer.Option("--k", help="How many, 1–100.")] = 10,
    category: Annotated[str | None, typer.Option(help="Only this category.")] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """A person's recommended products, best first, with the reason of each."""
    with open_workspace(workspace) as (rt, ws):
        found = recommend.recommend_for(
            runtime=rt,
            workspace_id=ws.id,
            person_id=person_id,
            k=k,
            filters=Filters(category=category),
            now=utcnow(),
        )
    if as_json:
        typer.echo(found.model_dump_json())
        return
    table = Table(title=f"{found.person_id} ({'known' if found.known else 'new'} to the model)")
    for name in ("#", "product", "name", "reason", "score"):
        table.add_column(name)
    for n, item in enumerate(found.items, start=1):
        table.add_row(
            str(n), item.product_id, item.name or "", item.reason.value, f"{item.score:.4f}"
        )
    out.print(table)


def _flag(value: Any, field: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidInputError(f"{value!r} is not yes/no", field=field)


def _read_updates(path: Path) -> list[ProductUpdate]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc.strerror}", field="file") from None
    if path.suffix.lower() == ".json":
        rows: list[dict[str, Any]] = json.loads(text)
    else:
        rows = list(csv.DictReader(text.splitlines()))
    for n, row in enumerate(rows, start=1):
        for name in ("in_stock", "consumable"):
            if name in row:
                row[name] = _flag(row[name], f"row {n}: {name}")
        for name in ("category", "name", "url"):
            if row.get(name) == "":
                row[name] = None
    try:
        return TypeAdapter(list[ProductUpdate]).validate_python(rows)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInputError(f"{first['msg']} at {where}", field="file") from None


@recommend_app.command("stock")
@readable_errors
def stock(
    file: Annotated[Path, typer.Argument(help="CSV or JSON: product_id, in_stock, consumable…")],
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Load product flags (in_stock, consumable, category, name, url) from a file."""
    updates = _read_updates(file)
    with open_workspace(workspace) as (rt, ws):
        products = recommend.update_catalogue(
            runtime=rt, workspace_id=ws.id, updates=updates, now=utcnow()
        )
    if as_json:
        typer.echo(json.dumps([p.model_dump(mode="json") for p in products], ensure_ascii=False))
        return
    missing = sum(1 for p in products if not p.in_stock)
    typer.echo(
        f"{len(updates)} products updated; {len(products)} in the catalogue, {missing} out of stock"
    )

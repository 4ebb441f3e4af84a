"""``siyu ugc``: import posts from CSV, list, approve or reject them, set rewards, rank KOCs."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from siyu.cli.main import (
    JsonOption,
    RejectsOption,
    WorkspaceOption,
    err,
    open_workspace,
    readable_errors,
)
from siyu.core.clock import utcnow
from siyu.core.errors import InvalidInputError
from siyu.pipeline import ugc as flow
from siyu.pipeline import ugc_import
from siyu.ugc import service as ugc
from siyu.ugc.models import (
    DEFAULT_CAMPAIGN,
    ImportSummary,
    KocRanking,
    Platform,
    Post,
    PostFilter,
    PostStatus,
    RewardRule,
)

ugc_app: typer.Typer = typer.Typer(
    help="UGC and KOC (用户原创内容): customer posts, moderation, rewards, KOC ranking.",
    no_args_is_help=True,
)


def _line(p: Post) -> str:
    text = (p.text or p.url or "").replace("\n", " ")[:40]
    reward = ""
    if p.reward is not None:
        reward = f"  paid {p.reward.amount} points" if p.reward.kind == "points" else (
            f"  paid coupon {p.reward.template}"
        )  # fmt: skip
    return (
        f"{p.id}  {p.status.value:8}  {p.platform.value:14}  {p.person_id}  "
        f"{p.posted_at:%Y-%m-%d}  reach {p.metrics.reach}{reward}  {text}"
    )


def _lines_of_import(summary: ImportSummary) -> None:
    typer.echo(f"rows read        {summary.rows_read}")
    typer.echo(f"created          {summary.created}")
    typer.echo(f"duplicates       {summary.duplicates}")
    typer.echo(f"metrics updated  {summary.metrics_updated}")
    typer.echo(f"rejected         {summary.rejected}")
    for e in summary.errors[:20]:
        typer.echo(f"  row {e.row} ({e.field}): {e.message}")
    if summary.reject_file:
        typer.echo(f"reject file      {summary.reject_file}")


@ugc_app.command("import")
@readable_errors
def import_(
    file: Annotated[Path, typer.Argument(help="CSV (UTF-8 or GBK) of posts; see docs/ugc.md.")],
    workspace: WorkspaceOption = None,
    rejects: RejectsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Import posts; re-running the same file adds nothing (metrics given are recorded)."""
    with open_workspace(workspace) as (rt, ws):
        total = max(0, sum(1 for _ in file.open("rb")) - 1) if file.is_file() else None
        progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), console=err)  # fmt: skip
        with progress:
            task = progress.add_task("posts", total=total)
            summary = ugc_import.import_posts(
                runtime=rt, workspace_id=ws.id, file=file, timezone=ws.timezone, now=utcnow(),
                rejects_path=rejects, on_rows=lambda n: progress.advance(task, n),
            )  # fmt: skip
    if as_json:
        typer.echo(summary.model_dump_json())
    else:
        _lines_of_import(summary)


@ugc_app.command("list")
@readable_errors
def list_(
    status: Annotated[PostStatus | None, typer.Option(help="Only this status.")] = None,
    platform: Annotated[Platform | None, typer.Option(help="Only this platform.")] = None,
    person: Annotated[str | None, typer.Option("--person", help="Only this author.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Posts, newest first."""
    with open_workspace(workspace) as (rt, ws):
        where = PostFilter(status=status, platform=platform, person_id=person, limit=limit)
        with rt.sessions() as session:
            page = ugc.list_posts(session=session, workspace_id=ws.id, where=where)
    if as_json:
        typer.echo(page.model_dump_json())
        return
    for p in page.items:
        typer.echo(_line(p))
    typer.echo(f"{len(page.items)} of {page.total}")


@ugc_app.command("approve")
@readable_errors
def approve(
    post_ids: Annotated[list[str], typer.Argument(help="Post ids.")],
    actor: Annotated[str, typer.Option(help="Who approves (kept on the post).")] = "cli",
    workspace: WorkspaceOption = None,
) -> None:
    """Approve posts and pay each its reward through loyalty (once per post)."""
    with open_workspace(workspace) as (rt, ws):
        for post_id in post_ids:
            done = flow.approve_post(runtime=rt, workspace_id=ws.id, post_id=post_id,
                                     actor=actor, now=utcnow())  # fmt: skip
            typer.echo(_line(done))


@ugc_app.command("reject")
@readable_errors
def reject(
    post_id: str,
    reason: Annotated[str, typer.Option(help="Why (shown to operators).")],
    actor: Annotated[str, typer.Option(help="Who rejects.")] = "cli",
    workspace: WorkspaceOption = None,
) -> None:
    """Reject a post with a reason."""
    if not reason.strip():
        raise InvalidInputError("give a reason", field="reason")
    with open_workspace(workspace) as (rt, ws):
        done = flow.reject_post(runtime=rt, workspace_id=ws.id, post_id=post_id,
                                reason=reason.strip(), actor=actor, now=utcnow())  # fmt: skip
    typer.echo(_line(done))


@ugc_app.command("reward")
@readable_errors
def reward(
    points: Annotated[int | None, typer.Option(min=1, help="Points per approved post.")] = None,
    coupon: Annotated[str | None, typer.Option(help="Or: a coupon template id.")] = None,
    campaign: Annotated[str, typer.Option(help="A campaign, or * for the default.")] = "*",
    workspace: WorkspaceOption = None,
) -> None:
    """Set what an approved post earns (per campaign, or the workspace default)."""
    if (points is None) == (coupon is None):
        raise InvalidInputError("give exactly one of --points and --coupon", field="points")
    rule = RewardRule(kind="points", amount=points) if points else RewardRule(
        kind="coupon", template=coupon
    )  # fmt: skip
    with open_workspace(workspace) as (rt, ws), rt.sessions() as session, session.begin():
        ugc.set_reward_rule(session=session, workspace_id=ws.id, campaign=campaign,
                            rule=rule, now=utcnow())  # fmt: skip
    what = f"{points} points" if points else f"coupon {coupon}"
    typer.echo(f"{'default' if campaign == DEFAULT_CAMPAIGN else campaign}: {what}")


def _print_ranking(found: KocRanking) -> None:
    typer.echo(f"{found.start:%Y-%m-%d} → {found.end:%Y-%m-%d}, window {found.window_days} days")
    for r in found.items:
        mark = "KOC" if r.koc else "   "
        typer.echo(
            f"{r.rank:4}  {mark}  {r.person_id}  score {r.score:8.2f}  reach {r.reach:7}  "
            f"orders {r.orders:4}  GMV {r.gmv_fen:9} fen  approved {r.approved}/{r.posts}"
        )
    if found.tagged or found.untagged:
        typer.echo(f"tag KOC/koc: +{found.tagged} −{found.untagged}")


@ugc_app.command("kocs")
@readable_errors
def kocs(
    days: Annotated[int, typer.Option(min=1, max=3650, help="The period: the last N days.")] = 30,
    end: Annotated[datetime | None, typer.Option(help="Period end (UTC); default now.")] = None,
    window_days: Annotated[int, typer.Option(min=1, max=90, help="Attribution window.")] = 7,
    top: Annotated[int, typer.Option(min=1, max=1000, help="How many are KOCs.")] = 10,
    tag: Annotated[bool, typer.Option("--tag", help="Give the top ones the KOC/koc tag.")] = False,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Rank post authors by reach, orders and GMV their content brought, and approval rate."""
    now = utcnow()
    until = now if end is None else end.replace(tzinfo=end.tzinfo or now.tzinfo)
    with open_workspace(workspace) as (rt, ws):
        found = flow.rank_kocs(
            runtime=rt, workspace_id=ws.id, start=until - timedelta(days=days), end=until,
            now=now, window_days=window_days, top=top, apply_tags=tag,
        )  # fmt: skip
    if as_json:
        typer.echo(orjson.dumps(found.model_dump(mode="json")).decode())
        return
    _print_ranking(found)

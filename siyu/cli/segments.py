"""``siyu tags`` and ``siyu segments``: tag persons, define and refresh segments, export."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from siyu import pipeline
from siyu.cli.main import JsonOption, WorkspaceOption, open_workspace, readable_errors
from siyu.collect.models import IdType
from siyu.core.clock import utcnow
from siyu.core.errors import InvalidInputError
from siyu.profiles import tags
from siyu.profiles.tag_models import TagCreate, TagGroupCreate, TagKind
from siyu.segments import service as segments
from siyu.segments.models import CONDITION, Condition, SegmentCreate

tags_app: typer.Typer = typer.Typer(
    help="Tags: groups, manual, rule and model tags.", no_args_is_help=True
)
segments_app: typer.Typer = typer.Typer(
    help="Segments: preview, save, refresh, export.", no_args_is_help=True
)


def _read_json(file: Path) -> Any:
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInputError(f"cannot read {file}: {exc.strerror}", field="file") from None
    except json.JSONDecodeError as exc:
        raise InvalidInputError(
            f"{file} is not JSON: {exc.msg} at line {exc.lineno}", field="file"
        ) from None


def _validated(model: Any, raw: Any) -> Any:
    try:
        return model(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise InvalidInputError(first["msg"], field=field or "file") from None


def _definition(file: Path) -> Condition:
    raw = _read_json(file)
    if isinstance(raw, dict) and "definition" in raw:
        raw = raw["definition"]
    definition: Condition = _validated(CONDITION.validate_python, raw)
    return definition


def _echo(model: Any, as_json: bool) -> None:
    if as_json:
        typer.echo(model.model_dump_json())
        return
    for key, value in model.model_dump(mode="json").items():
        typer.echo(f"{key:14} {value}")


# -- siyu tags --------------------------------------------------------------------------------


@tags_app.command("create")
@readable_errors
def tags_create(
    group: Annotated[str, typer.Argument(help="Group name (created if missing).")],
    name: Annotated[str, typer.Argument(help="Tag name.")],
    kind: Annotated[TagKind, typer.Option(help="Kind of a new group.")] = TagKind.MANUAL,
    exclusive: Annotated[bool, typer.Option(help="A new group gives one tag per person.")] = False,
    rule: Annotated[Path | None, typer.Option(help="Rule tags: a JSON segment definition.")] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a tag (and its group if new)."""
    with open_workspace(workspace) as (rt, ws):
        now = utcnow()
        stored_rule = None
        if rule is not None:
            raw = _read_json(rule)
            stored_rule = pipeline.check_rule(runtime=rt, workspace_id=ws.id, rule=raw, now=now)
        with rt.sessions() as session, session.begin():
            if group not in {g.name for g in tags.list_groups(session=session, workspace_id=ws.id)}:
                new = TagGroupCreate(name=group, kind=kind, exclusive=exclusive)
                tags.create_group(session=session, workspace_id=ws.id, group=new, now=now)
            spec = _validated(
                lambda r: TagCreate(**r), {"group": group, "name": name, "rule": stored_rule}
            )
            created = tags.create_tag(session=session, workspace_id=ws.id, tag=spec, now=now)
    _echo(created, as_json)


@tags_app.command("list")
@readable_errors
def tags_list(workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """Every tag with its group, kind and number of holders."""
    with open_workspace(workspace) as (rt, ws), rt.sessions() as session:
        found = tags.list_tags(session=session, workspace_id=ws.id, with_counts=True)
    if as_json:
        typer.echo(json.dumps([t.model_dump(mode="json") for t in found], ensure_ascii=False))
        return
    for t in found:
        typer.echo(f"{t.id}  {t.group}/{t.name}  {t.kind.value}  {t.persons}")


@tags_app.command("apply")
@readable_errors
def tags_apply(
    tag: Annotated[str, typer.Argument(help="Tag id, group/name or name.")],
    person_ids: Annotated[list[str], typer.Argument(help="Persons to tag.")],
    actor: Annotated[str | None, typer.Option(help="Who tags (for the history).")] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Give persons a manual tag."""
    with open_workspace(workspace) as (rt, ws), rt.sessions() as session, session.begin():
        changes = tags.apply_tag(
            session=session,
            workspace_id=ws.id,
            tag=tag,
            person_ids=person_ids,
            now=utcnow(),
            actor=actor,
        )
    _echo(changes, as_json)


@tags_app.command("import-csv")
@readable_errors
def tags_import_csv(
    tag: Annotated[str, typer.Argument(help="Tag id, group/name or name.")],
    file: Annotated[Path, typer.Argument(help="CSV with header type,value (e.g. phone,138…).")],
    actor: Annotated[str | None, typer.Option(help="Who tags (for the history).")] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Tag the persons a CSV of identifiers names; unresolved rows are listed."""
    with open_workspace(workspace) as (rt, ws):
        try:
            text = file.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInputError(f"cannot read {file}: {exc}", field="file") from None
        report = pipeline.tag_from_csv(
            runtime=rt, workspace_id=ws.id, tag=tag, text=text, now=utcnow(), actor=actor
        )
    if as_json:
        typer.echo(report.model_dump_json())
        return
    typer.echo(f"rows {report.rows}  persons {report.persons}  gained {report.gained}")
    for row in report.unresolved:
        typer.echo(f"line {row.line}: {row.type},{row.value}: {row.reason}")


@tags_app.command("refresh")
@readable_errors
def tags_refresh(workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """Recompute every rule tag now."""
    with open_workspace(workspace) as (rt, ws):
        _echo(pipeline.refresh_rule_tags(runtime=rt, workspace_id=ws.id, now=utcnow()), as_json)


# -- siyu segments ----------------------------------------------------------------------------


@segments_app.command("preview")
@readable_errors
def segments_preview(
    file: Annotated[Path, typer.Argument(help="JSON definition (or {definition: …}).")],
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Count and sample the persons a definition selects now."""
    with open_workspace(workspace) as (rt, ws):
        preview = pipeline.preview_segment(
            runtime=rt, workspace_id=ws.id, definition=_definition(file), now=utcnow()
        )
    _echo(preview, as_json)


@segments_app.command("create")
@readable_errors
def segments_create(
    name: Annotated[str, typer.Argument(help="Segment name.")],
    file: Annotated[Path, typer.Option("--file", help="JSON definition (or {definition: …}).")],
    refresh_minutes: Annotated[int | None, typer.Option(help="Scheduled refresh interval.")] = 60,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Save a segment and compute its members once."""
    with open_workspace(workspace) as (rt, ws):
        spec = _validated(
            lambda r: SegmentCreate(**r),
            {"name": name, "definition": _definition(file), "refresh_minutes": refresh_minutes},
        )
        now = utcnow()
        with rt.sessions() as session, session.begin():
            created = segments.create_segment(
                session=session, workspace_id=ws.id, segment=spec, now=now
            )
        pipeline.refresh_segment(runtime=rt, workspace_id=ws.id, segment_id=created.id, now=now)
        with rt.sessions() as session:
            _echo(
                segments.get_segment(session=session, workspace_id=ws.id, segment_id=created.id),
                as_json,
            )


@segments_app.command("list")
@readable_errors
def segments_list(workspace: WorkspaceOption = None) -> None:
    """Saved segments with their members at the last refresh."""
    with open_workspace(workspace) as (rt, ws), rt.sessions() as session:
        for s in segments.list_segments(session=session, workspace_id=ws.id):
            typer.echo(f"{s.id}  {s.name}  {s.members}  {s.refreshed_at}")


@segments_app.command("refresh")
@readable_errors
def segments_refresh(
    segment: Annotated[
        str | None, typer.Argument(help="Segment id or name; default: all due.")
    ] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Recompute one segment's members (or every segment whose schedule is due)."""
    with open_workspace(workspace) as (rt, ws):
        if segment is not None:
            results = [
                pipeline.refresh_segment(
                    runtime=rt, workspace_id=ws.id, segment_id=segment, now=utcnow()
                )
            ]
        else:
            results = pipeline.refresh_due(runtime=rt, workspace_id=ws.id, now=utcnow())
    for result in results:
        _echo(result, as_json)


@segments_app.command("export")
@readable_errors
def segments_export(
    segment: Annotated[str, typer.Argument(help="Segment id or name.")],
    id_type: Annotated[
        list[IdType] | None, typer.Option("--id", help="Identifier column (repeat).")
    ] = None,
    clear: Annotated[
        bool, typer.Option(help="Non-PII identifiers in clear (phone/email stay masked).")
    ] = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File (default: stdout).")
    ] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Members as CSV: person_id plus the chosen identifier columns."""
    with open_workspace(workspace) as (rt, ws):
        handle = output.open("w", newline="", encoding="utf-8") if output else sys.stdout
        try:
            writer = csv.writer(handle)
            with rt.sessions() as session:
                for row in segments.export_rows(
                    session=session,
                    workspace_id=ws.id,
                    segment_id=segment,
                    id_types=id_type or [],
                    clear=clear,
                ):
                    writer.writerow(row)
        finally:
            if output:
                handle.close()

"""The blocking calls of the segments page: preview, save and refresh, members, export."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from siyu import pipeline
from siyu.collect.models import IdType
from siyu.console.views.segments import csv_text
from siyu.core.runtime import Runtime
from siyu.profiles import tags
from siyu.profiles.tag_models import Tag
from siyu.segments import service as segments
from siyu.segments.models import Condition, MembersPage, Preview, Segment, SegmentCreate

EXPORT_IDS = (IdType.MEMBER_ID, IdType.PHONE, IdType.UNIONID)


class Listing(BaseModel):
    """Saved segments and tags (with holders)."""

    segments: list[Segment]
    tags: list[Tag]


def preview(
    *, runtime: Runtime, workspace_id: str, definition: Condition, now: datetime
) -> Preview:
    """How many persons the definition selects now."""
    return pipeline.preview_segment(
        runtime=runtime, workspace_id=workspace_id, definition=definition, now=now
    )


def save(
    *, runtime: Runtime, workspace_id: str, name: str, definition: Condition, now: datetime
) -> Segment:
    """Save a segment and compute its members at once."""
    with runtime.sessions() as session, session.begin():
        created = segments.create_segment(
            session=session,
            workspace_id=workspace_id,
            segment=SegmentCreate(name=name or "?", definition=definition),
            now=now,
        )
    pipeline.refresh_segment(
        runtime=runtime, workspace_id=workspace_id, segment_id=created.id, now=now
    )
    with runtime.sessions() as session:
        return segments.get_segment(
            session=session, workspace_id=workspace_id, segment_id=created.id
        )


def listing(*, runtime: Runtime, workspace_id: str) -> Listing:
    """Saved segments and the workspace's tags with how many hold each."""
    with runtime.sessions() as session:
        return Listing(
            segments=segments.list_segments(session=session, workspace_id=workspace_id),
            tags=tags.list_tags(session=session, workspace_id=workspace_id, with_counts=True),
        )


def tag_names(*, runtime: Runtime, workspace_id: str) -> list[str]:
    """Tags as group/name, the form segment definitions accept."""
    with runtime.sessions() as session:
        found = tags.list_tags(session=session, workspace_id=workspace_id)
    return [f"{tag.group}/{tag.name}" for tag in found]


def members(*, runtime: Runtime, workspace_id: str, segment_id: str) -> MembersPage:
    """The first members of a saved segment."""
    with runtime.sessions() as session:
        return segments.members_page(
            session=session, workspace_id=workspace_id, segment_id=segment_id, limit=200
        )


def export_csv(*, runtime: Runtime, workspace_id: str, segment_id: str) -> str:
    """Members as CSV: person id, member id, masked phone, unionid."""
    with runtime.sessions() as session:
        return csv_text(
            segments.export_rows(
                session=session,
                workspace_id=workspace_id,
                segment_id=segment_id,
                id_types=EXPORT_IDS,
                clear=False,
            )
        )

"""The blocking calls behind the UGC page: the moderation queue, reward rules, the KOC board
and the CSV import — all through the UGC domain and its pipeline (nothing drawn here)."""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from pydantic import BaseModel, Field

from siyu.analytics.periods import Period
from siyu.core.errors import NotFoundError
from siyu.core.runtime import Runtime
from siyu.pipeline import ugc as flow
from siyu.pipeline import ugc_import
from siyu.profiles import tags
from siyu.ugc import service as ugc
from siyu.ugc.models import (
    ImportSummary,
    KocRanking,
    Post,
    PostFilter,
    PostStatus,
    RewardRule,
    RewardRuleView,
)

QUEUE = 50
RECENT = 20
KOC_DAYS = 30
KOC_TOP = 10
KOC_TAG = f"{flow.KOC_GROUP}/{flow.KOC_TAG}"


class Board(BaseModel):
    """What the UGC page shows."""

    pending: list[Post] = Field(description="Posts waiting for moderation, newest first.")
    pending_total: int
    moderated: list[Post] = Field(description="The latest approved or rejected posts.")
    rules: list[RewardRuleView]
    ranking: KocRanking
    koc_holders: list[str] = Field(description="Persons holding KOC/koc now.")


class Imported(BaseModel):
    """A CSV import's summary and, when rows were refused, the reject file's bytes."""

    summary: ImportSummary
    rejects_csv: bytes | None = None


def koc_holders(*, runtime: Runtime, workspace_id: str) -> list[str]:
    """Who holds the KOC tag now (none before the first tagging)."""
    with runtime.sessions() as session:
        try:
            return tags.persons_with_tag(session=session, workspace_id=workspace_id, tag=KOC_TAG)
        except NotFoundError:
            return []


def ranking(
    *,
    runtime: Runtime,
    workspace_id: str,
    now: datetime,
    apply_tags: bool,
    span: Period | None = None,
) -> KocRanking:
    """The KOC ranking over the range's local days (by default the last :data:`KOC_DAYS`
    days up to ``now``); with ``apply_tags`` the top ones are tagged."""
    start, end = (span.start, span.end) if span else (now - timedelta(days=KOC_DAYS), now)
    return flow.rank_kocs(
        runtime=runtime,
        workspace_id=workspace_id,
        start=start,
        end=end,
        now=now,
        top=KOC_TOP,
        apply_tags=apply_tags,
    )


def board(
    *, runtime: Runtime, workspace_id: str, now: datetime, span: Period | None = None
) -> Board:
    """The queue, the latest decisions, the reward rules, the KOC ranking (over the range, by
    default the last :data:`KOC_DAYS` days) and tag holders."""
    with runtime.sessions() as session:
        pending = ugc.list_posts(
            session=session,
            workspace_id=workspace_id,
            where=PostFilter(status=PostStatus.PENDING, limit=QUEUE),
        )
        rules = ugc.reward_rules(session=session, workspace_id=workspace_id)
        moderated = ugc.recently_moderated(session=session, workspace_id=workspace_id, limit=RECENT)
    return Board(
        pending=pending.items,
        pending_total=pending.total,
        moderated=moderated,
        rules=rules,
        ranking=ranking(
            runtime=runtime, workspace_id=workspace_id, now=now, apply_tags=False, span=span
        ),
        koc_holders=koc_holders(runtime=runtime, workspace_id=workspace_id),
    )


def approve(
    *, runtime: Runtime, workspace_id: str, post_id: str, actor: str, now: datetime
) -> Post:
    """Approve and pay the reward through the domain (paid once per post, whatever happens)."""
    return flow.approve_post(
        runtime=runtime, workspace_id=workspace_id, post_id=post_id, actor=actor, now=now
    )


def reject(
    *, runtime: Runtime, workspace_id: str, post_id: str, reason: str, actor: str, now: datetime
) -> Post:
    """Reject with a reason (a reward paid before stays paid)."""
    return flow.reject_post(
        runtime=runtime,
        workspace_id=workspace_id,
        post_id=post_id,
        reason=reason,
        actor=actor,
        now=now,
    )


def set_rule(
    *, runtime: Runtime, workspace_id: str, campaign: str, rule: RewardRule, now: datetime
) -> RewardRuleView:
    """Set what an approved post of ``campaign`` (``*``: the default) earns."""
    with runtime.sessions() as session, session.begin():
        return ugc.set_reward_rule(
            session=session, workspace_id=workspace_id, campaign=campaign, rule=rule, now=now
        )


def delete_rule(*, runtime: Runtime, workspace_id: str, campaign: str) -> str:
    """Remove a campaign's rule; answers the campaign."""
    with runtime.sessions() as session, session.begin():
        ugc.delete_reward_rule(session=session, workspace_id=workspace_id, campaign=campaign)
    return campaign


def import_csv(
    *, runtime: Runtime, workspace_id: str, data: bytes, timezone: str, now: datetime
) -> Imported:
    """Import uploaded CSV bytes as ``siyu ugc import`` does (same columns, batches and row
    errors); the reject file is written to a scratch directory and handed back as bytes."""
    with tempfile.TemporaryDirectory(prefix="siyu-ugc-") as scratch:
        upload = Path(scratch) / "posts.csv"
        upload.write_bytes(data)
        rejects = Path(scratch) / "rejected.csv"
        summary = ugc_import.import_posts(
            runtime=runtime,
            workspace_id=workspace_id,
            file=upload,
            timezone=timezone,
            now=now,
            rejects_path=rejects,
        )
        refused = rejects.read_bytes() if rejects.exists() else None
    return Imported(summary=summary.model_copy(update={"reject_file": None}), rejects_csv=refused)

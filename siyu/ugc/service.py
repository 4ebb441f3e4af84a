"""UGC (用户原创内容): store posts, moderate them, keep their metrics and reward rules.

Moderation moves a post by conditional UPDATEs whose row count decides, so two operators
approving at once cannot both win; :func:`claim_reward` marks the one payment a post ever
gets (the pipeline pays it through loyalty in the same transaction).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import ColumnElement, func, insert, select, update
from sqlalchemy.orm import Session

from siyu.core.errors import NotFoundError
from siyu.identity import service as identity
from siyu.ugc.models import (
    DEFAULT_CAMPAIGN,
    Metrics,
    Post,
    PostCreate,
    PostFilter,
    PostsPage,
    PostStatus,
    RewardGiven,
    RewardRule,
    RewardRuleView,
)
from siyu.ugc.tables import ugc_metric_reports, ugc_posts, ugc_reward_rules

_p = ugc_posts.c
_COUNTS = ("views", "likes", "shares", "comments")


def _post(row: Any, replayed: bool = False) -> Post:
    return Post(
        **{k: getattr(row, k) for k in (
            "id", "person_id", "platform", "external_id", "url", "text", "images", "rating",
            "product_ids", "campaign", "posted_at", "status", "reason", "moderated_by",
            "moderated_at", "rewarded_at", "metrics_at", "created_at")},
        reward=RewardGiven.model_validate(row.reward) if row.reward else None,
        metrics=Metrics(**{k: getattr(row, k) for k in _COUNTS}),
        replayed=replayed,
    )  # fmt: skip


def find_replay(
    *, session: Session, workspace_id: str, post: PostCreate, idempotency_key: str | None
) -> Post | None:
    """The post stored earlier under the same (platform, external id) or Idempotency-Key."""
    keys: list[ColumnElement[bool]] = []
    if post.external_id is not None:
        keys.append((_p.platform == post.platform.value) & (_p.external_id == post.external_id))
    if idempotency_key is not None:
        keys.append(_p.idempotency_key == idempotency_key)
    for where in keys:
        row = session.execute(
            select(ugc_posts).where(_p.workspace_id == workspace_id, where)
        ).first()
        if row is not None:
            return _post(row, replayed=True)
    return None


def insert_post(
    *,
    session: Session,
    workspace_id: str,
    post_id: str,
    person_id: str,
    post: PostCreate,
    idempotency_key: str | None,
    now: datetime,
) -> Post:
    """Store a new pending post (a racing twin of its keys fails on the unique keys)."""
    counts = _counts(post.metrics or Metrics())
    values = {
        "workspace_id": workspace_id, "id": post_id, "person_id": person_id,
        "platform": post.platform.value, "external_id": post.external_id,
        "idempotency_key": idempotency_key, "url": post.url, "text": post.text,
        "images": post.images, "rating": post.rating, "product_ids": post.product_ids,
        "campaign": post.campaign, "posted_at": post.posted_at.astimezone(UTC),
        "status": PostStatus.PENDING.value, "reason": None, "moderated_by": None,
        "moderated_at": None, "reward": None, "rewarded_at": None, "created_at": now,
        "metrics_at": now if post.metrics else None, **counts,
    }  # fmt: skip
    session.execute(insert(ugc_posts).values(**values))
    if post.metrics is not None:  # a new post: its first report is new too
        session.execute(
            insert(ugc_metric_reports).values(
                workspace_id=workspace_id, post_id=post_id, at=now, **counts
            )
        )
    return _post(SimpleNamespace(**values))


def get_post(*, session: Session, workspace_id: str, post_id: str) -> Post:
    """One post. Raises NotFoundError."""
    row = session.execute(
        select(ugc_posts).where(_p.workspace_id == workspace_id, _p.id == post_id)
    ).first()
    if row is None:
        raise NotFoundError(f"no post {post_id}", field="post_id")
    return _post(row)


def list_posts(*, session: Session, workspace_id: str, where: PostFilter) -> PostsPage:
    """Posts matching ``where``, newest first; by author means the author and every person
    it absorbed. Raises NotFoundError for an unknown author."""
    conditions = [_p.workspace_id == workspace_id]
    for name in ("status", "platform", "campaign"):
        value = getattr(where, name)
        if value is not None:
            conditions.append(getattr(_p, name) == str(value))
    if where.person_id is not None:
        members = identity.person_ids_of(
            session=session, workspace_id=workspace_id, person_id=where.person_id
        )
        conditions.append(_p.person_id.in_(members))
    if where.since is not None:
        conditions.append(_p.posted_at >= where.since)
    if where.until is not None:
        conditions.append(_p.posted_at < where.until)
    total = session.execute(select(func.count()).where(*conditions)).scalar_one()
    rows = session.execute(
        select(ugc_posts).where(*conditions)
        .order_by(_p.posted_at.desc(), _p.id.desc()).limit(where.limit).offset(where.offset)
    ).all()  # fmt: skip
    return PostsPage(
        items=[_post(r) for r in rows], total=int(total), limit=where.limit, offset=where.offset
    )


def recently_moderated(*, session: Session, workspace_id: str, limit: int = 20) -> list[Post]:
    """The latest approved or rejected posts, the most recent decision first."""
    rows = session.execute(
        select(ugc_posts)
        .where(_p.workspace_id == workspace_id, _p.moderated_at.is_not(None))
        .order_by(_p.moderated_at.desc(), _p.id.desc())
        .limit(limit)
    ).all()
    return [_post(r) for r in rows]


def delete_post(*, session: Session, workspace_id: str, post_id: str) -> None:
    """Remove a post and its metric history (a reward paid stays in the ledger)."""
    get_post(session=session, workspace_id=workspace_id, post_id=post_id)
    r = ugc_metric_reports.c
    session.execute(
        ugc_metric_reports.delete().where(r.workspace_id == workspace_id, r.post_id == post_id)
    )
    session.execute(ugc_posts.delete().where(_p.workspace_id == workspace_id, _p.id == post_id))


# -- metrics --------------------------------------------------------------------------------


def _counts(m: Metrics) -> dict[str, int]:
    return {k: getattr(m, k) for k in _COUNTS}


def _report(session: Session, workspace_id: str, post_id: str, m: Metrics, at: datetime) -> None:
    r = ugc_metric_reports.c
    counts = _counts(m)
    session.execute(
        update(ugc_metric_reports)
        .where(r.workspace_id == workspace_id, r.post_id == post_id, r.at == at)
        .values(**counts)
    )
    exists = session.execute(
        select(func.count()).where(r.workspace_id == workspace_id, r.post_id == post_id, r.at == at)
    ).scalar_one()
    if not exists:
        session.execute(
            insert(ugc_metric_reports).values(
                workspace_id=workspace_id, post_id=post_id, at=at, **counts
            )
        )


def record_metrics(
    *, session: Session, workspace_id: str, post_id: str, metrics: Metrics, at: datetime
) -> Post:
    """Keep a report of the post's counts at ``at``; the post shows the latest report (a
    late report of an earlier time goes to the history only)."""
    get_post(session=session, workspace_id=workspace_id, post_id=post_id)
    _report(session, workspace_id, post_id, metrics, at)
    session.execute(
        update(ugc_posts)
        .where(
            _p.workspace_id == workspace_id,
            _p.id == post_id,
            (_p.metrics_at.is_(None)) | (_p.metrics_at <= at),
        )
        .values(metrics_at=at, **_counts(metrics))
    )
    return get_post(session=session, workspace_id=workspace_id, post_id=post_id)


def reach_growth(
    *, session: Session, workspace_id: str, start: datetime, end: datetime
) -> dict[str, int]:
    """Post id → reported reach gained in [start, end): the last report before ``end`` less
    the last report before ``start`` (posts with no report in the period are absent)."""
    r = ugc_metric_reports.c
    rows = session.execute(
        select(r.post_id, r.at, r.views + r.likes + r.shares + r.comments)
        .where(r.workspace_id == workspace_id, r.at < end)
        .order_by(r.post_id, r.at)
    ).all()
    before: dict[str, int] = defaultdict(int)
    latest: dict[str, int] = {}
    for post_id, at, reach in rows:
        if at < start:
            before[post_id] = int(reach)
        else:
            latest[post_id] = int(reach)
    return {p: max(0, reach - before[p]) for p, reach in latest.items()}


def posts_by_author(
    *, session: Session, workspace_id: str, start: datetime, end: datetime
) -> list[tuple[str, str, str]]:
    """(post id, author person id, status) of every post; a post counts for an author's
    approval rate when posted in [start, end)."""
    rows = session.execute(
        select(_p.id, _p.person_id, _p.status, _p.posted_at).where(_p.workspace_id == workspace_id)
    ).all()
    return [
        (r.id, r.person_id, r.status if start <= r.posted_at < end else "outside") for r in rows
    ]


# -- moderation -----------------------------------------------------------------------------


def _moderate(
    session: Session, workspace_id: str, post_id: str, to: PostStatus, values: dict[str, Any]
) -> tuple[Post, bool]:
    done = session.execute(
        update(ugc_posts)
        .where(_p.workspace_id == workspace_id, _p.id == post_id, _p.status != to.value)
        .values(status=to.value, **values)
    )
    post = get_post(session=session, workspace_id=workspace_id, post_id=post_id)
    return post, bool(done.rowcount)  # type: ignore[attr-defined]


def approve(
    *, session: Session, workspace_id: str, post_id: str, actor: str | None, now: datetime
) -> tuple[Post, bool]:
    """Approve a post; whether this call changed it (False: it was approved already).

    Raises:
        NotFoundError: no such post.
    """
    return _moderate(
        session, workspace_id, post_id, PostStatus.APPROVED,
        {"reason": None, "moderated_by": actor, "moderated_at": now},
    )  # fmt: skip


def reject(
    *,
    session: Session,
    workspace_id: str,
    post_id: str,
    reason: str,
    actor: str | None,
    now: datetime,
) -> tuple[Post, bool]:
    """Reject a post with a reason (an approved post's reward, once paid, stays paid: the
    ledger is the place to take points back). Whether this call changed it."""
    return _moderate(
        session, workspace_id, post_id, PostStatus.REJECTED,
        {"reason": reason, "moderated_by": actor, "moderated_at": now},
    )  # fmt: skip


def claim_reward(
    *, session: Session, workspace_id: str, post_id: str, reward: RewardGiven, now: datetime
) -> bool:
    """Mark the post's one reward; False when it was rewarded before (pay nothing)."""
    done = session.execute(
        update(ugc_posts)
        .where(_p.workspace_id == workspace_id, _p.id == post_id, _p.rewarded_at.is_(None))
        .values(reward=reward.model_dump(mode="json"), rewarded_at=now)
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


# -- reward rules ---------------------------------------------------------------------------


def set_reward_rule(
    *, session: Session, workspace_id: str, campaign: str, rule: RewardRule, now: datetime
) -> RewardRuleView:
    """Set what approved posts of ``campaign`` (``*``: any without its own rule) earn."""
    r = ugc_reward_rules.c
    values = {"kind": rule.kind, "amount": rule.amount, "template": rule.template,
              "updated_at": now}  # fmt: skip
    done = session.execute(
        update(ugc_reward_rules)
        .where(r.workspace_id == workspace_id, r.campaign == campaign)
        .values(**values)
    )
    if not done.rowcount:  # type: ignore[attr-defined]
        session.execute(
            insert(ugc_reward_rules).values(workspace_id=workspace_id, campaign=campaign, **values)
        )
    return RewardRuleView(**rule.model_dump(), campaign=campaign, updated_at=now)


def delete_reward_rule(*, session: Session, workspace_id: str, campaign: str) -> None:
    """Remove a campaign's rule (its posts then earn the default). Raises NotFoundError."""
    r = ugc_reward_rules.c
    done = session.execute(
        ugc_reward_rules.delete().where(r.workspace_id == workspace_id, r.campaign == campaign)
    )
    if not done.rowcount:  # type: ignore[attr-defined]
        raise NotFoundError(f"no reward rule for {campaign!r}", field="campaign")


def reward_rules(*, session: Session, workspace_id: str) -> list[RewardRuleView]:
    """Every reward rule of the workspace, the default first."""
    r = ugc_reward_rules.c
    rows = session.execute(
        select(ugc_reward_rules).where(r.workspace_id == workspace_id).order_by(r.campaign)
    ).all()
    return [RewardRuleView.model_validate(row._mapping) for row in rows]


def rule_for(*, session: Session, workspace_id: str, campaign: str | None) -> RewardRule | None:
    """The rule a post of ``campaign`` earns by: the campaign's own, else the default."""
    rules = {r.campaign: r for r in reward_rules(session=session, workspace_id=workspace_id)}
    found = rules.get(campaign or DEFAULT_CAMPAIGN) or rules.get(DEFAULT_CAMPAIGN)
    return None if found is None else RewardRule.model_validate(found.model_dump())

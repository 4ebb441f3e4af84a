"""UGC and KOC: posts collected through the identity graph, approval paid through loyalty
once, and KOCs ranked by the reach and orders their content brings (then tagged).

A post's author is a person id or identifiers; identifiers go through the collect path as a
``ugc_post_submitted`` event (carrying ``ugc_post_id``), so OneID resolves them (a new
person when none is known) in the same transaction that stores the post.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from siyu.analytics.engine import engine_for
from siyu.collect import normalize
from siyu.collect.models import CollectedEvent, Identifier, IdType, MessageType
from siyu.core.errors import InvalidInputError, NotFoundError, SiyuError
from siyu.core.ids import new_id
from siyu.core.runtime import Runtime
from siyu.identity import service as identity
from siyu.pipeline import ugc_reach
from siyu.pipeline.ingest import flush, ingest_events
from siyu.pipeline.loyalty_jobs import Outcome
from siyu.pipeline.rewards import grant_reward
from siyu.profiles import tags
from siyu.ugc import ranking
from siyu.ugc import service as ugc
from siyu.ugc.models import (
    KocFacts,
    KocRanking,
    Metrics,
    Post,
    PostCreate,
    PostFilter,
    RewardGiven,
)

KOC_GROUP = "KOC"
KOC_TAG = "koc"
SUBMITTED = "ugc_post_submitted"


class Collected(NamedTuple):
    """A post stored (or found stored) for one input, or why it was refused."""

    post: Post | None
    error: SiyuError | None = None


# -- collecting -----------------------------------------------------------------------------


def _identifiers(runtime: Runtime, post: PostCreate) -> list[Identifier]:
    found = []
    for kind, value in sorted(post.author.items()):
        try:
            id_type = IdType(kind)
        except ValueError:
            allowed = ", ".join(t.value for t in IdType)
            raise InvalidInputError(f"{kind!r} is no identifier type ({allowed})",
                                    field=f"author.{kind}") from None  # fmt: skip
        try:
            found.append(normalize.make_identifier(runtime.vault, id_type, value, kind))
        except normalize.FieldError as exc:
            raise InvalidInputError(exc.reason, field=f"author.{kind}") from None
    return found


def _event(post_id: str, post: PostCreate, ids: list[Identifier], now: datetime) -> CollectedEvent:
    return CollectedEvent(
        message_id=f"ugc:{post_id}",
        type=MessageType.TRACK,
        timestamp=post.posted_at,
        received_at=now,
        identifiers=ids,
        event=SUBMITTED,
        properties={"ugc_post_id": post_id, "platform": post.platform.value,
                    "campaign": post.campaign, "rating": post.rating},
    )  # fmt: skip


class _Draft(NamedTuple):
    position: int
    post_id: str
    post: PostCreate
    ids: list[Identifier]


def _author_ids(
    session: Session, runtime: Runtime, workspace_id: str, post: PostCreate
) -> list[Identifier]:
    if post.person_id:
        held = identity.identifiers_of(
            session=session, workspace_id=workspace_id, person_id=post.person_id
        )
        if not held:
            raise NotFoundError(f"no person {post.person_id}", field="person_id")
        return [Identifier(held[0].type, held[0].key)]
    return _identifiers(runtime, post)


def _collect_batch(
    session: Session, runtime: Runtime, workspace_id: str, posts: Sequence[PostCreate],
    keys: Sequence[str | None], now: datetime,
) -> list[Collected]:  # fmt: skip
    out: dict[int, Collected] = {}
    drafts: list[_Draft] = []
    firsts: dict[tuple[str, str], int] = {}  # (platform, external id) → first index in batch
    twins: list[tuple[int, int]] = []
    for i, (post, key) in enumerate(zip(posts, keys, strict=True)):
        ref = (post.platform.value, post.external_id or "")
        earlier = ugc.find_replay(
            session=session, workspace_id=workspace_id, post=post, idempotency_key=key
        )
        if earlier is not None:
            out[i] = Collected(earlier)
        elif post.external_id and ref in firsts:
            twins.append((i, firsts[ref]))
        else:
            try:
                ids = _author_ids(session, runtime, workspace_id, post)
            except SiyuError as exc:
                out[i] = Collected(None, exc)
                continue
            firsts.setdefault(ref, i)
            drafts.append(_Draft(i, new_id("ugc"), post, ids))
    events = [_event(d.post_id, d.post, d.ids, now) for d in drafts]
    ingest_events(session=session, workspace_id=workspace_id, events=events, now=now)
    for d in drafts:
        person = identity.find_person(session=session, workspace_id=workspace_id,
                                      identifier=d.ids[0])  # fmt: skip
        assert person is not None  # just resolved by the ingest above
        out[d.position] = Collected(ugc.insert_post(
            session=session, workspace_id=workspace_id, post_id=d.post_id, person_id=person,
            post=d.post, idempotency_key=keys[d.position], now=now,
        ))  # fmt: skip
    for i, first in twins:
        stored = out[first].post
        out[i] = Collected(None if stored is None else stored.model_copy(update={"replayed": True}))
    return [out[i] for i in range(len(posts))]


def collect_posts(
    *,
    runtime: Runtime,
    workspace_id: str,
    posts: Sequence[PostCreate],
    now: datetime,
    keys: Sequence[str | None] | None = None,
) -> list[Collected]:
    """Store posts in one transaction (each resolved to its author); a post re-sent with
    the same (platform, external id) or key answers the stored one (``replayed``). A post
    whose author cannot be named is refused alone. A racing twin loses on the unique keys;
    the retry reads the winner's post."""
    keys = list(keys) if keys is not None else [None] * len(posts)
    for attempt in range(2):
        try:
            with runtime.sessions() as session, session.begin():
                return _collect_batch(session, runtime, workspace_id, posts, keys, now)
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def collect_post(
    *, runtime: Runtime, workspace_id: str, post: PostCreate, now: datetime,
    idempotency_key: str | None = None,
) -> Post:  # fmt: skip
    """One post (see :func:`collect_posts`); raises the reason it was refused."""
    [done] = collect_posts(runtime=runtime, workspace_id=workspace_id, posts=[post], now=now,
                           keys=[idempotency_key])  # fmt: skip
    if done.error is not None:
        raise done.error
    assert done.post is not None
    return done.post


# -- moderation and rewards -----------------------------------------------------------------


def _pay(session: Session, workspace_id: str, post: Post, now: datetime) -> None:
    rule = ugc.rule_for(session=session, workspace_id=workspace_id, campaign=post.campaign)
    if rule is None:
        return
    given = RewardGiven(kind=rule.kind, amount=rule.amount, template=rule.template,
                        idempotency_key=f"ugc:{post.id}")  # fmt: skip
    if not ugc.claim_reward(session=session, workspace_id=workspace_id, post_id=post.id,
                            reward=given, now=now):  # fmt: skip
        return
    grant_reward(
        session=session, workspace_id=workspace_id, person_id=post.person_id,
        points_amount=rule.amount if rule.kind == "points" else None,
        coupon_template=rule.template if rule.kind == "coupon" else None,
        idempotency_key=given.idempotency_key, reason="ugc", source=f"ugc:{post.id}", now=now,
    )  # fmt: skip


def approve_post(
    *, runtime: Runtime, workspace_id: str, post_id: str, actor: str | None, now: datetime
) -> Post:
    """Approve a post and pay its reward (the campaign's rule, else the workspace's) through
    loyalty, in one transaction: a post is paid at most once, however often or concurrently
    it is approved, and whatever rejections came between. When loyalty refuses (a coupon out
    of stock) nothing is stored and the refusal is raised."""
    with runtime.sessions() as session, session.begin():
        post, changed = ugc.approve(
            session=session, workspace_id=workspace_id, post_id=post_id, actor=actor, now=now
        )
        if changed:
            _pay(session, workspace_id, post, now)
        return ugc.get_post(session=session, workspace_id=workspace_id, post_id=post_id)


def reject_post(
    *, runtime: Runtime, workspace_id: str, post_id: str, reason: str, actor: str | None,
    now: datetime,
) -> Post:  # fmt: skip
    """Reject a post with a reason (a reward already paid stays in the ledger)."""
    with runtime.sessions() as session, session.begin():
        post, _ = ugc.reject(session=session, workspace_id=workspace_id, post_id=post_id,
                             reason=reason, actor=actor, now=now)  # fmt: skip
        return post


def update_metrics(
    *, runtime: Runtime, workspace_id: str, post_id: str, metrics: Metrics, at: datetime
) -> Post:
    """Record the platform's counts for a post at ``at``."""
    with runtime.sessions() as session, session.begin():
        return ugc.record_metrics(
            session=session, workspace_id=workspace_id, post_id=post_id, metrics=metrics, at=at
        )


# -- KOC ranking ----------------------------------------------------------------------------


class _Period(NamedTuple):
    start: datetime
    end: datetime
    window: timedelta


def _facts(
    runtime: Runtime, workspace_id: str, period: _Period, flush_first: bool
) -> list[KocFacts]:
    with runtime.sessions() as session:
        posts = ugc.posts_by_author(session=session, workspace_id=workspace_id,
                                    start=period.start, end=period.end)  # fmt: skip
        growth = ugc.reach_growth(session=session, workspace_id=workspace_id,
                                  start=period.start, end=period.end)  # fmt: skip
        merged = identity.person_map(session=session, workspace_id=workspace_id)
    survivor = dict(merged)
    authors = {post_id: survivor.get(person, person) for post_id, person, _ in posts}
    if flush_first:
        flush(runtime=runtime)
    brought = ugc_reach.brought(
        engine_for(runtime), workspace_id=workspace_id, authors=authors, person_map=merged,
        start=period.start, end=period.end, window=period.window,
    )  # fmt: skip
    facts: dict[str, KocFacts] = {}
    for post_id, _, status in posts:
        f = facts.setdefault(authors[post_id], KocFacts(person_id=authors[post_id]))
        f.reach += growth.get(post_id, 0)
        if status != "outside":
            f.posts += 1
            f.approved += status == "approved"
            f.rejected += status == "rejected"
    for person, b in brought.items():
        if person in facts:  # only authors of posts are KOCs; other sharers are referrers
            f = facts[person]
            f.clicks, f.orders, f.buyers, f.gmv_fen = b.clicks, b.orders, b.buyers, b.gmv_fen
            f.reach += b.clicks
    return list(facts.values())


def rank_kocs(
    *,
    runtime: Runtime,
    workspace_id: str,
    start: datetime,
    end: datetime,
    now: datetime,
    window_days: int = 7,
    top: int = 10,
    apply_tags: bool = False,
    flush_first: bool = True,
) -> KocRanking:
    """Rank post authors by :func:`siyu.ugc.ranking.score` over [start, end); with
    ``apply_tags`` the top ones hold the model tag ``KOC/koc`` (and only they), so segments
    and journeys can target them. Events still in the inbox are moved to the event store
    first unless ``flush_first`` is False (then they are not counted)."""
    if end <= start:
        raise InvalidInputError("end must be after start", field="end")
    if not 1 <= window_days <= 90:
        raise InvalidInputError("window_days must be 1 to 90", field="window_days")
    period = _Period(start, end, timedelta(days=window_days))
    facts = _facts(runtime, workspace_id, period, flush_first)
    ranked = ranking.rank(facts, top=top)
    result = KocRanking(start=start, end=end, window_days=window_days, top=top, items=ranked)
    if apply_tags:
        with runtime.sessions() as session, session.begin():
            changes = tags.replace_model_tags(
                session=session, workspace_id=workspace_id, group=KOC_GROUP,
                assignments={r.person_id: KOC_TAG for r in ranked if r.koc}, now=now,
                reason=f"koc ranking {start:%Y-%m-%d}..{end:%Y-%m-%d}",
            )  # fmt: skip
        result.tagged, result.untagged = changes.gained, changes.lost
    return result


KOC_JOB_DAYS = 30


def retag_kocs(runtime: Runtime, workspace_id: str, zone: str, now: datetime) -> Outcome:
    """The daily job: rank authors over the last :data:`KOC_JOB_DAYS` days and move the
    ``KOC/koc`` tag to the top ones, as ``siyu ugc kocs --tag`` does. A workspace without
    posts is skipped (no tag group is created for it)."""
    with runtime.sessions() as session:
        posts = ugc.list_posts(
            session=session, workspace_id=workspace_id, where=PostFilter(limit=1)
        ).total
    if not posts:
        return Outcome("no posts", {"posts": 0})
    found = rank_kocs(
        runtime=runtime, workspace_id=workspace_id, start=now - timedelta(days=KOC_JOB_DAYS),
        end=now, now=now, apply_tags=True,
    )  # fmt: skip
    kocs = sum(1 for r in found.items if r.koc)
    summary = f"{kocs} KOCs of {len(found.items)} ranked; tag +{found.tagged} −{found.untagged}"
    return Outcome(summary, {"kocs": kocs, "tagged": found.tagged, "untagged": found.untagged})

"""UGC and KOC (用户原创内容): customer posts and reviews, moderation, rewards, KOC ranking."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import AwareDatetime, BaseModel, Field

from siyu.accounts.models import Principal
from siyu.api.deps import (
    AdminWorkspaceDep,
    IdempotencyKeyDep,
    PrincipalDep,
    Require,
    RuntimeDep,
    in_transaction,
)
from siyu.core.clock import utcnow
from siyu.core.runtime import Runtime
from siyu.pipeline import ugc as flow
from siyu.ugc import service as ugc
from siyu.ugc.models import (
    KocRanking,
    MetricsUpdate,
    Platform,
    Post,
    PostCreate,
    PostFilter,
    PostsPage,
    PostStatus,
    Rejection,
    RewardRule,
    RewardRuleView,
)

READ = [Require("ugc:read")]
WRITE = [Require("ugc:write")]

router = APIRouter(prefix="/api/ugc", tags=["ugc"])


def _actor(principal: Principal) -> str:
    return principal.user_id or principal.key_id or principal.kind


@router.post(
    "/posts",
    status_code=201,
    summary="Collect a post or review",
    dependencies=WRITE,
    responses={200: {"description": "The post was stored before (same platform + external_id "
                     "or Idempotency-Key): the stored one, replayed true."}},
)  # fmt: skip
async def create_post(
    body: PostCreate,
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    response: Response,
    idempotency_key: IdempotencyKeyDep = None,
) -> Post:
    """A customer's post (小红书, 抖音, 微博, 朋友圈) or mall review, pending moderation. The
    author is a ``person_id`` or identifiers (``author``: phone, member_id, mp_openid…)
    resolved by OneID; an unknown one becomes a new person."""
    post = await run_in_threadpool(
        flow.collect_post, runtime=runtime, workspace_id=workspace.id, post=body, now=utcnow(),
        idempotency_key=idempotency_key,
    )  # fmt: skip
    if post.replayed:
        response.status_code = 200
    return post


@router.get("/posts", summary="List posts", dependencies=READ)
async def list_posts(
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    status: PostStatus | None = None,
    platform: Platform | None = None,
    person_id: Annotated[str | None, Query(max_length=40)] = None,
    campaign: Annotated[str | None, Query(max_length=100)] = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> PostsPage:
    """Newest first; filter by moderation status, platform, author (with every person they
    absorbed), campaign and posting time."""
    where = PostFilter(status=status, platform=platform, person_id=person_id, campaign=campaign,
                       since=since, until=until, limit=limit, offset=offset)  # fmt: skip
    return await in_transaction(runtime, ugc.list_posts, workspace_id=workspace.id, where=where)


@router.get("/posts/{post_id}", summary="One post", dependencies=READ)
async def get_post(post_id: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> Post:
    """With its moderation state, reward and latest metrics."""
    return await in_transaction(runtime, ugc.get_post, workspace_id=workspace.id, post_id=post_id)


@router.delete("/posts/{post_id}", status_code=204, summary="Delete a post", dependencies=WRITE)
async def delete_post(post_id: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> None:
    """The post and its metric history; a reward it earned stays in the points ledger."""
    await in_transaction(runtime, ugc.delete_post, workspace_id=workspace.id, post_id=post_id)


@router.post("/posts/{post_id}/approve", summary="Approve a post", dependencies=WRITE)
async def approve(
    post_id: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep, principal: PrincipalDep
) -> Post:
    """Approve and pay the reward rule's points or coupon through loyalty — once per post,
    however often (or concurrently) it is approved. 409 when loyalty refuses the coupon
    (out of stock, limit): nothing changes."""
    return await run_in_threadpool(
        flow.approve_post, runtime=runtime, workspace_id=workspace.id, post_id=post_id,
        actor=_actor(principal), now=utcnow(),
    )  # fmt: skip


@router.post("/posts/{post_id}/reject", summary="Reject a post", dependencies=WRITE)
async def reject(
    post_id: str,
    body: Rejection,
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    principal: PrincipalDep,
) -> Post:
    """Reject with a reason; a reward already paid stays paid (and is never paid again)."""
    return await run_in_threadpool(
        flow.reject_post, runtime=runtime, workspace_id=workspace.id, post_id=post_id,
        reason=body.reason, actor=_actor(principal), now=utcnow(),
    )  # fmt: skip


@router.put("/posts/{post_id}/metrics", summary="Report a post's metrics", dependencies=WRITE)
async def put_metrics(
    post_id: str, body: MetricsUpdate, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> Post:
    """Views, likes, shares and comments as the platform shows them now (or at ``at``);
    kept as history, so reach over a period is the growth within it."""
    return await run_in_threadpool(
        flow.update_metrics, runtime=runtime, workspace_id=workspace.id, post_id=post_id,
        metrics=body, at=body.at or utcnow(),
    )  # fmt: skip


@router.get("/rewards", summary="Reward rules", dependencies=READ)
async def list_rewards(runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> list[RewardRuleView]:
    """Campaign ``*`` is the workspace's default."""
    return await in_transaction(runtime, ugc.reward_rules, workspace_id=workspace.id)


@router.put("/rewards/{campaign}", summary="Set a reward rule", dependencies=WRITE)
async def put_reward(
    campaign: Annotated[str, Path(min_length=1, max_length=100)],
    body: RewardRule,
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
) -> RewardRuleView:
    """What an approved post of ``campaign`` earns (``*``: posts of campaigns without one)."""
    return await in_transaction(
        runtime, ugc.set_reward_rule, workspace_id=workspace.id, campaign=campaign, rule=body,
        now=utcnow(),
    )  # fmt: skip


@router.delete(
    "/rewards/{campaign}", status_code=204, summary="Remove a reward rule", dependencies=WRITE
)
async def delete_reward(campaign: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> None:
    """Posts of the campaign then earn the default."""
    await in_transaction(
        runtime, ugc.delete_reward_rule, workspace_id=workspace.id, campaign=campaign
    )


class KocTagging(BaseModel):
    """Rank KOCs over a period and give the top ones the ``KOC/koc`` tag."""

    start: AwareDatetime | None = Field(default=None, description="Default: end − 30 days.")
    end: AwareDatetime | None = Field(default=None, description="Default: now.")
    window_days: int = Field(default=7, ge=1, le=90, description="Attribution window.")
    top: int = Field(default=10, ge=1, le=1000, description="How many hold the tag.")


def _rank(runtime: Runtime, workspace_id: str, body: KocTagging, apply_tags: bool) -> KocRanking:
    now = utcnow()
    end: datetime = body.end or now
    start: datetime = body.start or end - timedelta(days=30)
    return flow.rank_kocs(
        runtime=runtime, workspace_id=workspace_id, start=start, end=end, now=now,
        window_days=body.window_days, top=body.top, apply_tags=apply_tags,
    )  # fmt: skip


@router.get("/kocs", summary="Rank KOCs", dependencies=READ)
async def kocs(
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    start: AwareDatetime | None = None,
    end: AwareDatetime | None = None,
    window_days: Annotated[int, Query(ge=1, le=90)] = 7,
    top: Annotated[int, Query(ge=1, le=1000)] = 10,
) -> KocRanking:
    """Authors by score (reach, attributed orders, GMV, approval rate; see docs/ugc.md) over
    [start, end); ``koc`` marks the top ones. Reads only."""
    body = KocTagging(start=start, end=end, window_days=window_days, top=top)
    return await run_in_threadpool(_rank, runtime, workspace.id, body, False)


@router.post("/kocs/tag", summary="Tag the top KOCs", dependencies=WRITE)
async def tag_kocs(
    body: KocTagging, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> KocRanking:
    """Rank as GET /kocs does, then the top ones (and only they) hold the model tag
    ``KOC/koc`` for segments and journeys."""
    return await run_in_threadpool(_rank, runtime, workspace.id, body, True)

"""Activities (活动运营): lottery, group-buy, assist/bargain and sign-up campaigns."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from siyu.activities import checkins, teams
from siyu.activities import service as activities
from siyu.activities.models import (
    ActionCreate,
    Activity,
    ActivityCreate,
    ActivityKind,
    ActivityStats,
    Participation,
    Refusal,
    RewardAction,
    RewardPayout,
    Team,
)
from siyu.api.deps import (
    AdminWorkspaceDep,
    IdempotencyKeyDep,
    Require,
    RuntimeDep,
    in_transaction,
)
from siyu.core.clock import utcnow
from siyu.core.runtime import Runtime
from siyu.pipeline import activities as flow

READ = [Require("activities:read")]
WRITE = [Require("activities:write")]
REFUSALS = (
    "409 names the field and the reason: ended, not_started, not_eligible, limit_reached, "
    "out_of_stock, budget_spent, fresh_account, too_fast, ip_velocity, same_device, self, "
    "already_joined, team_full, team_closed…; a retry with the same Idempotency-Key answers "
    "the first result."
)

router = APIRouter(
    prefix="/api/activities", tags=["activities"], responses={409: {"description": REFUSALS}}
)


async def _act(
    runtime: Runtime, workspace_id: str, call: Callable[..., Participation | Refusal], **kw: Any
) -> Participation:
    return await run_in_threadpool(
        flow.take_part, runtime=runtime, workspace_id=workspace_id, call=call, now=utcnow(), **kw
    )


@router.post("", status_code=201, summary="Create an activity", dependencies=WRITE)
async def create(
    body: ActivityCreate, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> Activity:
    """A lottery (prizes), group-buy (team_size, reward), assist (helpers_needed, reward;
    start/floor price for a bargain) or sign-up (days_required, reward)."""
    return await in_transaction(
        runtime, activities.create_activity, workspace_id=workspace.id, activity=body, now=utcnow()
    )


@router.get("", summary="List activities", dependencies=READ)
async def list_all(
    runtime: RuntimeDep, workspace: AdminWorkspaceDep, kind: ActivityKind | None = None
) -> list[Activity]:
    """Newest first, with stock and budget spent."""
    return await in_transaction(
        runtime, activities.list_activities, workspace_id=workspace.id, kind=kind
    )


@router.get("/{activity_id}", summary="One activity", dependencies=READ)
async def get(activity_id: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> Activity:
    """With every prize's stock left and units won."""
    return await in_transaction(
        runtime, activities.get_activity, workspace_id=workspace.id, activity_id=activity_id
    )


@router.post("/{activity_id}/pause", summary="Pause an activity", dependencies=WRITE)
async def pause(activity_id: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> Activity:
    """Every action is refused with reason ``paused`` until it is resumed; safe to repeat."""
    return await in_transaction(runtime, activities.set_paused, workspace_id=workspace.id,
                                activity_id=activity_id, paused=True)  # fmt: skip


@router.post("/{activity_id}/resume", summary="Resume a paused activity", dependencies=WRITE)
async def resume(activity_id: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> Activity:
    """Actions are taken again (within the activity's window); safe to repeat."""
    return await in_transaction(runtime, activities.set_paused, workspace_id=workspace.id,
                                activity_id=activity_id, paused=False)  # fmt: skip


@router.post("/{activity_id}/end", summary="End an activity now", dependencies=WRITE)
async def end(activity_id: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> Activity:
    """Its end moves to now (actions refused with ``ended``); an ended one keeps its end."""
    return await in_transaction(runtime, activities.end_activity, workspace_id=workspace.id,
                                activity_id=activity_id, now=utcnow())  # fmt: skip


@router.post("/{activity_id}/draw", summary="Draw once (lottery)", dependencies=WRITE)
async def draw(
    activity_id: str,
    body: ActionCreate,
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> Participation:
    """A fair weighted draw; the roll is recorded. See the module's refusal reasons."""
    return await _act(runtime, workspace.id, activities.draw, activity_id=activity_id,
                      request=body, idempotency_key=idempotency_key)  # fmt: skip


@router.post(
    "/{activity_id}/teams", status_code=201, summary="Open a team / start an assist",
    dependencies=WRITE,
)  # fmt: skip
async def open_team(
    activity_id: str,
    body: ActionCreate,
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> Participation:
    """The leader opens a group-buy team, or a person starts an assist/bargain run."""
    return await _act(runtime, workspace.id, teams.start, activity_id=activity_id,
                      request=body, idempotency_key=idempotency_key)  # fmt: skip


@router.post("/teams/{team_id}/join", summary="Join a group-buy team", dependencies=WRITE)
async def join(
    team_id: str,
    body: ActionCreate,
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> Participation:
    """The member who fills the team completes it (every member's reward)."""
    return await _act(runtime, workspace.id, teams.join, team_id=team_id, request=body,
                      idempotency_key=idempotency_key)  # fmt: skip


@router.post("/teams/{team_id}/help", summary="Help an assist/bargain run", dependencies=WRITE)
async def help_team(
    team_id: str,
    body: ActionCreate,
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> Participation:
    """Each friend once per campaign; the last helper completes it (the starter's reward)."""
    return await _act(runtime, workspace.id, teams.help_team, team_id=team_id, request=body,
                      idempotency_key=idempotency_key)  # fmt: skip


@router.get("/teams/{team_id}", summary="A team or assist run", dependencies=READ)
async def get_team(team_id: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> Team:
    """Members so far, status, deadline and the current bargain price."""
    return await in_transaction(runtime, teams.get_team, workspace_id=workspace.id, team_id=team_id)


@router.post("/teams/expire", summary="Expire teams past their deadline", dependencies=WRITE)
async def expire(runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> list[Team]:
    """Stock and budget go back; group members get refund/void actions. Safe to repeat."""
    return await run_in_threadpool(
        flow.expire_teams, runtime=runtime, workspace_id=workspace.id, now=utcnow()
    )


@router.post("/{activity_id}/register", summary="Sign up (sign-up campaign)", dependencies=WRITE)
async def register(
    activity_id: str,
    body: ActionCreate,
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> Participation:
    """Once per person; takes a place of the campaign's stock."""
    return await _act(runtime, workspace.id, checkins.register, activity_id=activity_id,
                      request=body, idempotency_key=idempotency_key)  # fmt: skip


@router.post("/{activity_id}/check-in", summary="Check in for today", dependencies=WRITE)
async def check_in(
    activity_id: str,
    body: ActionCreate,
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> Participation:
    """One a local day; the streak reaching days_required earns the reward once."""
    return await _act(runtime, workspace.id, checkins.check_in, activity_id=activity_id,
                      request=body, idempotency_key=idempotency_key)  # fmt: skip


@router.get("/{activity_id}/stats", summary="Funnel, cost and ROI", dependencies=READ)
async def stats(
    activity_id: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> ActivityStats:
    """view → join → share → help → complete → order from events carrying activity_id;
    ROI = GMV of those orders / budget spent on prizes and rewards."""
    return await run_in_threadpool(
        flow.activity_stats, runtime=runtime, workspace_id=workspace.id, activity_id=activity_id
    )


@router.get("/{activity_id}/refusals", summary="Refused actions and why", dependencies=READ)
async def refusals(
    activity_id: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> list[Refusal]:
    """Newest first (at most 500)."""
    return await in_transaction(
        runtime, activities.list_refusals, workspace_id=workspace.id, activity_id=activity_id
    )


@router.get("/{activity_id}/rewards", summary="Rewards and fulfilment actions", dependencies=READ)
async def rewards(
    activity_id: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> list[RewardAction]:
    """Points/coupons (pending or paid through loyalty), goods and refunds (actions)."""
    return await in_transaction(
        runtime, activities.rewards_of, workspace_id=workspace.id, activity_id=activity_id
    )


@router.post("/rewards/pay", summary="Pay pending rewards through loyalty", dependencies=WRITE)
async def pay(runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> RewardPayout:
    """Each keyed, so a retry pays nothing twice; refused ones stay pending, with the reason."""
    return await run_in_threadpool(
        flow.pay_activity_rewards, runtime=runtime, workspace_id=workspace.id, now=utcnow()
    )

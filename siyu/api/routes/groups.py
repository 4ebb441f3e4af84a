"""Community operations (社群运营) over the API: customer groups synced from WeCom, group
tags, group live codes and their scans, SOPs and their WeCom tasks, keyword rules,
moderation, owner tasks, settings, and group health."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, BackgroundTasks, Query
from fastapi.concurrency import run_in_threadpool

from siyu.api.deps import AdminWorkspaceDep, IdempotencyKeyDep, Require, RuntimeDep, in_transaction
from siyu.community import service as community
from siyu.community.models import (
    CommunitySettings,
    CommunityTask,
    DormantGroup,
    Group,
    GroupDetail,
    GroupLiveCode,
    GroupLiveCodeCreate,
    GroupMessageIn,
    GroupScan,
    GroupScanCreate,
    GroupTagsSet,
    HealthReport,
    LiveCodeStats,
    Rule,
    RuleCreate,
    Sop,
    SopCreate,
    SopTask,
    Spammer,
    SyncReport,
    Verdict,
)
from siyu.core.clock import ensure_utc, utcnow
from siyu.core.errors import InvalidInputError
from siyu.pipeline import community as flow
from siyu.pipeline import community_health, community_sops
from siyu.workspaces import service as workspaces

READ = [Require("groups:read")]
WRITE = [Require("groups:write")]
router = APIRouter(prefix="/api/groups", tags=["groups"])


# -- groups ------------------------------------------------------------------------------------


@router.get("", summary="Customer groups", dependencies=READ)
async def list_groups(
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    tag: Annotated[str | None, Query(max_length=60)] = None,
    owner: Annotated[str | None, Query(max_length=80)] = None,
) -> list[Group]:
    """Every group (or those with a tag, or of an owner), by name."""
    return await in_transaction(
        runtime, community.list_groups, workspace_id=workspace.id, tag=tag, owner=owner
    )


@router.post("/sync", summary="Sync groups from WeCom", dependencies=WRITE)
async def sync(runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> SyncReport:
    """Fetch every customer group and its members from WeCom (full sync: groups WeCom no
    longer lists are dismissed), link members to persons, re-point the group live codes."""
    return await run_in_threadpool(
        flow.sync_groups, runtime=runtime, workspace_id=workspace.id, now=utcnow()
    )


@router.get("/chats/{chat_id}", summary="A group with its members", dependencies=READ)
async def get_group(chat_id: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> GroupDetail:
    """One group and its members, current and gone (404 when unknown)."""
    return await in_transaction(
        runtime, community.get_group, workspace_id=workspace.id, chat_id=chat_id
    )


@router.put("/chats/{chat_id}/tags", summary="Set a group's tags", dependencies=WRITE)
async def set_tags(
    chat_id: str, body: GroupTagsSet, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> Group:
    """Replace the operator tags of a group (SOPs can target a tag)."""
    return await in_transaction(
        runtime, community.set_tags, workspace_id=workspace.id, chat_id=chat_id, tags=body.tags
    )


@router.post("/chats/{chat_id}/messages", summary="Moderate a group message", dependencies=WRITE)
async def observe(
    chat_id: str,
    body: GroupMessageIn,
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    background: BackgroundTasks,
) -> Verdict:
    """A group message with its content (e.g. from WeCom's message archive): counted,
    matched against keyword rules, checked for links, QR-code ads and flooding; a customer
    spamming in two groups within a day is marked, blocked from group live codes, and each
    owner gets a removal task (WeCom has no API to remove a customer from a group). A
    keyword rule's reply is posted into the group through its robot after the answer, once
    per message (``reply_due``)."""
    message = body.model_copy(update={"at": ensure_utc(body.at)})
    verdict = await run_in_threadpool(
        flow.observe_message,
        runtime=runtime,
        workspace_id=workspace.id,
        chat_id=chat_id,
        message=message,
        now=utcnow(),
    )
    reply = flow.reply_of(chat_id, message, verdict)
    if reply is not None:
        background.add_task(
            flow.post_reply, runtime=runtime, workspace_id=workspace.id, reply=reply, now=utcnow()
        )
    return verdict


# -- group live codes --------------------------------------------------------------------------


@router.post("/live-codes", status_code=201, summary="Create a group live code", dependencies=WRITE)
async def create_live_code(
    body: GroupLiveCodeCreate, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> GroupLiveCode:
    """A group live code (群活码) over known groups, with its WeCom join way; 400 names an
    unknown group, 409 a state already used."""
    return await run_in_threadpool(
        flow.create_live_code, runtime=runtime, workspace_id=workspace.id, code=body, now=utcnow()
    )


@router.get("/live-codes", summary="Group live codes", dependencies=READ)
async def list_live_codes(runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> list[GroupLiveCode]:
    """Every group live code with the group it points at now."""
    return await in_transaction(runtime, community.list_codes, workspace_id=workspace.id)


@router.get("/live-codes/{code_id}", summary="A group live code", dependencies=READ)
async def get_live_code(
    code_id: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> GroupLiveCode:
    """One code (404 when unknown)."""
    return await in_transaction(
        runtime, community.get_code, workspace_id=workspace.id, code_id=code_id
    )


@router.get("/live-codes/{code_id}/stats", summary="Scans of a group live code", dependencies=READ)
async def live_code_stats(
    code_id: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> LiveCodeStats:
    """Scans, blocked scans and seats per group."""
    return await in_transaction(
        runtime, community.code_stats, workspace_id=workspace.id, code_id=code_id
    )


@router.post(
    "/live-codes/{code_id}/scans", status_code=201, summary="Record a scan", dependencies=WRITE
)
async def scan(
    code_id: str,
    body: GroupScanCreate,
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> GroupScan:
    """A customer scanned the code: seated in the current group (rotating when it is full,
    a new group from the template when all are), or ``blocked`` for a marked spammer. A
    retry with the same Idempotency-Key answers the first seat."""
    return await run_in_threadpool(
        flow.scan_live_code,
        runtime=runtime,
        workspace_id=workspace.id,
        code_id=code_id,
        scan=body,
        now=utcnow(),
        idempotency_key=idempotency_key,
    )


# -- SOP ---------------------------------------------------------------------------------------


@router.post("/sops", status_code=201, summary="Create an SOP", dependencies=WRITE)
async def create_sop(body: SopCreate, runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> Sop:
    """A scheduled post (a WeCom group mass send each owner confirms) or reminder, for
    listed groups or every group with a tag; once at a time, or every day / week."""

    def write() -> Sop:
        with runtime.sessions() as session, session.begin():
            zone = workspaces.get_workspace(session=session, workspace_id=workspace.id).timezone
            return community.create_sop(
                session=session, workspace_id=workspace.id, sop=body, zone=zone, now=utcnow()
            )

    return await run_in_threadpool(write)


@router.get("/sops", summary="SOPs", dependencies=READ)
async def list_sops(runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> list[Sop]:
    """Every SOP with its next run."""
    return await in_transaction(runtime, community.list_sops, workspace_id=workspace.id)


@router.put("/sops/{sop_id}/active", summary="Pause or resume an SOP", dependencies=WRITE)
async def set_sop_active(
    sop_id: str, active: bool, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> Sop:
    """``?active=false`` pauses, ``true`` resumes."""
    return await in_transaction(
        runtime, community.set_active, workspace_id=workspace.id, sop_id=sop_id, active=active
    )


@router.get("/sops/tasks", summary="SOP tasks in WeCom", dependencies=READ)
async def sop_tasks(
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    sop_id: Annotated[str | None, Query(max_length=40)] = None,
    status: Literal["creating", "awaiting", "confirmed", "failed", "sent"] | None = None,
) -> list[SopTask]:
    """Each owner's part of each run: the WeCom msgid, confirmed or not, per-group results."""
    return await in_transaction(
        runtime, community.list_sop_tasks, workspace_id=workspace.id, sop_id=sop_id, status=status
    )


@router.post("/sops/run", summary="Run due SOPs now", dependencies=WRITE)
async def run_sops(runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> list[SopTask]:
    """Create the WeCom tasks of every due SOP (what the SOP job does), once per run."""
    return await run_in_threadpool(
        community_sops.run_due_sops, runtime=runtime, workspace_id=workspace.id, now=utcnow()
    )


@router.post("/sops/poll", summary="Read back SOP tasks", dependencies=WRITE)
async def poll_sops(runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> list[SopTask]:
    """Ask WeCom which awaiting group mass sends the owners confirmed; those settled now."""
    return await run_in_threadpool(
        community_sops.poll_sop_tasks, runtime=runtime, workspace_id=workspace.id, now=utcnow()
    )


# -- moderation, tasks, settings ---------------------------------------------------------------


@router.post("/rules", status_code=201, summary="Add a keyword rule", dependencies=WRITE)
async def create_rule(body: RuleCreate, runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> Rule:
    """Reply with a text, or flag the message, when a keyword appears."""
    return await in_transaction(
        runtime, community.create_rule, workspace_id=workspace.id, rule=body, now=utcnow()
    )


@router.get("/rules", summary="Keyword rules", dependencies=READ)
async def list_rules(runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> list[Rule]:
    """Every keyword rule."""
    return await in_transaction(runtime, community.list_rules, workspace_id=workspace.id)


@router.get("/spammers", summary="Marked spammers", dependencies=READ)
async def list_spammers(runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> list[Spammer]:
    """Members marked for spam across groups (blocked from group live codes)."""
    return await in_transaction(runtime, community.list_spammers, workspace_id=workspace.id)


@router.get("/tasks", summary="Owner tasks", dependencies=READ)
async def list_tasks(
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    status: Literal["open", "done"] | None = "open",
    kind: Literal["remove_member", "dormant"] | None = None,
) -> list[CommunityTask]:
    """Spammer removals and dormant-group alerts for the owners."""
    return await in_transaction(
        runtime, community.list_tasks, workspace_id=workspace.id, status=status, kind=kind
    )


@router.post("/tasks/{task_id}/done", summary="Close an owner task", dependencies=WRITE)
async def close_task(
    task_id: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> CommunityTask:
    """The owner did it (404 when unknown)."""
    return await in_transaction(
        runtime, community.close_task, workspace_id=workspace.id, task_id=task_id
    )


@router.get("/settings", summary="Community settings", dependencies=READ)
async def get_settings(runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> CommunitySettings:
    """Welcome text, the WeCom app that messages staff, dormancy threshold."""
    return await in_transaction(runtime, community.get_settings, workspace_id=workspace.id)


@router.put("/settings", summary="Set community settings", dependencies=WRITE)
async def set_settings(
    body: CommunitySettings, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> CommunitySettings:
    """Replace them; a welcome text is made the WeCom group welcome template."""
    return await run_in_threadpool(
        flow.set_settings, runtime=runtime, workspace_id=workspace.id, settings=body, now=utcnow()
    )


# -- health ------------------------------------------------------------------------------------


def _period(since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    end = ensure_utc(until) if until else utcnow()
    start = ensure_utc(since) if since else end - timedelta(days=30)
    if end <= start:
        raise InvalidInputError("until must be after since", field="until")
    return start, end


@router.get("/health", summary="Group health", dependencies=READ)
async def health(
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    since: datetime | None = None,
    until: datetime | None = None,
) -> HealthReport:
    """Members, joins, leaves, active speakers, messages, orders and GMV of members, per
    group and per owner (default: the last 30 days)."""
    start, end = _period(since, until)
    return await run_in_threadpool(
        community_health.group_health,
        runtime=runtime,
        workspace_id=workspace.id,
        since=start,
        until=end,
    )


@router.get("/dormant", summary="Dormant groups", dependencies=READ)
async def dormant(
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    days: Annotated[int, Query(ge=1, le=365)] = 7,
) -> list[DormantGroup]:
    """Groups with no message, or no join, for ``days`` days."""
    return await in_transaction(
        runtime, community.dormant_groups, workspace_id=workspace.id, now=utcnow(), days=days
    )

"""The community assistant (社群助手): WeCom group callbacks in, robot replies out, and the
management API of its knowledge base, rules, settings, groups and statistics.

A group callback is verified and decrypted like the WeCom contact callback (the workspace's
WeCom account), recorded, answered (rule → retrieval → hand-over), ingested as
``group_message`` / ``group_member_joined`` / ``group_member_left`` tracks, and answered
``success``; the reply or welcome goes out after the answer through the group robot webhook.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, BackgroundTasks, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, Field

from siyu.api.deps import AdminWorkspaceDep, Require, RuntimeDep, in_transaction
from siyu.api.routes.wechat import Nonce, Signature, Stamp, _body, _crypto, _ingest
from siyu.assistant import kf, robot
from siyu.assistant import service as assistant
from siyu.assistant.models import (
    AssistantSettings,
    Entry,
    EntryCreate,
    EntryUpdate,
    Group,
    GroupSet,
    GroupStats,
    ImportSummary,
    Reply,
    Rule,
    RuleCreate,
    Synonym,
    Unanswered,
)
from siyu.channels.models import SendError
from siyu.channels.wechat_accounts import AccountKind
from siyu.channels.wechat_group_messages import (
    WecomGroupMembers,
    WecomGroupMessage,
    parse_group_event,
)
from siyu.core.clock import ensure_utc, utcnow
from siyu.core.errors import SiyuError
from siyu.core.runtime import Runtime
from siyu.pipeline import assistant_kf

log = logging.getLogger("siyu.api.assistant")
callbacks = APIRouter(tags=["assistant"])
router = APIRouter(prefix="/api/assistant", tags=["assistant"])
READ = [Require("assistant:read")]
WRITE = [Require("assistant:write")]

# -- WeCom group callbacks -----------------------------------------------------------------


@callbacks.get("/wechat/assistant/{workspace_id}/callback", summary="Group callback URL check")
async def verify_group_callback(
    workspace_id: str,
    runtime: RuntimeDep,
    msg_signature: Signature,
    timestamp: Stamp,
    nonce: Nonce,
    echostr: Annotated[str, Query(max_length=1024)],
) -> PlainTextResponse:
    """Answer WeCom's verification with the decrypted ``echostr``."""
    crypto = await run_in_threadpool(_crypto, runtime, workspace_id, AccountKind.WECOM)
    plain = crypto.verify_url(
        msg_signature=msg_signature, timestamp=timestamp, nonce=nonce, echostr=echostr
    )
    return PlainTextResponse(plain)


def _apply(
    runtime: Runtime, workspace_id: str, event: WecomGroupMessage | WecomGroupMembers
) -> tuple[str | None, str | None, list[dict[str, Any]]]:
    """Record and decide; the text to say, the webhook to say it with, and the events."""
    with runtime.sessions() as session, session.begin():
        if isinstance(event, WecomGroupMessage):
            reply = assistant.handle_message(
                session=session, workspace_id=workspace_id, message=event, now=utcnow()
            )
            text, messages = reply.text, assistant.message_events(event, reply)
        else:
            text = assistant.handle_members(
                session=session, workspace_id=workspace_id, change=event
            )
            messages = assistant.member_events(event)
        webhook = assistant.webhook_for(
            session=session, workspace_id=workspace_id, chat_id=event.chat_id, vault=runtime.vault
        )
    return text, webhook, messages


def _say(webhook: str, text: str, mention: list[str]) -> None:
    """After the answer: the reply or welcome through the group robot (failures logged —
    the message and its outcome are committed)."""
    try:
        with httpx.Client() as client:
            robot.send_text(client=client, webhook_url=webhook, content=text, mention=mention)
    except SendError as exc:
        log.warning("group robot: %s", exc.message)


def _answer_kf(runtime: Runtime, workspace_id: str, notice: kf.KfEvent) -> None:
    """After the answer: 微信客服 messages pulled, answered and sent (failures logged)."""
    try:
        assistant_kf.answer_kf(runtime=runtime, workspace_id=workspace_id, event=notice,
                               now=utcnow())  # fmt: skip
    except SiyuError as exc:
        log.warning("微信客服 %s: %s", notice.open_kfid, exc.message)
    except Exception:  # a fault: logged; WeCom's next notice pulls from the kept cursor
        log.exception("微信客服 %s failed", notice.open_kfid)


@callbacks.post("/wechat/assistant/{workspace_id}/callback", summary="Group message callback")
async def receive_group_callback(
    workspace_id: str,
    request: Request,
    runtime: RuntimeDep,
    background: BackgroundTasks,
    msg_signature: Signature,
    timestamp: Stamp,
    nonce: Nonce,
) -> PlainTextResponse:
    """Verify and decrypt a group text message or member change; answer it (or welcome the
    newcomers) through the group robot after the answer, unless the group is muted, the
    sender opted out, or it is a retry. A 微信客服 notice (``kf_msg_or_event``) has the new
    1:1 messages pulled and answered through the customer-service API."""
    body = await _body(request)
    crypto = await run_in_threadpool(_crypto, runtime, workspace_id, AccountKind.WECOM)
    xml = crypto.decrypt_xml(
        msg_signature=msg_signature, timestamp=timestamp, nonce=nonce, body=body
    )
    notice = kf.parse_kf_event(xml)
    if notice is not None:  # 微信客服: pull, answer and send after the answer
        background.add_task(_answer_kf, runtime, workspace_id, notice)
        return PlainTextResponse("success")
    event = parse_group_event(xml)
    if event is None:
        return PlainTextResponse("success")
    text, webhook, messages = await run_in_threadpool(_apply, runtime, workspace_id, event)
    await run_in_threadpool(_ingest, request, runtime, workspace_id, messages)
    if text and webhook:
        mention = [event.sender] if isinstance(event, WecomGroupMessage) else []
        background.add_task(_say, webhook, text, mention)
    return PlainTextResponse("success")


# -- knowledge base ------------------------------------------------------------------------


@router.get("/entries", summary="Knowledge-base entries", dependencies=READ)
async def list_entries(runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> list[Entry]:
    """Every entry, by id."""
    return await in_transaction(runtime, assistant.list_entries, workspace_id=workspace.id)


@router.post("/entries", status_code=201, summary="Add an entry", dependencies=WRITE)
async def create_entry(
    body: EntryCreate, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> Entry:
    """Add a question, its other phrasings and its answer (409 when the id is taken)."""
    return await in_transaction(
        runtime, assistant.create_entry, workspace_id=workspace.id, entry=body, now=utcnow()
    )


@router.get("/entries/{entry_id}", summary="An entry", dependencies=READ)
async def get_entry(entry_id: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> Entry:
    """One entry (404 when unknown)."""
    return await in_transaction(
        runtime, assistant.get_entry, workspace_id=workspace.id, entry_id=entry_id
    )


@router.patch("/entries/{entry_id}", summary="Change an entry", dependencies=WRITE)
async def update_entry(
    entry_id: str, body: EntryUpdate, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> Entry:
    """Change the fields sent; the others stay."""
    return await in_transaction(
        runtime,
        assistant.update_entry,
        workspace_id=workspace.id,
        entry_id=entry_id,
        change=body,
        now=utcnow(),
    )


@router.delete(
    "/entries/{entry_id}", status_code=204, summary="Remove an entry", dependencies=WRITE
)
async def delete_entry(
    entry_id: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> Response:
    """Remove an entry (404 when unknown)."""
    await in_transaction(
        runtime, assistant.delete_entry, workspace_id=workspace.id, entry_id=entry_id
    )
    return Response(status_code=204)


@router.post("/entries/import", summary="Import entries from CSV", dependencies=WRITE)
async def import_entries(
    request: Request, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> ImportSummary:
    """The request body is a CSV file (UTF-8 or GBK) with columns id, question,
    alternatives, answer, tags, enabled; ``|`` separates alternatives and tags."""
    data = await request.body()
    return await in_transaction(
        runtime, assistant.import_entries, workspace_id=workspace.id, data=data, now=utcnow()
    )


@router.get("/synonyms", summary="Synonyms", dependencies=READ)
async def list_synonyms(runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> list[Synonym]:
    """Every word read as another (包邮 → 免运费)."""
    return await in_transaction(runtime, assistant.list_synonyms, workspace_id=workspace.id)


@router.put("/synonyms", summary="Replace the synonyms", dependencies=WRITE)
async def set_synonyms(
    body: list[Synonym], runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> list[Synonym]:
    """Replace every synonym of the workspace."""
    await in_transaction(runtime, assistant.set_synonyms, workspace_id=workspace.id, synonyms=body)
    return body


@router.get("/rules", summary="Keyword rules", dependencies=READ)
async def list_rules(runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> list[Rule]:
    """Every rule, highest priority first."""
    return await in_transaction(runtime, assistant.list_rules, workspace_id=workspace.id)


@router.post("/rules", status_code=201, summary="Add a keyword rule", dependencies=WRITE)
async def create_rule(body: RuleCreate, runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> Rule:
    """A keyword or regex answered before retrieval (400 for a regex that does not compile)."""
    return await in_transaction(
        runtime, assistant.create_rule, workspace_id=workspace.id, rule=body, now=utcnow()
    )


@router.delete("/rules/{rule_id}", status_code=204, summary="Remove a rule", dependencies=WRITE)
async def delete_rule(rule_id: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> Response:
    """Remove a rule (404 when unknown)."""
    await in_transaction(runtime, assistant.delete_rule, workspace_id=workspace.id, rule_id=rule_id)
    return Response(status_code=204)


class Question(BaseModel):
    """A question to try the assistant with."""

    question: str = Field(min_length=1, max_length=2048)


@router.post("/ask", summary="Try a question", dependencies=READ)
async def ask(body: Question, runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> Reply:
    """What the assistant would answer, with its confidence (nothing is recorded)."""
    return await in_transaction(
        runtime, assistant.ask, workspace_id=workspace.id, question=body.question
    )


@router.get("/unanswered", summary="Handed-over questions", dependencies=READ)
async def unanswered(
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[Unanswered]:
    """Questions handed over to a human, most asked first."""
    return await in_transaction(
        runtime, assistant.list_unanswered, workspace_id=workspace.id, limit=limit
    )


# -- settings, groups, statistics ----------------------------------------------------------


@router.get("/settings", summary="Assistant settings", dependencies=READ)
async def get_settings(runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> AssistantSettings:
    """Threshold, margin, hand-over and welcome texts, default robot webhook."""
    return await in_transaction(
        runtime, assistant.get_settings, workspace_id=workspace.id, vault=runtime.vault
    )


@router.put("/settings", summary="Replace the assistant settings", dependencies=WRITE)
async def set_settings(
    body: AssistantSettings, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> AssistantSettings:
    """Replace the settings (the webhook is stored sealed; sending back the masked URL read
    keeps it)."""
    return await in_transaction(
        runtime,
        assistant.set_settings,
        workspace_id=workspace.id,
        settings=body,
        now=utcnow(),
        vault=runtime.vault,
    )


@router.get("/groups", summary="Groups", dependencies=READ)
async def list_groups(runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> list[Group]:
    """Every configured group."""
    return await in_transaction(
        runtime, assistant.list_groups, workspace_id=workspace.id, vault=runtime.vault
    )


@router.get("/groups/stats", summary="Group statistics", dependencies=READ)
async def group_stats(
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    since: Annotated[datetime, Query(description="From (inclusive).")],
    until: Annotated[datetime, Query(description="Until (exclusive).")],
) -> list[GroupStats]:
    """Per group: members, joins, leaves, active speakers, messages, questions answered and
    handed over."""
    return await in_transaction(
        runtime,
        assistant.group_stats,
        workspace_id=workspace.id,
        since=ensure_utc(since),
        until=ensure_utc(until),
    )


@router.put("/groups/{chat_id}", summary="Set a group", dependencies=WRITE)
async def set_group(
    chat_id: str, body: GroupSet, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> Group:
    """Name, robot webhook and mute switch of a group."""
    return await in_transaction(
        runtime,
        assistant.set_group,
        workspace_id=workspace.id,
        chat_id=chat_id,
        group=body,
        now=utcnow(),
        vault=runtime.vault,
    )

"""Community orchestration: WeCom customer groups synced into siyu, group live codes kept in
step with WeCom's join ways, scans resolved to persons, WeCom group callbacks, and keyword
replies posted through the assistant's group robot.

WeCom is asked first and the answers written afterwards, so no write transaction is held
across a network call.
"""

from __future__ import annotations

import logging
from datetime import datetime

import httpx
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError

from siyu.assistant import robot
from siyu.assistant import service as assistant
from siyu.channels import wechat_accounts
from siyu.channels.models import SendError
from siyu.channels.wechat_group_messages import (
    WecomGroupMembers,
    WecomGroupMessage,
    parse_group_event,
)
from siyu.channels.wechat_xml import WecomChatEvent
from siyu.channels.wecom import WecomClient
from siyu.collect import normalize
from siyu.collect.models import IdType
from siyu.community import service as community
from siyu.community import wecom_groups
from siyu.community.models import (
    CommunitySettings,
    GroupLiveCode,
    GroupLiveCodeCreate,
    GroupMessageIn,
    GroupScan,
    GroupScanCreate,
    SyncReport,
    Verdict,
)
from siyu.core.errors import NotFoundError
from siyu.core.ids import new_id
from siyu.core.runtime import Runtime
from siyu.identity import service as identity
from siyu.pipeline.ingest import ingest

log = logging.getLogger("siyu.community")
SCAN_EVENT = "Group Live Code Scanned"


def wecom_client(runtime: Runtime, workspace_id: str) -> WecomClient:
    """The workspace's WeCom client. Raises NotFoundError without a WeCom account."""
    with runtime.sessions() as session:
        return wechat_accounts.wecom_client(
            session=session, vault=runtime.vault, workspace_id=workspace_id
        )


# -- sync ----------------------------------------------------------------------------------------


def sync_groups(
    *, runtime: Runtime, workspace_id: str, now: datetime, client: WecomClient | None = None
) -> SyncReport:
    """Fetch every customer group (groupchat/list, all pages, then groupchat/get) and store
    them as a full sync; then re-point the group live codes."""
    own = client is None
    client = client or wecom_client(runtime, workspace_id)
    try:
        groups = [
            wecom_groups.get_group(client, chat_id=chat_id)
            for chat_id in wecom_groups.list_chat_ids(client)
        ]
        with runtime.sessions() as session, session.begin():
            report = community.store_sync(
                session=session, workspace_id=workspace_id, groups=groups, now=now
            )
        check_live_codes(runtime=runtime, workspace_id=workspace_id, client=client)
    finally:
        if own:
            client.close()
    return report


def refresh_group(
    *, runtime: Runtime, workspace_id: str, chat_id: str, now: datetime, client: WecomClient
) -> None:
    """Fetch one group from WeCom and store it (after a create or change callback)."""
    group = wecom_groups.get_group(client, chat_id=chat_id)
    with runtime.sessions() as session, session.begin():
        community.store_group(session, workspace_id, group, now)


# -- group live codes ----------------------------------------------------------------------------


def _point(client: WecomClient, runtime: Runtime, workspace_id: str, code: GroupLiveCode) -> bool:
    """Make WeCom's join way point where siyu says; True when a call was made."""
    target, room = community.join_way_target(code)
    if code.config_id is None:
        config_id, qr = wecom_groups.add_join_way(
            client,
            state=code.state,
            chat_ids=[target],
            room_base_name=code.room_base_name,
            room_base_id=room,
        )
        with runtime.sessions() as session, session.begin():
            community.set_wecom(
                session=session,
                workspace_id=workspace_id,
                code_id=code.id,
                config_id=config_id,
                qr_code=qr,
            )
    elif code.wecom_chat_id != (code.current_chat_id or target):
        wecom_groups.update_join_way(
            client,
            config_id=code.config_id,
            state=code.state,
            chat_ids=[target],
            room_base_name=code.room_base_name,
            room_base_id=room,
        )
    else:
        return False
    with runtime.sessions() as session, session.begin():
        community.mark_pointed(
            session=session,
            workspace_id=workspace_id,
            code_id=code.id,
            chat_id=code.current_chat_id or target,
        )
    return True


def create_live_code(
    *, runtime: Runtime, workspace_id: str, code: GroupLiveCodeCreate, now: datetime
) -> GroupLiveCode:
    """Store a group live code, then make its WeCom join way (a failed WeCom call leaves it
    for the live-code check to make)."""
    with runtime.sessions() as session, session.begin():
        made = community.create_code(session=session, workspace_id=workspace_id, code=code, now=now)
    client = wecom_client(runtime, workspace_id)
    try:
        _point(client, runtime, workspace_id, made.model_copy(update={"wecom_chat_id": None}))
    finally:
        client.close()
    with runtime.sessions() as session:
        return community.get_code(session=session, workspace_id=workspace_id, code_id=made.id)


def check_live_codes(
    *, runtime: Runtime, workspace_id: str, client: WecomClient | None = None
) -> list[str]:
    """Move each code to its first group with room and point its WeCom join way there; the
    ids of the codes re-pointed."""
    with runtime.sessions() as session, session.begin():
        codes = [
            community.refresh_current(session=session, workspace_id=workspace_id, code_id=c.id)
            for c in community.list_codes(session=session, workspace_id=workspace_id)
        ]
    if not codes:
        return []
    own = client is None
    client = client or wecom_client(runtime, workspace_id)
    try:
        return [c.id for c in codes if _point(client, runtime, workspace_id, c)]
    finally:
        if own:
            client.close()


def _person(
    runtime: Runtime,
    workspace_id: str,
    scan: GroupScanCreate,
    code: GroupLiveCode,
    now: datetime,
    message_id: str,
) -> str:
    """Ingest the scan as an event of the scanning customer; the person holding the id."""
    try:
        kind = IdType(scan.identifier_type)
    except ValueError:
        raise normalize.FieldError(
            "identifier_type", "an identifier type, e.g. wecom_external_userid"
        ) from None
    key = normalize.make_identifier(runtime.vault, kind, scan.identifier, "identifier")
    message = {
        "type": "track",
        "event": SCAN_EVENT,
        "messageId": message_id,
        "anonymousId": f"idk_{key.key[:40]}",
        "timestamp": now.isoformat(),
        "context": {
            "externalIds": [{"type": kind.value, "id": scan.identifier}],
            "campaign": {"source": "group_live_code", "name": code.name, "content": code.state},
        },
        "properties": {"group_live_code_id": code.id, "state": code.state},
    }
    result = ingest(runtime=runtime, workspace_id=workspace_id, messages=[message], received_at=now)
    if result.rejected:
        raise normalize.FieldError("identifier", result.rejected[0].reason)
    with runtime.sessions() as session:
        person_id = identity.find_person(session=session, workspace_id=workspace_id, identifier=key)
        if person_id is None:  # pragma: no cover - the event above made the person
            raise NotFoundError("no person with that identifier", field="identifier")
        return identity.current_person_id(
            session=session, workspace_id=workspace_id, person_id=person_id
        )


def scan_live_code(
    *,
    runtime: Runtime,
    workspace_id: str,
    code_id: str,
    scan: GroupScanCreate,
    now: datetime,
    idempotency_key: str | None = None,
) -> GroupScan:
    """A customer scanned a group live code: ingest the scan, seat them (rotating or making a
    group), then point the WeCom join way at the code's current group."""
    with runtime.sessions() as session:
        code = community.get_code(session=session, workspace_id=workspace_id, code_id=code_id)
    key = idempotency_key or new_id("gsk")
    person_id = _person(runtime, workspace_id, scan, code, now, f"gscan:{code_id}:{key}"[:200])
    for attempt in (1, 2):
        try:
            with runtime.sessions() as session, session.begin():
                seated = community.record_scan(
                    session=session,
                    workspace_id=workspace_id,
                    code_id=code_id,
                    person_id=person_id,
                    now=now,
                    idempotency_key=key,
                )
            break
        except IntegrityError:  # a concurrent twin with this key won: answer its row
            if attempt == 2:
                raise
    with runtime.sessions() as session:
        code = community.get_code(session=session, workspace_id=workspace_id, code_id=code_id)
    if code.wecom_chat_id != code.current_chat_id:
        try:
            check_live_codes(runtime=runtime, workspace_id=workspace_id)
        except Exception:  # the seat is committed; the live-code job re-points later
            log.exception("could not re-point group live code %s", code_id)
    return seated


# -- callbacks -----------------------------------------------------------------------------------


class GroupReply(BaseModel):
    """A keyword rule's reply to say in a group, @-mentioning the sender."""

    chat_id: str
    text: str
    mention: list[str]
    event_key: str = Field(description="The triggering message's activity row.")


class GroupCallbackWork(BaseModel):
    """What is left after a group callback is committed and answered."""

    refresh_chat_id: str | None = Field(default=None, description="Re-read from WeCom.")
    reply: GroupReply | None = Field(default=None, description="Post into the group.")


def reply_of(chat_id: str, message: GroupMessageIn, verdict: Verdict) -> GroupReply | None:
    """The reply to post for a moderated message: only a verdict whose reply is due (once
    per message)."""
    if not verdict.reply_due or not verdict.reply:
        return None
    return GroupReply(
        chat_id=chat_id,
        text=verdict.reply,
        mention=[message.sender],
        event_key=community.message_key(chat_id, message.msg_id),
    )


def post_reply(*, runtime: Runtime, workspace_id: str, reply: GroupReply, now: datetime) -> bool:
    """Say a keyword rule's reply in the group through the group robot the assistant speaks
    with there (the group's webhook, else the workspace default); True when WeCom took it.
    Runs after the answer. A post is recorded on the message, which is never replied to
    again; a refusal, or no robot, is logged and releases the message's claim, so a later
    delivery of the same message (a WeCom retry, the archive feed again) tries once more."""
    with runtime.sessions() as session:
        webhook = assistant.webhook_for(
            session=session, workspace_id=workspace_id, chat_id=reply.chat_id, vault=runtime.vault
        )
    posted = False
    if webhook is None:
        log.warning("no group robot for %s: keyword reply not posted", reply.chat_id)
    else:
        try:
            with httpx.Client() as client:
                robot.send_text(
                    client=client, webhook_url=webhook, content=reply.text, mention=reply.mention
                )
            posted = True
        except SendError as exc:
            log.warning("group robot, keyword reply in %s: %s", reply.chat_id, exc.message)
    with runtime.sessions() as session, session.begin():
        if posted:
            community.reply_posted(session, workspace_id, reply.event_key, now)
        else:
            community.release_reply(session, workspace_id, reply.event_key)
    return posted


def observe_message(
    *, runtime: Runtime, workspace_id: str, chat_id: str, message: GroupMessageIn, now: datetime
) -> Verdict:
    """A group message with its content: counted, matched against keyword rules, checked
    for spam (a spammer across groups gets removal tasks for the owners). A reply that is
    due is the caller's to post (:func:`reply_of`, :func:`post_reply`) after it answers."""
    with runtime.sessions() as session, session.begin():
        return community.observe_message(
            session=session, workspace_id=workspace_id, chat_id=chat_id, message=message, now=now
        )


def apply_group_callback(
    *,
    runtime: Runtime,
    workspace_id: str,
    event: WecomChatEvent | None,
    xml: str | bytes,
    now: datetime,
) -> GroupCallbackWork:
    """A WeCom ``change_external_chat`` (or a group text message) at the contact callback:
    joins and leaves are ingested as the assistant ingests them (same message ids and
    activity keys, so the two callbacks count once), a dismissed group is marked, a message
    is moderated. What is left: the chat_id to refresh from WeCom (group created or
    changed), or a keyword reply to post."""
    group_event = parse_group_event(xml)
    if isinstance(group_event, WecomGroupMembers):
        ingest(
            runtime=runtime,
            workspace_id=workspace_id,
            messages=assistant.member_events(group_event),
            received_at=now,
        )
        return GroupCallbackWork()
    if isinstance(group_event, WecomGroupMessage):
        message = GroupMessageIn(
            msg_id=group_event.msg_id,
            sender=group_event.sender,
            content=group_event.content,
            at=group_event.at,
        )
        verdict = observe_message(
            runtime=runtime,
            workspace_id=workspace_id,
            chat_id=group_event.chat_id,
            message=message,
            now=now,
        )
        return GroupCallbackWork(reply=reply_of(group_event.chat_id, message, verdict))
    if event is None:
        return GroupCallbackWork()
    if event.change == "dismiss":
        with runtime.sessions() as session, session.begin():
            community.dismiss(
                session=session, workspace_id=workspace_id, chat_id=event.chat_id, now=now
            )
        return GroupCallbackWork()
    return GroupCallbackWork(refresh_chat_id=event.chat_id)


def set_settings(
    *, runtime: Runtime, workspace_id: str, settings: CommunitySettings, now: datetime
) -> CommunitySettings:
    """Store the settings; a new or changed welcome text is made (or edited as) the WeCom
    group welcome template first, which owners pick for their groups in WeCom."""
    with runtime.sessions() as session:
        before = community.get_settings(session=session, workspace_id=workspace_id)
    template_id = before.welcome_template_id
    if settings.welcome_text and settings.welcome_text != before.welcome_text:
        client = wecom_client(runtime, workspace_id)
        try:
            if template_id:
                wecom_groups.edit_group_welcome(
                    client, template_id=template_id, text=settings.welcome_text
                )
            else:
                template_id = wecom_groups.add_group_welcome(client, text=settings.welcome_text)
        finally:
            client.close()
    stored = settings.model_copy(update={"welcome_template_id": template_id})
    with runtime.sessions() as session, session.begin():
        return community.set_settings(
            session=session, workspace_id=workspace_id, settings=stored, now=now
        )

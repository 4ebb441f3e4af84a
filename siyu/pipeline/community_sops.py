"""Group SOP runs: due posts become WeCom group mass sends the owners confirm, reminders
become app messages (or open tasks) for the owners, and the sends are read back."""

from __future__ import annotations

import logging
from datetime import datetime

from siyu.channels.models import RetryableSendError, SendError
from siyu.channels.wecom import WecomClient
from siyu.channels.wecom_models import RecipientStatus, TaskStatus
from siyu.community import service as community
from siyu.community import wecom_groups
from siyu.community.models import Sop, SopTask
from siyu.core.runtime import Runtime
from siyu.pipeline.community import wecom_client
from siyu.workspaces import service as workspaces

log = logging.getLogger("siyu.community")


def _claim(runtime: Runtime, workspace_id: str, sop: Sop, now: datetime) -> list[str]:
    """Insert this run's tasks (one per owner) and move the SOP on; the new task ids."""
    with runtime.sessions() as session, session.begin():
        zone = workspaces.get_workspace(session=session, workspace_id=workspace_id).timezone
        owners = community.targets_by_owner(session, workspace_id, sop)
        made = [
            task_id
            for owner, chat_ids in owners.items()
            if (task_id := community.claim_task(session, workspace_id, sop, owner, chat_ids, now))
        ]
        assert sop.next_run_at is not None
        community.advance(session, workspace_id, sop, sop.next_run_at, zone)
    return made


def _send(
    runtime: Runtime, workspace_id: str, client: WecomClient, task: SopTask, sop: Sop, now: datetime
) -> None:
    """Create the WeCom side of one task and record it."""
    agent = None
    with runtime.sessions() as session:
        agent = community.get_settings(session=session, workspace_id=workspace_id).agent_id
    try:
        if task.kind == "post":
            sent = client.add_msg_template(
                sender=task.sender, text=sop.text, chat_type="group", chat_ids=task.chat_ids
            )
            status, msgid, reason = "awaiting", sent.msgid, None
        elif agent:
            wecom_groups.message_staff(
                client, agent_id=agent, userids=[task.sender], text=f"[{sop.name}] {sop.text}"
            )
            status, msgid, reason = "sent", None, None
        else:
            status, msgid, reason = "awaiting", None, "no WeCom app to message staff: open task"
    except RetryableSendError:
        raise
    except SendError as exc:
        status, msgid, reason = "failed", None, f"WeCom: {exc.message}"
    with runtime.sessions() as session, session.begin():
        community.settle_task(
            session,
            workspace_id,
            task.id,
            status=status,
            msgid=msgid,
            reason=reason,
            at=now if status != "awaiting" else None,
        )


def run_due_sops(
    *, runtime: Runtime, workspace_id: str, now: datetime, client: WecomClient | None = None
) -> list[SopTask]:
    """Run every due SOP once: one task per owner of its groups, created in WeCom."""
    with runtime.sessions() as session:
        due = community.due_sops(session=session, workspace_id=workspace_id, now=now)
    claimed = {sop.id: (sop, _claim(runtime, workspace_id, sop, now)) for sop in due}
    if not any(ids for _, ids in claimed.values()):
        return []
    own = client is None
    client = client or wecom_client(runtime, workspace_id)
    done: list[SopTask] = []
    try:
        for sop, ids in claimed.values():
            with runtime.sessions() as session:
                tasks = community.list_sop_tasks(
                    session=session, workspace_id=workspace_id, sop_id=sop.id, status="creating"
                )
            for task in tasks:
                if task.id in ids:
                    _send(runtime, workspace_id, client, task, sop, now)
                    done.append(task)
    finally:
        if own:
            client.close()
    with runtime.sessions() as session:
        found = community.list_sop_tasks(session=session, workspace_id=workspace_id)
    sent = {t.id for t in done}
    return [t for t in found if t.id in sent]


def _results(client: WecomClient, task: SopTask) -> dict[str, str]:
    assert task.msgid is not None
    results = dict(task.results)
    for r in client.groupmsg_results(msgid=task.msgid, userid=task.sender):
        if r.chat_id in results:
            results[r.chat_id] = {
                RecipientStatus.SENT: "sent",
                RecipientStatus.PENDING: "pending",
            }.get(r.status, "failed")
    return results


def poll_sop_tasks(
    *, runtime: Runtime, workspace_id: str, now: datetime, client: WecomClient | None = None
) -> list[SopTask]:
    """Read back awaiting group mass sends: confirmed by the owner → ``confirmed`` with the
    per-group results. WeCom is asked first, then the answers written."""
    with runtime.sessions() as session:
        waiting = [
            t
            for t in community.list_sop_tasks(
                session=session, workspace_id=workspace_id, status="awaiting"
            )
            if t.msgid
        ]
    if not waiting:
        return []
    own = client is None
    client = client or wecom_client(runtime, workspace_id)
    settled: list[tuple[SopTask, dict[str, str], datetime]] = []
    try:
        for task in waiting:
            assert task.msgid is not None
            try:
                staff = [
                    s for s in client.groupmsg_tasks(msgid=task.msgid) if s.userid == task.sender
                ]
                if staff and staff[0].status is TaskStatus.SENT:
                    settled.append((task, _results(client, task), staff[0].sent_at or now))
            except SendError as exc:
                log.warning("SOP task %s: %s", task.id, exc.message)
    finally:
        if own:
            client.close()
    with runtime.sessions() as session, session.begin():
        for task, results, at in settled:
            community.settle_task(
                session, workspace_id, task.id, status="confirmed", results=results, at=at
            )
    with runtime.sessions() as session:
        found = {
            t.id: t for t in community.list_sop_tasks(session=session, workspace_id=workspace_id)
        }
    return [found[t.id] for t, _, _ in settled]

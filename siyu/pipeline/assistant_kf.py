"""WeChat customer service (微信客服) for the assistant: on WeCom's ``kf_msg_or_event``
notice, pull the new messages, answer them, ingest them, send the answers.

Runs after the callback was answered (WeCom wants ``success`` within seconds). The pulled
messages and the new cursor commit in one transaction before anything is sent, so a crash
after it re-sends nothing already decided; a crash before it pulls the same messages again
and, their ids being recorded only on commit, decides them once. An answer WeCom refuses is
logged; the message and its outcome stay recorded.
"""

from __future__ import annotations

import logging
from datetime import datetime

from siyu.assistant import kf
from siyu.channels import wechat_accounts
from siyu.channels.models import SendError
from siyu.channels.wechat_api import WechatApi
from siyu.core.runtime import Runtime
from siyu.pipeline.ingest import ingest

log = logging.getLogger("siyu.assistant")


def _decide(
    runtime: Runtime, workspace_id: str, event: kf.KfEvent, pulled: list[kf.KfMessage],
    cursor: str | None, now: datetime,
) -> kf.KfOutcome:  # fmt: skip
    with runtime.sessions() as session, session.begin():
        done = kf.handle_kf(session=session, workspace_id=workspace_id, corp_id=event.corp_id,
                            messages=pulled, now=now)  # fmt: skip
        kf.save_cursor(session=session, workspace_id=workspace_id, open_kfid=event.open_kfid,
                       cursor=cursor, now=now)  # fmt: skip
    return done


def answer_kf(*, runtime: Runtime, workspace_id: str, event: kf.KfEvent, now: datetime) -> int:
    """Pull, record, answer; how many answers and welcomes WeCom accepted.

    Raises:
        NotFoundError: the workspace has no WeCom account.
        SendError: WeCom refused the pull (nothing is recorded; its next notice retries).
    """
    with runtime.sessions() as session:
        client = wechat_accounts.wecom_client(
            session=session, vault=runtime.vault, workspace_id=workspace_id
        )
        cursor = kf.get_cursor(
            session=session, workspace_id=workspace_id, open_kfid=event.open_kfid
        )
    try:
        pulled, cursor = kf.sync_messages(client.api, event=event, cursor=cursor)
        done = _decide(runtime, workspace_id, event, pulled, cursor, now)
        if done.tracks:
            ingest(
                runtime=runtime, workspace_id=workspace_id, messages=done.tracks, received_at=now
            )
        return _send(client.api, done)
    finally:
        client.close()


def _send(api: WechatApi, done: kf.KfOutcome) -> int:
    sent = 0
    for message, text in done.replies:
        try:
            kf.send_text(api, message=message, content=text)
            sent += 1
        except SendError as exc:
            log.warning("kf answer to %s: %s", message.msgid, exc.message)
    for code, text in done.welcomes:
        try:
            kf.send_welcome(api, code=code, content=text)
            sent += 1
        except SendError as exc:
            log.warning("kf welcome: %s", exc.message)
    return sent

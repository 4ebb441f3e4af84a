"""The WeChat-ecosystem transports for the dispatcher, one per channel for every workspace.

The dispatcher keeps one transport per channel, but each workspace has its own WeCom corp,
official account and mini program: :class:`PerWorkspaceTransport` builds the workspace's
transport from its stored account on first use and keeps it. :func:`poll_all_staff_tasks`
is the worker's staff-in-the-loop pass over every workspace with open tasks.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from siyu.channels import wechat_accounts
from siyu.channels.models import Channel, Delivery, OutboundMessage, SendError, Transport
from siyu.channels.mp import (
    DEFAULT_DAILY_QUOTA,
    MP_BASE_URL,
    MiniProgramTransport,
    MpTemplateTransport,
)
from siyu.channels.wechat_accounts import AccountKind
from siyu.channels.wechat_tables import wecom_tasks
from siyu.channels.wecom import WECOM_BASE_URL
from siyu.channels.wecom_models import StaffLoopPolicy, StaffOutcome, StaffTaskState
from siyu.channels.wecom_tasks import WecomStaffTransport, poll_staff_confirmations
from siyu.core.clock import utcnow
from siyu.core.crypto import Vault
from siyu.core.errors import NotFoundError

log = logging.getLogger("siyu.channels.wechat")


class PerWorkspaceTransport:
    """One channel's transport for every workspace, each built once from its own account."""

    def __init__(self, channel: Channel, build: Callable[[str], Transport]) -> None:
        self.channel = channel
        self._build = build
        self._made: dict[str, Transport] = {}
        self._lock = threading.Lock()

    def _for(self, workspace_id: str) -> Transport:
        with self._lock:
            made = self._made.get(workspace_id)
            if made is None:
                try:
                    made = self._build(workspace_id)
                except NotFoundError as exc:
                    raise SendError(
                        f"{self.channel.value}: {exc.message} for this workspace"
                    ) from None
                self._made[workspace_id] = made
            return made

    def send(self, message: OutboundMessage) -> Delivery:
        """Send through the message's workspace's transport."""
        return self._for(message.workspace_id).send(message)

    def forget(self, workspace_id: str) -> None:
        """Drop a workspace's transport (its account changed): rebuilt on the next send."""
        with self._lock:
            self._made.pop(workspace_id, None)


def wechat_transports(
    *,
    sessions: sessionmaker[Session],
    vault: Vault,
    wecom_base_url: str = WECOM_BASE_URL,
    mp_base_url: str = MP_BASE_URL,
    policy: StaffLoopPolicy | None = None,
    daily_quota: int = DEFAULT_DAILY_QUOTA,
    clock: Callable[[], datetime] = utcnow,
) -> dict[Channel, Transport]:
    """The transports of WECOM, WECOM_GROUP, MP_TEMPLATE and MINIPROGRAM for dispatch_due."""

    def wecom(channel: Channel) -> Callable[[str], Transport]:
        def build(workspace_id: str) -> Transport:
            with sessions() as session:
                client = wechat_accounts.wecom_client(
                    session=session,
                    vault=vault,
                    workspace_id=workspace_id,
                    base_url=wecom_base_url,
                    clock=clock,
                )
            return WecomStaffTransport(
                client=client, sessions=sessions, channel=channel, policy=policy, clock=clock
            )

        return build

    def template(workspace_id: str) -> Transport:
        with sessions() as session:
            client = wechat_accounts.mp_client(
                session=session, vault=vault, workspace_id=workspace_id, base_url=mp_base_url
            )
        return MpTemplateTransport(
            client=client, sessions=sessions, daily_quota=daily_quota, clock=clock
        )

    def mini(workspace_id: str) -> Transport:
        with sessions() as session:
            client = wechat_accounts.mp_client(
                session=session,
                vault=vault,
                workspace_id=workspace_id,
                kind=AccountKind.MINIPROGRAM,
                base_url=mp_base_url,
            )
        return MiniProgramTransport(client=client, clock=clock)

    return {
        Channel.WECOM: PerWorkspaceTransport(Channel.WECOM, wecom(Channel.WECOM)),
        Channel.WECOM_GROUP: PerWorkspaceTransport(Channel.WECOM_GROUP, wecom(Channel.WECOM_GROUP)),
        Channel.MP_TEMPLATE: PerWorkspaceTransport(Channel.MP_TEMPLATE, template),
        Channel.MINIPROGRAM: PerWorkspaceTransport(Channel.MINIPROGRAM, mini),
    }


def poll_all_staff_tasks(
    *,
    sessions: sessionmaker[Session],
    vault: Vault,
    now: datetime,
    wecom_base_url: str = WECOM_BASE_URL,
    policy: StaffLoopPolicy | None = None,
) -> dict[str, list[StaffOutcome]]:
    """The worker's staff-in-the-loop pass: poll every workspace with open WeCom tasks, one
    transaction each (a workspace whose account is gone is logged and skipped)."""
    t = wecom_tasks.c
    with sessions() as session:
        open_in = list(
            session.execute(
                select(t.workspace_id).where(t.status == StaffTaskState.AWAITING.value).distinct()
            ).scalars()
        )
    outcomes: dict[str, list[StaffOutcome]] = {}
    for workspace_id in open_in:
        with sessions() as session, session.begin():
            try:
                client = wechat_accounts.wecom_client(
                    session=session, vault=vault, workspace_id=workspace_id, base_url=wecom_base_url
                )
            except NotFoundError:
                log.warning("workspace %s has open WeCom tasks but no account", workspace_id)
                continue
            try:
                outcomes[workspace_id] = poll_staff_confirmations(
                    session=session,
                    client=client,
                    workspace_id=workspace_id,
                    now=now,
                    policy=policy,
                )
            finally:
                client.close()
    return outcomes

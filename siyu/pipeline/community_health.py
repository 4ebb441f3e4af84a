"""Group health: activity per group from the operational store, orders and GMV of group
members from the event store (persons through identity), rolled up per owner; dormant
groups alerted to their owners."""

from __future__ import annotations

import logging
from datetime import datetime

from siyu.channels.models import SendError
from siyu.community import service as community
from siyu.community import wecom_groups
from siyu.community.models import DormantGroup, GroupHealth, HealthReport
from siyu.core.eventstore import EventStore
from siyu.core.runtime import Runtime
from siyu.pipeline.community import wecom_client
from siyu.pipeline.ingest import flush

log = logging.getLogger("siyu.community")
ORDERS_SQL = {
    "duckdb": "SELECT person_id, count(*) AS orders, coalesce(sum(revenue_fen), 0) AS gmv "
    "FROM events WHERE event = 'Order Completed' AND timestamp >= $since "
    "AND timestamp < $until AND person_id IS NOT NULL GROUP BY person_id",
    "clickhouse": "SELECT person_id, count() AS orders, coalesce(sum(revenue_fen), 0) AS gmv "
    "FROM events WHERE event = 'Order Completed' AND timestamp >= {since:DateTime64(6, 'UTC')} "
    "AND timestamp < {until:DateTime64(6, 'UTC')} AND person_id != '' GROUP BY person_id",
}
"""Orders and GMV per person in [since, until), per event-store dialect."""


def orders_by_person(
    events: EventStore, workspace_id: str, since: datetime, until: datetime
) -> dict[str, tuple[int, int]]:
    """Person → (orders, GMV in fen) of the stored events in [since, until)."""
    sql = ORDERS_SQL[events.dialect]
    rows = events.query(workspace_id, sql, {"since": since, "until": until}).to_pylist()
    return {r["person_id"]: (int(r["orders"]), int(r["gmv"])) for r in rows}


def _orders(
    runtime: Runtime, workspace_id: str, since: datetime, until: datetime
) -> dict[str, tuple[int, int]]:
    flush(runtime=runtime)
    return orders_by_person(runtime.events, workspace_id, since, until)


def _owner_rows(groups: list[GroupHealth]) -> list[GroupHealth]:
    owners: dict[str, GroupHealth] = {}
    for g in groups:
        key = g.owner_userid or ""
        o = owners.setdefault(
            key,
            GroupHealth(
                key=key,
                name=key,
                owner_userid=g.owner_userid,
                groups=0,
                members=0,
                joins=0,
                leaves=0,
                active_speakers=0,
                messages=0,
                orders=0,
                gmv_fen=0,
            ),
        )
        o.groups += 1
        for f in ("members", "joins", "leaves", "active_speakers", "messages", "orders", "gmv_fen"):
            setattr(o, f, getattr(o, f) + getattr(g, f))
    return sorted(owners.values(), key=lambda o: (-o.gmv_fen, o.key))


def group_health(
    *, runtime: Runtime, workspace_id: str, since: datetime, until: datetime
) -> HealthReport:
    """Members, joins, leaves, active speakers and messages per group between ``since``
    and ``until``, and the orders and GMV of its current members in that period; the same
    per owner (a customer in two groups of one owner counts in both groups)."""
    with runtime.sessions() as session:
        activity = community.activity_by_group(
            session=session, workspace_id=workspace_id, since=since, until=until
        )
        groups = community.list_groups(session=session, workspace_id=workspace_id)
        persons = community.member_persons(session=session, workspace_id=workspace_id)
    orders = _orders(runtime, workspace_id, since, until)
    rows = []
    for g in groups:
        if g.status.value == "pending":
            continue
        mine = [orders[p] for p in persons.get(g.chat_id, ()) if p in orders]
        counts = activity.get(g.chat_id, {})
        rows.append(
            GroupHealth(
                key=g.chat_id,
                name=g.name,
                owner_userid=g.owner_userid,
                members=g.members,
                joins=counts.get("joins", 0),
                leaves=counts.get("leaves", 0),
                active_speakers=counts.get("active_speakers", 0),
                messages=counts.get("messages", 0),
                orders=sum(o for o, _ in mine),
                gmv_fen=sum(v for _, v in mine),
            )
        )
    return HealthReport(since=since, until=until, groups=rows, owners=_owner_rows(rows))


def alert_dormant(
    *, runtime: Runtime, workspace_id: str, now: datetime, days: int | None = None
) -> list[DormantGroup]:
    """Open a task per dormant group (once per group and day) and message the owners through
    the WeCom app when one is set; the dormant groups."""
    with runtime.sessions() as session, session.begin():
        settings = community.get_settings(session=session, workspace_id=workspace_id)
        found = community.dormant_groups(
            session=session, workspace_id=workspace_id, now=now, days=days or settings.dormant_days
        )
        opened = {
            g.chat_id: task_id
            for g in found
            if (
                task_id := community.add_task(
                    session,
                    workspace_id,
                    kind="dormant",
                    chat_id=g.chat_id,
                    key=f"dormant:{g.chat_id}:{now.date().isoformat()}",
                    now=now,
                    detail=f"group {g.name or g.chat_id} is quiet: {', '.join(g.reasons)}",
                )
            )
        }
    if opened and settings.agent_id:
        _notify(runtime, workspace_id, settings.agent_id, found, opened)
    return found


def _notify(
    runtime: Runtime,
    workspace_id: str,
    agent_id: str,
    found: list[DormantGroup],
    opened: dict[str, str],
) -> None:
    by_owner: dict[str, list[DormantGroup]] = {}
    for g in found:
        if g.chat_id in opened and g.owner_userid:
            by_owner.setdefault(g.owner_userid, []).append(g)
    client = wecom_client(runtime, workspace_id)
    sent: list[str] = []
    try:
        for owner, groups in by_owner.items():
            names = "、".join(g.name or g.chat_id for g in groups)
            try:
                wecom_groups.message_staff(
                    client,
                    agent_id=agent_id,
                    userids=[owner],
                    text=f"这些群已沉寂，请活跃一下：{names}",
                )
            except SendError as exc:
                log.warning("dormant alert to %s: %s", owner, exc.message)
                continue
            sent += [opened[g.chat_id] for g in groups]
    finally:
        client.close()
    with runtime.sessions() as session, session.begin():
        community.mark_notified(session, workspace_id, sent)

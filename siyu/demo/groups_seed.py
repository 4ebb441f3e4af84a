"""The 山茶集 customer groups: a dozen WeCom groups of three shopping guides with members
from the demo customers, their messages, joins and leaves (through the collect path, as the
group callbacks bring them), tags, a group live code with scans, a daily SOP, keyword rules,
a spammer caught across two groups, and one dormant group. Idempotent: skipped when the
workspace has groups. The demo has no WeCom account, so nothing is sent to WeCom."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from siyu import pipeline
from siyu.community import service as community
from siyu.community.models import (
    GroupLiveCodeCreate,
    GroupMessageIn,
    RuleCreate,
    Schedule,
    SopCreate,
    WecomGroup,
    WecomGroupMember,
)
from siyu.core.runtime import Runtime
from siyu.demo.assistant_seed import DEMO_CHAT_ID, DEMO_GROUP
from siyu.identity.tables import identity_identifiers
from siyu.pipeline import community_health

GROUPS = 12
PER_GROUP = 24
OWNERS = ("guide_li", "guide_wang", "guide_zhao")
CITIES = (
    "上海",
    "上海",
    "上海",
    "杭州",
    "杭州",
    "苏州",
    "苏州",
    "南京",
    "北京",
    "北京",
    "成都",
    "广州",
)
LINES = (
    "今天有券吗",
    "山茶花精华怎么用",
    "到货了吗",
    "好用！回购了",
    "几点开抢",
    "谢谢群主",
    "敏感肌能用吗",
    "求链接",
    "已下单",
    "周末门店有活动吗",
)
DORMANT = GROUPS - 1  # the last group has been quiet for three weeks


def _customers(runtime: Runtime, workspace_id: str) -> list[tuple[str, str]]:
    i = identity_identifiers.c
    with runtime.sessions() as session:
        rows = session.execute(
            select(i.key, i.person_id)
            .where(i.workspace_id == workspace_id, i.id_type == "wecom_external_userid")
            .order_by(i.key)
            .limit(GROUPS * PER_GROUP)
        ).all()
    return [(r.key, r.person_id) for r in rows]


def _groups(
    customers: list[tuple[str, str]], now: datetime, rng: random.Random
) -> list[WecomGroup]:
    groups = []
    per = min(PER_GROUP, len(customers) // GROUPS)  # a small demo has fewer WeCom customers
    for n in range(GROUPS):
        chat_id = DEMO_CHAT_ID if n == 0 else f"wrDEMO_G{n + 1:02d}"
        name = DEMO_GROUP if n == 0 else f"山茶集·{CITIES[n]}福利{n + 1}群"
        owner = OWNERS[n % len(OWNERS)]
        created = now - timedelta(days=90 - n)
        mine = customers[n * per : (n + 1) * per]
        quiet = now - timedelta(days=25) if n == DORMANT else now
        members = [WecomGroupMember(userid=owner, type=1, join_time=created)] + [
            WecomGroupMember(
                userid=ext,
                type=2,
                join_scene=3,
                join_time=created + (quiet - created) * rng.random(),
            )
            for ext, _ in mine
        ]
        groups.append(
            WecomGroup(chat_id=chat_id, name=name, owner=owner, created_at=created, members=members)
        )
    return groups


def _messages(groups: list[WecomGroup], now: datetime, rng: random.Random) -> list[dict[str, Any]]:
    """Group messages of the last two weeks (none in the dormant group), as tracks."""
    out: list[dict[str, Any]] = []
    for n, group in enumerate(groups):
        if n == DORMANT:
            continue
        speakers = [m.userid for m in group.members if m.type == 2][: 6 + n % 5]
        if not speakers:
            continue
        for k in range(10 + 3 * (n % 4)):
            who = rng.choice(speakers)
            at = now - timedelta(hours=rng.uniform(1, 14 * 24))
            out.append(
                {
                    "type": "track",
                    "event": "group_message",
                    "anonymousId": f"wecom:{who}",
                    "messageId": f"wecom-group:demo:{group.chat_id}-{k}",
                    "timestamp": at.isoformat(),
                    "context": {"externalIds": [{"type": "wecom_external_userid", "id": who}]},
                    "properties": {"chat_id": group.chat_id, "outcome": "none"},
                }
            )
    return out


def _leaves(groups: list[WecomGroup], now: datetime) -> list[dict[str, Any]]:
    """Two customers left each of the first three groups this week."""
    out = []
    for group in groups[:3]:
        for member in [m.userid for m in group.members if m.type == 2][-2:]:
            at = now - timedelta(days=3)
            out.append(
                {
                    "type": "track",
                    "event": "group_member_left",
                    "anonymousId": f"wecom:{member}",
                    "messageId": f"wecom-group:{group.chat_id}:left:{member}:{int(at.timestamp())}",
                    "timestamp": at.isoformat(),
                    "context": {"externalIds": [{"type": "wecom_external_userid", "id": member}]},
                    "properties": {"chat_id": group.chat_id},
                }
            )
    return out


def _operate(
    runtime: Runtime,
    workspace_id: str,
    groups: list[WecomGroup],
    now: datetime,
    customers: list[tuple[str, str]],
) -> None:
    """Tags, a live code with scans, an SOP with yesterday's confirmed run, keyword rules."""
    with runtime.sessions() as session, session.begin():
        for n, group in enumerate(groups):
            tags = [CITIES[n]] + (["VIP"] if n % 3 == 0 else [])
            community.set_tags(
                session=session, workspace_id=workspace_id, chat_id=group.chat_id, tags=tags
            )
        code = community.create_code(
            session=session,
            workspace_id=workspace_id,
            now=now - timedelta(days=20),
            code=GroupLiveCodeCreate(
                name="上海门店福利群码",
                state="demo_sh",
                chat_ids=[g.chat_id for g in groups[:3]],
                owner_userid=OWNERS[0],
                room_base_name="山茶集·上海福利新群",
            ),
        )
        for k, (_, person_id) in enumerate(customers[:30]):
            community.record_scan(
                session=session,
                workspace_id=workspace_id,
                code_id=code.id,
                person_id=person_id,
                now=now - timedelta(hours=k * 7),
                idempotency_key=f"demo-scan-{k}",
            )
        sop = community.create_sop(
            session=session,
            workspace_id=workspace_id,
            zone="Asia/Shanghai",
            now=now - timedelta(days=1, hours=12),
            sop=SopCreate(
                name="每晚8点福利预告",
                kind="post",
                tag="VIP",
                text="今晚8点山茶花精华限时秒杀，群内专享券已放出～",
                schedule=Schedule(every="day", time="20:00"),
            ),
        )
        for owner, chat_ids in community.targets_by_owner(session, workspace_id, sop).items():
            task_id = community.claim_task(session, workspace_id, sop, owner, chat_ids, now)
            if task_id:
                community.settle_task(
                    session,
                    workspace_id,
                    task_id,
                    status="confirmed",
                    msgid=f"demo-{task_id}",
                    at=sop.next_run_at,
                    results=dict.fromkeys(chat_ids, "sent"),
                )
        community.advance(session, workspace_id, sop, sop.next_run_at or now, "Asia/Shanghai")
        for rule in (
            RuleCreate(keyword="优惠券", action="reply", reply="本周券在群公告里哦～"),
            RuleCreate(keyword="退款", action="flag"),
        ):
            community.create_rule(session=session, workspace_id=workspace_id, rule=rule, now=now)


def _spam(runtime: Runtime, workspace_id: str, groups: list[WecomGroup], now: datetime) -> None:
    """One member posting an ad in two groups: marked, with removal tasks for the owners."""
    member = next(m.userid for m in groups[4].members if m.type == 2)
    for k, group in enumerate(groups[4:6]):
        message = GroupMessageIn(
            msg_id=f"demo-spam-{k}",
            sender=member,
            content="加我微信领大额返现 http://t.cn/ad",
            at=now - timedelta(hours=2 - k),
        )
        with runtime.sessions() as session, session.begin():
            community.observe_message(
                session=session,
                workspace_id=workspace_id,
                chat_id=group.chat_id,
                message=message,
                now=now,
            )


def seed_groups(runtime: Runtime, *, workspace_id: str, now: datetime) -> int:
    """Seed the customer groups (skipped when the workspace has some); how many were made."""
    with runtime.sessions() as session:
        if community.list_groups(session=session, workspace_id=workspace_id):
            return 0
    rng = random.Random(20261129)
    customers = _customers(runtime, workspace_id)
    if len(customers) < GROUPS * 2:
        return 0
    groups = _groups(customers, now, rng)
    with runtime.sessions() as session, session.begin():
        community.store_sync(session=session, workspace_id=workspace_id, groups=groups, now=now)
    pipeline.ingest(
        runtime=runtime,
        workspace_id=workspace_id,
        received_at=now,
        messages=_messages(groups, now, rng) + _leaves(groups, now),
    )
    _operate(runtime, workspace_id, groups, now, customers)
    _spam(runtime, workspace_id, groups, now)
    community_health.alert_dormant(runtime=runtime, workspace_id=workspace_id, now=now)
    return len(groups)

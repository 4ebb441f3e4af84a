"""The demo's customer groups: a dozen groups with members linked to persons, messages,
joins and leaves, a group live code with scans, a daily SOP with a confirmed run, a spammer
caught across two groups, one dormant group; a second run adds nothing."""

from __future__ import annotations

import time
from datetime import timedelta

from siyu import pipeline
from siyu.community import service as community
from siyu.core.clock import utcnow
from siyu.core.runtime import Runtime
from siyu.demo import groups_seed
from siyu.pipeline import community_health
from siyu.workspaces import service as workspaces


def test_seed_groups(runtime: Runtime) -> None:
    now = utcnow()
    with runtime.sessions() as s, s.begin():
        ws = workspaces.create_workspace(session=s, name="山茶集", now=now).workspace_id
    people = [
        {
            "type": "identify",
            "messageId": f"i{n}",
            "userId": f"u{n}",
            "context": {"externalIds": [{"type": "wecom_external_userid", "id": f"wmDemo{n:04d}"}]},
        }
        for n in range(320)
    ]
    pipeline.ingest(runtime=runtime, workspace_id=ws, received_at=now, messages=people)
    started = time.perf_counter()
    assert groups_seed.seed_groups(runtime, workspace_id=ws, now=now) == 12
    seconds = time.perf_counter() - started
    assert seconds < 20
    report = community_health.group_health(
        runtime=runtime, workspace_id=ws, since=now - timedelta(days=30), until=now
    )
    assert len(report.groups) == 12 and {o.key for o in report.owners} == set(groups_seed.OWNERS)
    busy = [g for g in report.groups if g.messages]
    assert len(busy) == 11 and all(g.active_speakers >= 1 for g in busy)
    assert sum(g.leaves for g in report.groups) == 6
    first = next(g for g in report.groups if g.key == "wrDEMO_G02")
    assert first.members == 1 + groups_seed.PER_GROUP - 2  # the owner, minus two who left
    with runtime.sessions() as s:
        dormant = community.dormant_groups(session=s, workspace_id=ws, now=now, days=7)
        codes = community.list_codes(session=s, workspace_id=ws)
        stats = community.code_stats(session=s, workspace_id=ws, code_id=codes[0].id)
        tasks = community.list_sop_tasks(session=s, workspace_id=ws)
        spammers = community.list_spammers(session=s, workspace_id=ws)
        owner_tasks = community.list_tasks(session=s, workspace_id=ws)
    assert "no_messages" in next(d for d in dormant if d.chat_id == "wrDEMO_G12").reasons
    assert stats.scans == 30
    assert tasks and all(t.status == "confirmed" for t in tasks)
    assert len(spammers) == 1 and len(spammers[0].chat_ids) == 2
    assert {t.kind for t in owner_tasks} == {"remove_member", "dormant"}
    assert groups_seed.seed_groups(runtime, workspace_id=ws, now=now) == 0

"""The 山茶集 community assistant: its knowledge base, synonyms, keyword rules and one
customer group, seeded into the demo workspace (idempotent)."""

from __future__ import annotations

from datetime import datetime

from siyu.assistant import service as assistant
from siyu.assistant.models import GroupSet, ImportSummary
from siyu.core.runtime import Runtime

DEMO_CHAT_ID = "wrDEMO_SH001"
DEMO_GROUP = "山茶集·上海1号店福利群"


def seed_assistant(runtime: Runtime, *, workspace_id: str, now: datetime) -> ImportSummary:
    """Load the shipped knowledge base (40 entries) and name the demo group; a second run
    updates the entries in place."""
    with runtime.sessions() as session, session.begin():
        summary = assistant.seed_demo(session=session, workspace_id=workspace_id, now=now)
        if assistant.find_group(session=session, workspace_id=workspace_id, chat_id=DEMO_CHAT_ID):
            return summary
        assistant.set_group(
            session=session,
            workspace_id=workspace_id,
            chat_id=DEMO_CHAT_ID,
            group=GroupSet(name=DEMO_GROUP),
            now=now,
        )
    return summary

# ruff: noqa: F811  (the runtime fixture is imported, then requested by name)
"""The demo seed loads the 山茶集 knowledge base once (SQLite and PostgreSQL), and
``siyu bot evaluate --json`` prints the measured figures."""

from __future__ import annotations

import json
from datetime import datetime

from typer.testing import CliRunner

from siyu.assistant import service as assistant
from siyu.assistant.models import Outcome
from siyu.cli.main import app
from siyu.core.runtime import Runtime
from siyu.demo.assistant_seed import DEMO_CHAT_ID, seed_assistant
from tests.api.conftest import runtime  # noqa: F401  (fixture)


def test_seed_is_idempotent_and_answers(runtime: Runtime, now: datetime) -> None:
    first = seed_assistant(runtime, workspace_id="ws_demo", now=now)
    again = seed_assistant(runtime, workspace_id="ws_demo", now=now)
    assert (first.created, first.updated) == (40, 0)
    assert (again.created, again.updated) == (0, 40)
    with runtime.sessions() as session:
        assert len(assistant.list_entries(session=session, workspace_id="ws_demo")) == 40
        assert len(assistant.list_rules(session=session, workspace_id="ws_demo")) == 3
        group = assistant.find_group(session=session, workspace_id="ws_demo", chat_id=DEMO_CHAT_ID)
        assert group is not None and group.name.startswith("山茶集")
        reply = assistant.ask(session=session, workspace_id="ws_demo", question="积分会过期吗")
        assert reply.outcome is Outcome.ANSWERED and reply.entry_id == "points-expire"


def test_cli_evaluate_json() -> None:
    result = CliRunner().invoke(app, ["bot", "evaluate", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    methods = {r["method"].split(" ")[0]: r for r in report["results"]}
    assert set(methods) == {"bm25-jieba", "keyword", "bigram-tfidf"}
    assert methods["bm25-jieba"]["accuracy"] > methods["bigram-tfidf"]["accuracy"]
    bad = CliRunner().invoke(app, ["bot", "evaluate", "--threshold", "2"])
    assert bad.exit_code == 2

"""GET /api/audit filtered by action and by a since/until range over HTTP (SQLite and
PostgreSQL): days count in the workspace's zone (Asia/Shanghai, so a local day straddles
midnight UTC), times need their offset, paging keeps the filters, bad input names the field."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from siyu.core.runtime import Runtime
from siyu.pipeline import privacy
from siyu.privacy.models import AuditAction
from siyu.workspaces.models import WorkspaceCreated
from tests.api.test_identity import admin

# (name, action, when in UTC); local Asia/Shanghai time in the comment.
ROWS: list[tuple[str, AuditAction, str]] = [
    ("late_27", "export", "2026-11-27T15:30:00+00:00"),  # 27th 23:30
    ("just_28", "unmasked_view", "2026-11-27T16:30:00+00:00"),  # 28th 00:30
    ("noon_28", "member_added", "2026-11-28T02:00:00+00:00"),  # 28th 10:00
    ("last_28", "export", "2026-11-28T15:59:00+00:00"),  # 28th 23:59
    ("first_29", "export", "2026-11-28T16:00:00+00:00"),  # 29th 00:00
]


@pytest.fixture
def written(runtime: Runtime, keys: WorkspaceCreated) -> dict[str, str]:
    """The audit rows of ROWS, one subject each: subject → name."""
    for name, action, at in ROWS:
        privacy.record_access(runtime=runtime, workspace_id=keys.workspace_id, actor="cli:test",
                              action=action, person_id=f"p_{name}",
                              now=datetime.fromisoformat(at))  # fmt: skip
    return {f"p_{name}": name for name, _, _ in ROWS}


def _names(
    client: TestClient, keys: WorkspaceCreated, written: dict[str, str], **q: Any
) -> list[str]:
    response = client.get("/api/audit", params=q, headers=admin(keys))
    assert response.status_code == 200, response.text
    return [written[e["subject"]] for e in response.json()["entries"]]


def test_a_local_day_straddles_midnight_utc(
    client: TestClient, keys: WorkspaceCreated, written: dict[str, str]
) -> None:
    day = _names(client, keys, written, since="2026-11-28", until="2026-11-28")
    assert day == ["last_28", "noon_28", "just_28"]  # 27th 16:00Z ≤ at < 28th 16:00Z
    assert _names(client, keys, written, since="2026-11-29") == ["first_29"]
    assert _names(client, keys, written, until="2026-11-27") == ["late_27"]
    exports = _names(client, keys, written, action="export", since="2026-11-28")
    assert exports == ["first_29", "last_28"]


def test_times_with_an_offset_are_taken_as_given(
    client: TestClient, keys: WorkspaceCreated, written: dict[str, str]
) -> None:
    early = {"since": "2026-11-28T00:00:00+08:00", "until": "2026-11-28T00:45+08:00"}
    assert _names(client, keys, written, **early) == ["just_28"]
    utc = {"since": "2026-11-27T16:00:00Z", "until": "2026-11-28T15:59:00Z"}  # until excluded
    assert _names(client, keys, written, **utc) == ["noon_28", "just_28"]


def test_paging_keeps_the_filters(
    client: TestClient, keys: WorkspaceCreated, written: dict[str, str]
) -> None:
    seen: list[str] = []
    query: dict[str, Any] = {"action": "export", "since": "2026-11-27", "limit": 1}
    for _ in range(5):
        page = client.get("/api/audit", params=query, headers=admin(keys)).json()
        seen += [written[e["subject"]] for e in page["entries"]]
        if page["next_before_id"] is None:
            break
        query["before_id"] = page["next_before_id"]
    assert seen == ["first_29", "last_28", "late_27"]
    assert page["next_before_id"] is None  # a full last page points at no empty page
    whole = client.get(
        "/api/audit",
        params={"action": "export", "since": "2026-11-27", "limit": 3},
        headers=admin(keys),
    ).json()
    assert len(whole["entries"]) == 3 and whole["next_before_id"] is None
    query = {"action": "export", "until": "2026-11-28", "limit": 1}
    first = client.get("/api/audit", params=query, headers=admin(keys)).json()
    query["before_id"] = first["next_before_id"]
    second = client.get("/api/audit", params=query, headers=admin(keys)).json()
    assert [written[e["subject"]] for e in first["entries"] + second["entries"]] == [
        "last_28",
        "late_27",
    ]


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        ({"since": "2026-13-01"}, 400, "since"),
        ({"since": "yesterday"}, 400, "since"),
        ({"until": "2026-11-28T10:00:00"}, 400, "until"),  # no offset: which zone?
        ({"since": "2026-11-29", "until": "2026-11-28"}, 400, "until"),
        ({"action": "looked"}, 422, "action"),
    ],
)
def test_bad_filters_name_the_field(
    client: TestClient, keys: WorkspaceCreated, query: dict[str, str], status: int, field: str
) -> None:
    response = client.get("/api/audit", params=query, headers=admin(keys))
    assert response.status_code == status, response.text
    assert response.json()["error"]["field"] == field

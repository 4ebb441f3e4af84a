"""Export: one JSON document holds everything seeded about Alice across the domains, with
her phone decrypted, and nothing about Bob; the export is audited (SQLite and PostgreSQL)."""

from __future__ import annotations

import json

import pytest

from siyu.core.errors import NotFoundError
from siyu.pipeline import privacy
from tests.privacy.conftest import ALICE_PHONE, BOB_PHONE, NOW, Seeded


def test_export_holds_everything_about_the_person(seeded: Seeded) -> None:
    rt, ws = seeded.runtime, seeded.workspace_id
    doc = privacy.export_person(
        runtime=rt, workspace_id=ws, person_id=seeded.alice_ids[-1], actor="key:test", now=NOW
    )
    assert doc.person_id == seeded.alice and sorted(doc.person_ids) == sorted(seeded.alice_ids)
    assert len(doc.person_ids) == 2  # the anonymous browser and the signed-up person
    values = {(i["type"], i["value"]) for i in doc.identities}
    assert {("phone", ALICE_PHONE), ("user_id", "u-alice-7"), ("anonymous_id", "anon-a1")} <= values
    t = doc.tables
    assert [r["status"] for r in t["channel_consents"]] == ["granted"]
    assert [r["channel"] for r in t["channel_messages"]] == ["sms"]
    assert [r["body"] for r in t["person_notes"]] == ["prefers calls after 6pm"]
    assert len(t["person_tags"]) == 1 and len(t["coupons"]) == 1
    assert sorted(r["amount"] for r in t["points_entries"]) == [-20, 50]
    assert [r["balance"] for r in t["points_accounts"]] == [30]
    assert len(t["journey_states"]) == 1 and t["journey_events"]
    assert t["profiles"] and t["identity_persons"] and t["identity_merges"]
    events = sorted(e["message_id"] for e in doc.events)
    assert events == ["m-001", "m-002", "m-003", "m-005"]  # m-005 still in the inbox
    text = doc.model_dump_json()
    assert BOB_PHONE not in text and seeded.bob not in text
    json.loads(text)  # one valid JSON document
    page = privacy.list_audit(runtime=rt, workspace_id=ws)
    assert [(e.action, e.actor, e.subject) for e in page.entries] == [
        ("export", "key:test", seeded.alice)
    ]


def test_export_of_an_unknown_person_is_not_found(seeded: Seeded) -> None:
    with pytest.raises(NotFoundError):
        privacy.export_person(runtime=seeded.runtime, workspace_id=seeded.workspace_id,
                              person_id="p_nobody", actor="key:test", now=NOW)  # fmt: skip

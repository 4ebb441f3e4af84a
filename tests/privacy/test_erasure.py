"""Erasure on SQLite and PostgreSQL: after erasing Alice, no table, no Parquet segment and no
inbox batch holds her person ids, identifier keys, user id or phone; her points stay in the
ledger under anonymous ids (verify stays clean); Bob is untouched; the receipt is stored,
signed and answers retries; re-ingesting her ids starts a new person with no history."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from siyu.collect.tables import event_inbox
from siyu.core.errors import NotFoundError
from siyu.identity.tables import identity_identifiers
from siyu.loyalty import points_audit
from siyu.loyalty.points_tables import points_accounts, points_entries
from siyu.migrations.registry import metadata
from siyu.pipeline import privacy
from siyu.privacy.tables import privacy_erasures
from tests.privacy.conftest import ALICE_PHONE, BOB_PHONE, NOW, Seeded, track


def _needles(seeded: Seeded) -> list[str]:
    t = identity_identifiers.c
    with seeded.runtime.sessions() as s:
        keys = s.execute(select(t.key).where(t.person_id.in_(seeded.alice_ids))).scalars().all()
    assert len(keys) >= 3
    return [*seeded.alice_ids, *keys, "u-alice-7", "anon-a1", ALICE_PHONE, "李丽", "6pm"]


def _table_hits(seeded: Seeded, needles: list[str]) -> list[tuple[str, str]]:
    hits = []
    with seeded.runtime.sessions() as s:
        for table in metadata.sorted_tables:
            for row in s.execute(select(table)).all():
                text = str(tuple(row))
                hits.extend((table.name, n) for n in needles if n in text)
    return hits


def _event_hits(seeded: Seeded, needles: list[str]) -> list[str]:
    hits = []
    for path in Path(seeded.runtime.events.directory).rglob("*.parquet"):
        text = str(pq.read_table(path).to_pylist())
        hits.extend(n for n in needles if n in text)
    with seeded.runtime.sessions() as s:
        for payload in s.execute(select(event_inbox.c.payload)).scalars():
            text = str(pa.ipc.open_stream(payload).read_all().to_pylist())
            hits.extend(n for n in needles if n in text)
    return hits


def test_erasure_leaves_nothing_of_the_person(seeded: Seeded) -> None:
    rt, ws = seeded.runtime, seeded.workspace_id
    needles = _needles(seeded)
    assert _table_hits(seeded, needles) and _event_hits(seeded, needles)  # the search can find
    with rt.sessions() as s:
        total_points = sum(s.execute(select(points_entries.c.amount)).scalars())
    receipt = privacy.erase_person(
        runtime=rt,
        workspace_id=ws,
        person_id=seeded.alice,
        actor="key:test",
        now=NOW,
        idempotency_key="erase-1",
    )
    assert _table_hits(seeded, needles) == []
    assert _event_hits(seeded, needles) == []
    assert receipt.counts["events.store"] == 4  # the inbox was flushed first
    for table in (
        "identity_identifiers",
        "channel_consents",
        "channel_messages",
        "person_notes",
        "person_tags",
        "journey_states",
        "profiles",
        "coupons",
        "points_entries",
    ):
        assert receipt.counts[f"operational.{table}"] >= 1, table
    with rt.sessions() as s:
        # The ledger keeps its entries, anonymised; balances still replay.
        assert sum(s.execute(select(points_entries.c.amount)).scalars()) == total_points
        balances = s.execute(select(points_accounts.c.person_id, points_accounts.c.balance)).all()
        assert [b for p, b in balances if p.startswith("anon_")] == [30]
        assert points_audit.verify(session=s, workspace_id=ws).mismatches == []
        stored = s.execute(select(privacy_erasures)).one()
    assert stored.receipt_hash == receipt.receipt_hash and stored.counts == receipt.counts
    assert privacy.verify_receipt(runtime=rt, receipt=receipt)
    forged = receipt.model_copy(update={"counts": {**receipt.counts, "events.store": 0}})
    assert not privacy.verify_receipt(runtime=rt, receipt=forged)
    # Bob is all there.
    bob = privacy.export_person(runtime=rt, workspace_id=ws, person_id=seeded.bob,
                                actor="key:test", now=NOW)  # fmt: skip
    assert ("phone", BOB_PHONE) in {(i["type"], i["value"]) for i in bob.identities}
    assert [e["message_id"] for e in bob.events] == ["m-004"]


def test_erasure_is_idempotent_and_audited(seeded: Seeded) -> None:
    rt, ws = seeded.runtime, seeded.workspace_id
    privacy.export_person(runtime=rt, workspace_id=ws, person_id=seeded.alice, actor="key:a",
                          now=NOW)  # fmt: skip
    first = privacy.erase_person(runtime=rt, workspace_id=ws, person_id=seeded.alice,
                                 actor="key:a", now=NOW, idempotency_key="k1")  # fmt: skip
    again = privacy.erase_person(runtime=rt, workspace_id=ws, person_id=seeded.alice,
                                 actor="key:a", now=NOW, idempotency_key="k1")  # fmt: skip
    by_id = privacy.erase_person(runtime=rt, workspace_id=ws, person_id=seeded.alice_ids[-1],
                                 actor="key:a", now=NOW)  # fmt: skip
    assert not first.replayed and again.replayed and again.id == first.id
    assert by_id.replayed and by_id.id == first.id  # the absorbed id names the same erasure
    with rt.sessions() as s:
        assert len(s.execute(select(privacy_erasures)).all()) == 1
    page = privacy.list_audit(runtime=rt, workspace_id=ws)
    assert [e.action for e in page.entries] == ["erase", "export"]
    # The export's audit row no longer names Alice: it names the erasure's digest.
    assert {e.subject for e in page.entries} == {first.subject_digest}
    with pytest.raises(NotFoundError):
        privacy.erase_person(runtime=rt, workspace_id=ws, person_id="p_nobody", actor="key:a",
                             now=NOW)  # fmt: skip


def test_reingest_after_erasure_starts_a_new_person(seeded: Seeded) -> None:
    rt, ws = seeded.runtime, seeded.workspace_id
    privacy.erase_person(runtime=rt, workspace_id=ws, person_id=seeded.alice, actor="key:a",
                         now=NOW)  # fmt: skip
    track(rt, ws, "m-002", "Signed Up", NOW, userId="u-alice-7")  # a replayed old message
    track(rt, ws, "m-100", "Signed Up", NOW, userId="u-alice-7",
          context={"traits": {"phone": ALICE_PHONE}})  # fmt: skip
    fresh = privacy.export_person(runtime=rt, workspace_id=ws, person_id=_find(seeded),
                                  actor="key:a", now=NOW)  # fmt: skip
    assert fresh.person_id not in seeded.alice_ids
    assert [e["message_id"] for e in fresh.events] == ["m-100"]  # the replay was a duplicate
    assert "points_entries" not in fresh.tables and "person_notes" not in fresh.tables


def _find(seeded: Seeded) -> str:
    from siyu import pipeline

    return pipeline.find_person(
        runtime=seeded.runtime,
        workspace_id=seeded.workspace_id,
        identifier_type="phone",
        identifier=ALICE_PHONE,
    ).person_id


def test_inbox_batches_lose_the_persons_events_only(seeded: Seeded) -> None:
    from siyu.pipeline import privacy_inbox, privacy_store

    rt, ws = seeded.runtime, seeded.workspace_id
    track(rt, ws, "m-200", "Page Viewed", NOW, userId="u-bob-9")
    with rt.sessions() as s, s.begin():
        subject = privacy_store.subject_of(session=s, workspace_id=ws, person_ids=seeded.alice_ids)
        assert privacy_inbox.scrub_inbox(session=s, subject=subject) == 1  # m-005
    with rt.sessions() as s:
        rows = s.execute(select(event_inbox.c.rows)).scalars().all()
    assert rows == [1]  # Alice's batch went; Bob's stays
    assert _event_hits(seeded, ["m-005"]) == []

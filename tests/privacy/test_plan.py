"""The erasure plan covers every table of the operational store that can point at a person:
a new table with a person-like column fails here until the plan says what erasure does."""

from __future__ import annotations

from siyu.migrations.registry import metadata
from siyu.pipeline.privacy_store import HANDLED_APART, PLAN

PERSON_COLUMNS = {
    "person_id",
    "other_person_id",
    "origin_person_id",
    "survivor_id",
    "absorbed_id",
    "inviter_id",
    "invitee_id",
    "external_userid",
    "leader_id",
    "member_id",
}
# Tables whose person-like column is not about a customer, or names one only by digest.
NOT_ABOUT_A_PERSON = {"privacy_audit", "privacy_erasures", "privacy_erased_subjects"}


def test_every_person_table_is_in_the_plan() -> None:
    planned = {rows.table.name for rows in PLAN} | HANDLED_APART
    person_tables = {
        table.name
        for table in metadata.sorted_tables
        if PERSON_COLUMNS & {c.name for c in table.columns} or table.name == "identity_persons"
    }
    assert person_tables - planned - NOT_ABOUT_A_PERSON == set()


def test_plan_columns_exist() -> None:
    for rows in PLAN:
        for col in (*rows.columns, *rows.keys_with_person):
            assert col in rows.table.c, (rows.table.name, col)
        if rows.by_external_userid:
            assert rows.by_external_userid in rows.table.c

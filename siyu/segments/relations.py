"""The relations a compiled segment reads, and their definitions over the operational tables.

On SQLite and PostgreSQL a segment that needs no events runs on the operational store: the
compiled SQL starts with CTEs that combine each person with everyone it absorbed (the same
combination :mod:`siyu.segments.sources` ships as Arrow to the event engines).
"""

from __future__ import annotations

from collections.abc import Collection

from siyu.segments import dialects as d
from siyu.segments.dialects import Dialect

PERSONS = "seg_persons"
PROFILES = "seg_profiles"
TRAITS = "seg_traits"
TAGS = "seg_tags"
IDENTIFIERS = "seg_identifiers"
MEMBERS = "seg_members"
SHIPPED = (PERSONS, PROFILES, TRAITS, TAGS, IDENTIFIERS, MEMBERS)
_MAP = "seg_map"

# Trait values as stored (JSON) split into the text and number columns segments compare.
_TRAIT_COLUMNS = {
    Dialect.SQLITE: (
        "CASE json_type(t.value) WHEN 'text' THEN json_extract(t.value, '$') "
        "WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' END",
        "CASE WHEN json_type(t.value) IN ('integer', 'real') "
        "THEN CAST(json_extract(t.value, '$') AS REAL) END",
        "t.value IS NOT NULL AND json_type(t.value) <> 'null'",
        "t.value",
    ),
    Dialect.POSTGRESQL: (
        "CASE WHEN json_typeof(t.value) IN ('string', 'boolean') THEN t.value #>> '{}' END",
        "CASE WHEN json_typeof(t.value) = 'number' "
        "THEN CAST(t.value #>> '{}' AS DOUBLE PRECISION) END",
        "t.value IS NOT NULL AND json_typeof(t.value) <> 'null'",
        "CAST(t.value AS TEXT)",
    ),
}


def _survivor(alias: str) -> str:
    return f"coalesce(m.survivor_id, {alias}.person_id)"


def _mapped(alias: str) -> str:
    # Joined on identity_persons' primary key, not on the seg_map CTE: SQLite materialises a
    # CTE without an index, which made every join a scan (quadratic: 9 s at 10k persons).
    return f"LEFT JOIN identity_persons AS m ON m.id = {alias}.person_id"


def _first_value(name: str) -> str:
    # The earliest known first touch among the combined persons; NULLs sort last.
    survivor = _survivor("p")
    return (
        f"first_value(p.first_{name}) OVER (PARTITION BY {survivor} "
        f"ORDER BY p.first_{name} IS NULL, p.first_{name}_at, p.first_{name}) AS first_{name}"
    )


def _profiles(ws: str) -> str:
    # One pass with window functions, not a join of per-person subqueries: SQLite joins
    # materialised subqueries by scanning them, which was quadratic (24 s at 10k persons).
    rows = (
        f"SELECT {_survivor('p')} AS person_id, p.first_seen, p.last_seen, p.event_count, "
        "p.order_count, p.total_spend_fen, p.last_order_at, "
        f"{_first_value('channel')}, {_first_value('campaign')} "
        f"FROM profiles AS p {_mapped('p')} WHERE p.workspace_id = {ws}"
    )
    return (
        "SELECT person_id, min(first_seen) AS first_seen, max(last_seen) AS last_seen, "
        "sum(event_count) AS event_count, sum(order_count) AS order_count, "
        "sum(total_spend_fen) AS total_spend_fen, max(last_order_at) AS last_order_at, "
        "max(first_channel) AS first_channel, max(first_campaign) AS first_campaign "
        f"FROM ({rows}) AS x GROUP BY person_id"
    )


def _traits(ws: str, dialect: Dialect) -> str:
    text, num, present, order = _TRAIT_COLUMNS[dialect]
    return (
        "SELECT person_id, name, value_str, value_num FROM ("
        f"SELECT {_survivor('t')} AS person_id, t.name, {text} AS value_str, "
        f"{num} AS value_num, {present} AS present, row_number() OVER (PARTITION BY "
        f"{_survivor('t')}, t.name ORDER BY t.observed_at DESC, {order} DESC) AS rn "
        f"FROM profile_traits AS t {_mapped('t')} WHERE t.workspace_id = {ws}"
        ") AS x WHERE rn = 1 AND present"
    )


def _definitions(ws: str, dialect: Dialect) -> dict[str, str]:
    return {
        _MAP: "SELECT id AS person_id, coalesce(survivor_id, id) AS survivor "
        f"FROM identity_persons WHERE workspace_id = {ws}",
        PERSONS: "SELECT id AS person_id FROM identity_persons "
        f"WHERE workspace_id = {ws} AND survivor_id IS NULL",
        PROFILES: _profiles(ws),
        TRAITS: _traits(ws, dialect),
        TAGS: f"SELECT DISTINCT {_survivor('t')} AS person_id, t.tag_id FROM person_tags AS t "
        f"{_mapped('t')} WHERE t.workspace_id = {ws}",
        IDENTIFIERS: "SELECT person_id, id_type FROM identity_identifiers "
        f"WHERE workspace_id = {ws}",
        MEMBERS: f"SELECT DISTINCT {_survivor('s')} AS person_id, s.segment_id "
        f"FROM segment_members AS s {_mapped('s')} WHERE s.workspace_id = {ws}",
    }


def operational_ctes(used: Collection[str], dialect: Dialect, workspace_id: str) -> str:
    """``name AS (…)`` definitions of the ``used`` relations over the operational tables."""
    definitions = _definitions(d.string(workspace_id, dialect), dialect)
    needed = [_MAP, *(name for name in SHIPPED if name in used)]
    return ",\n".join(f"{name} AS ({definitions[name]})" for name in needed)

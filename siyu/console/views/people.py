"""People builders: a person's identifiers, traits, timeline, ledger and referral tree."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from siyu.console.i18n import translate
from siyu.console.views.common import ChartView, column, yuan
from siyu.identity.models import IdentifierView
from siyu.referral.models import TreeNode

SHOWN_EVENT_FIELDS = ("channel", "campaign")


def local_time(at: datetime | None, zone: str) -> str:
    """An instant in the workspace's zone, to the minute."""
    if at is None:
        return "—"
    return at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


def short_id(person_id: str) -> str:
    """The tail of an id, enough to tell persons apart in a chart."""
    return person_id if len(person_id) <= 10 else f"…{person_id[-8:]}"


def identifier_rows(identifiers: list[IdentifierView], zone: str) -> list[dict[str, Any]]:
    """One row per identifier; PII (phone, email) only ever in its masked form."""
    return [
        {
            "key": f"{ident.type.value}:{ident.key}",
            "type": ident.type.value,
            "value": ident.masked if ident.masked is not None else ident.key,
            "first_seen": local_time(ident.first_seen, zone),
            "introduced_by": ident.introduced_by,
        }
        for ident in identifiers
    ]


def clear_identifier_rows(found: list[dict[str, Any]], zone: str) -> list[dict[str, Any]]:
    """Identifiers in clear (from the audited reveal), in the same columns as the masked ones."""
    return [
        {
            "key": f"{row['type']}:{row['value']}",
            "type": row["type"],
            "value": row["value"],
            "first_seen": local_time(row["first_seen"], zone),
            "introduced_by": row["introduced_by"],
        }
        for row in found
    ]


def trait_rows(traits: dict[str, Any]) -> list[dict[str, Any]]:
    """Traits sorted by name, values shown as text."""
    return [
        {"key": name, "name": name, "value": str(value)} for name, value in sorted(traits.items())
    ]


def event_name(event: dict[str, Any]) -> str:
    """A track call's name; ``$identify``, ``$page``… for the other calls (as profiles count)."""
    return str(event.get("event") or f"${event.get('type') or 'event'}")


def event_rows(events: list[dict[str, Any]], zone: str) -> list[dict[str, Any]]:
    """The timeline: newest first, with channel, campaign and revenue when present."""
    rows = []
    for event in events:
        detail = " · ".join(
            f"{field}={event[field]}" for field in SHOWN_EVENT_FIELDS if event.get(field)
        )
        revenue = event.get("revenue_fen")
        rows.append(
            {
                "key": event["message_id"],
                "time": local_time(event["timestamp"], zone),
                "event": event_name(event),
                "detail": detail,
                "revenue": yuan(revenue) if revenue else "",
            }
        )
    return rows


def _children(nodes: list[TreeNode]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for node in nodes:
        if node.inviter_id is not None:
            found.setdefault(node.inviter_id, []).append(node.person_id)
    return found


def _tree(person_id: str, children: dict[str, list[str]], focus: str) -> dict[str, Any]:
    node: dict[str, Any] = {"name": short_id(person_id), "value": person_id}
    if person_id == focus:
        node["itemStyle"] = {"color": "#f59e0b"}
        node["label"] = {"fontWeight": "bold"}
    kids = children.get(person_id, [])
    if kids:
        node["children"] = [_tree(kid, children, focus) for kid in kids]
    return node


def referral_tree(
    person_id: str, ancestors: list[TreeNode], subtree: list[TreeNode], lang: str
) -> ChartView:
    """The person's inviters above and everyone they brought below, as an ECharts tree."""
    root = ancestors[-1].person_id if ancestors else person_id
    children = _children(subtree)
    chain = [person_id, *(node.person_id for node in ancestors)]
    for child, parent in itertools.pairwise(chain):
        children.setdefault(parent, [child])
    options = {
        "tooltip": {"trigger": "item", "formatter": "{c}"},
        "series": [
            {
                "type": "tree",
                "data": [_tree(root, children, person_id)],
                "orient": "TB",
                "symbolSize": 10,
                "initialTreeDepth": -1,
                "label": {"position": "top", "fontSize": 11},
                "animation": False,
            }
        ],
    }
    rows = [
        {
            "key": f"up{node.depth}",
            "person": node.person_id,
            "relation": translate(lang, "people.inviter_level", depth=node.depth),
        }
        for node in ancestors
    ] + [
        {
            "key": node.person_id,
            "person": node.person_id,
            "relation": translate(lang, "people.invitee_level", depth=node.depth),
        }
        for node in subtree
        if node.depth > 0
    ]
    return ChartView(
        title=translate(lang, "people.referral_tree"),
        options=options,
        columns=[
            column("person", translate(lang, "col.person")),
            column("relation", translate(lang, "col.relation")),
        ],
        rows=rows,
        empty_hint=translate(lang, "people.no_referrals"),
    )

"""The one access table: every permission, and which role of a workspace holds it.

Routes declare the permission they need (``Require("segments:write")`` in siyu.api.deps);
docs/access.md is rendered from this module and a test keeps the two equal.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """A user's role in one workspace, most powerful first."""

    owner = "owner"
    admin = "admin"
    operator = "operator"
    analyst = "analyst"
    read_only = "read_only"


# resource → what it covers (shown in the docs table).
RESOURCES: dict[str, str] = {
    "persons": "profiles, identity graph and rules, events of a person, splits",
    "tags": "tag groups, tags, tagging people, notes",
    "segments": "segments, RFM and lifecycle layers",
    "analytics": "funnels, retention, GMV, attribution, ROI, LTV, boards, spend",
    "journeys": "journeys: design, publish, activate, pause, dry-run, stats",
    "messages": "one-off sends and the message log",
    "channels": "templates, restraint policy, consent, delivery settings, WeChat accounts",
    "loyalty": "points, tiers, members, points mall",
    "coupons": "coupon templates, issue, redeem, void",
    "referrals": "referral settings, codes, rewards, trees",
    "live_codes": "stores, staff, live codes, scans, owners",
    "recommendations": "catalogue, model, recommendations of a person",
    "ugc": "customer posts and reviews (UGC): collect, moderate, reward, metrics, KOC ranking",
    "content": "material library: items, channel variants, tracked links, posters, performance",
    "activities": "lottery, group-buy, assist and check-in campaigns, entries, rewards, funnels",
    "assistant": "community assistant: knowledge base, rules, unanswered log, group stats",
    "groups": "customer groups, group live codes, SOPs, moderation, owner tasks, health",
    "users": "the workspace's users and their roles",
    "keys": "API keys (write and secret), rotation, revocation",
}

# Permissions beyond <resource>:read / <resource>:write.
SPECIAL: dict[str, str] = {
    "persons:pii": "see direct identifiers (phone, email, name, address) unmasked",
    "persons:export": "export all data of a person (data-subject request)",
    "persons:erase": "erase or anonymise a person everywhere (data-subject request)",
    "audit:read": "read the privacy audit log (unmasked views, exports, erasures)",
}

PERMISSIONS: tuple[str, ...] = (
    *(f"{resource}:{action}" for resource in RESOURCES for action in ("read", "write")),
    *SPECIAL,
)

_ADMINISTRATION = frozenset(p for p in PERMISSIONS if p.split(":")[0] in {"users", "keys", "audit"})
_READS = frozenset(p for p in PERMISSIONS if p.endswith(":read")) - _ADMINISTRATION
_OPERATOR_WRITES = frozenset(
    f"{resource}:write"
    for resource in (
        "persons",
        "tags",
        "segments",
        "journeys",
        "messages",
        "loyalty",
        "coupons",
        "referrals",
        "live_codes",
        "recommendations",
        "ugc",
        "content",
        "activities",
        "assistant",
        "groups",
    )
)

ROLE_PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.owner: frozenset(PERMISSIONS),
    # An admin may do everything but make or unmake an owner (checked in the service).
    Role.admin: frozenset(PERMISSIONS),
    Role.operator: _READS | _OPERATOR_WRITES | {"persons:pii"},
    Role.analyst: _READS | {"analytics:write", "segments:write"},
    Role.read_only: _READS,
}


def allows(role: Role, permission: str) -> bool:
    """Whether ``role`` holds ``permission``."""
    return permission in ROLE_PERMISSIONS[role]


def check_known(permissions: list[str] | tuple[str, ...] | frozenset[str]) -> list[str]:
    """The permissions in ``permissions`` that are not in the table (empty when all are)."""
    return sorted(set(permissions) - set(PERMISSIONS))


def markdown_table() -> str:
    """The access table as Markdown: one row per permission, one column per role."""
    roles = list(Role)
    lines = [
        "| permission | what it covers | " + " | ".join(r.value for r in roles) + " |",
        "| --- | --- | " + " | ".join(":-:" for _ in roles) + " |",
    ]
    for permission in PERMISSIONS:
        resource, action = permission.split(":")
        covers = SPECIAL.get(permission) or f"{action}: {RESOURCES[resource]}"
        marks = " | ".join("✓" if allows(r, permission) else "–" for r in roles)
        lines.append(f"| `{permission}` | {covers} | {marks} |")
    return "\n".join(lines) + "\n"

"""Merge rules: per identifier type a priority (1 = strongest) and a limit per person."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from siyu.collect.models import IdType
from siyu.core.errors import InvalidInputError


@dataclass(frozen=True, slots=True)
class Rule:
    """How one identifier type merges: ``priority`` (1 first) and ``limit`` (None = unlimited)."""

    priority: int
    limit: int | None


# Segment Unify-style defaults: the ids a person has exactly one of rank first and allow one;
# shared things (devices, browsers) rank last and allow many.
DEFAULT_RULES: Mapping[str, Rule] = {
    IdType.USER_ID.value: Rule(1, 1),
    IdType.MEMBER_ID.value: Rule(2, 1),
    IdType.UNIONID.value: Rule(3, 1),
    IdType.PHONE.value: Rule(4, 1),
    IdType.EMAIL.value: Rule(5, 2),
    IdType.WECOM_EXTERNAL_USERID.value: Rule(6, 2),
    IdType.DOUYIN_OPENID.value: Rule(7, 1),
    IdType.MP_OPENID.value: Rule(8, 3),
    IdType.WECHAT_OPENID.value: Rule(9, 3),
    IdType.TAOBAO_BUYER_ID.value: Rule(10, 2),
    IdType.JD_BUYER_ID.value: Rule(11, 2),
    IdType.DEVICE_ID.value: Rule(12, 20),
    IdType.ANONYMOUS_ID.value: Rule(13, None),
}

MAX_LIMIT = 1_000_000


def validate_rules(rules: Mapping[str, Rule]) -> dict[str, Rule]:
    """``rules`` checked to cover every type once, with distinct priorities and limits ≥ 1.

    Raises:
        InvalidInputError: naming the offending type in ``field``.
    """
    known = {t.value for t in IdType}
    for name in rules:
        if name not in known:
            raise InvalidInputError(f"unknown identifier type {name!r}", field=f"rules.{name}")
    missing = sorted(known - set(rules))
    if missing:
        raise InvalidInputError(f"rules miss types: {', '.join(missing)}", field="rules")
    seen: dict[int, str] = {}
    for name, rule in rules.items():
        field = f"rules.{name}"
        if not 1 <= rule.priority <= len(known):
            raise InvalidInputError(f"priority must be 1–{len(known)}", field=f"{field}.priority")
        if rule.priority in seen:
            raise InvalidInputError(
                f"priority {rule.priority} is already used by {seen[rule.priority]}",
                field=f"{field}.priority",
            )
        seen[rule.priority] = name
        if rule.limit is not None and not 1 <= rule.limit <= MAX_LIMIT:
            raise InvalidInputError(f"limit must be 1–{MAX_LIMIT} or null", field=f"{field}.limit")
    return dict(rules)


def ordered_types(rules: Mapping[str, Rule]) -> Sequence[str]:
    """Type names from the highest priority (1) down."""
    return sorted(rules, key=lambda name: rules[name].priority)

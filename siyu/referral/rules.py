"""Pure rules: staff rotation, anti-fraud, the referral tree, milestone rewards.

Every function here takes what it needs (including ``now``) and touches no store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from siyu.referral.models import (
    Milestone,
    ReferralSettings,
    RewardAction,
    Shift,
    StaffAssignment,
)

DEVICE_TYPES = frozenset({"device_id", "anonymous_id"})
PHONE_TYPES = frozenset({"phone"})


@dataclass(frozen=True)
class StaffState:
    """What rotation needs to know of one staff member at ``now``."""

    active: bool = True
    shifts: Sequence[Shift] = field(default_factory=tuple)
    daily_cap: int | None = None
    adds_today: int = 0


def on_shift(shifts: Sequence[Shift], now: datetime, zone: str) -> bool:
    """True when ``now`` (aware) falls in one of ``shifts`` in ``zone``; no shifts = always."""
    if not shifts:
        return True
    local = now.astimezone(ZoneInfo(zone))
    day, at = local.weekday(), local.time().replace(tzinfo=None)
    for shift in shifts:
        if shift.start <= shift.end:
            if day in shift.weekdays and shift.start <= at < shift.end:
                return True
        elif (day in shift.weekdays and at >= shift.start) or (
            (day - 1) % 7 in shift.weekdays and at < shift.end
        ):
            return True
    return False


def can_take(state: StaffState, now: datetime, zone: str) -> bool:
    """Active, on shift, and under the daily add cap."""
    under_cap = state.daily_cap is None or state.adds_today < state.daily_cap
    return state.active and under_cap and on_shift(state.shifts, now, zone)


def pick_staff(
    assignments: Sequence[StaffAssignment],
    states: Mapping[str, StaffState],
    now: datetime,
    zone: str = "Asia/Shanghai",
) -> str | None:
    """The staff member a new contact goes to, or None when nobody can take one.

    Primaries first, backups only when no primary can take one. Among those who can, the
    one with the fewest adds today per unit of weight (a weighted round robin that needs
    no stored cursor); ties go to the earlier assignment.
    """
    for backup in (False, True):
        ready = [
            (i, a)
            for i, a in enumerate(assignments)
            if a.backup is backup
            and a.staff_id in states
            and can_take(states[a.staff_id], now, zone)
        ]
        if ready:
            _, best = min(
                ready, key=lambda p: ((states[p[1].staff_id].adds_today + 1) / p[1].weight, p[0])
            )
            return best.staff_id
    return None


def fraud_reason(
    *,
    inviter_id: str,
    invitee_id: str,
    inviter_ids: Iterable[tuple[str, str]],
    invitee_ids: Iterable[tuple[str, str]],
    invites_last_hour: int,
    max_per_hour: int,
) -> tuple[str, str] | None:
    """Why a referral must be refused (reason, detail), or None when it may stand.

    Identifiers are (type, key) pairs; a shared device or phone, or any other identifier the
    two hold in common, is a self-referral by another name.
    """
    if inviter_id == invitee_id:
        return "self_referral", "the inviter and the invitee are the same person"
    shared = set(inviter_ids) & set(invitee_ids)
    kinds = {kind for kind, _ in shared}
    if kinds & DEVICE_TYPES:
        return "same_device", "the inviter and the invitee share a device"
    if kinds & PHONE_TYPES:
        return "same_phone", "the inviter and the invitee share a phone number"
    if kinds:
        return "shared_identifier", f"the inviter and the invitee share {sorted(kinds)[0]}"
    if invites_last_hour >= max_per_hour:
        return "too_many_invites", f"more than {max_per_hour} invites in the last hour"
    return None


def ancestors(parent_of: Mapping[str, str], person_id: str, limit: int = 10_000) -> list[str]:
    """The chain of inviters above ``person_id``, nearest first (stops at a repeat)."""
    chain: list[str] = []
    seen = {person_id}
    current = parent_of.get(person_id)
    while current is not None and current not in seen and len(chain) < limit:
        chain.append(current)
        seen.add(current)
        current = parent_of.get(current)
    return chain


def creates_cycle(parent_of: Mapping[str, str], inviter_id: str, invitee_id: str) -> bool:
    """True when making ``inviter_id`` the inviter of ``invitee_id`` closes a loop."""
    return inviter_id == invitee_id or invitee_id in ancestors(parent_of, inviter_id)


def depth_of(parent_of: Mapping[str, str], person_id: str) -> int:
    """Levels above ``person_id`` (a root is 0)."""
    return len(ancestors(parent_of, person_id))


def reward_key(invitee_id: str, milestone: Milestone, min_order_fen: int, role: str) -> str:
    """The idempotency key of one reward: paying it twice is impossible by construction."""
    return f"referral:{invitee_id}:{milestone.value}:{min_order_fen}:{role}"


def rewards_for(
    settings: ReferralSettings,
    *,
    milestone: Milestone,
    inviter_id: str,
    invitee_id: str,
    first_order_fen: int | None = None,
) -> list[RewardAction]:
    """The rewards a milestone earns. A first order also reaches every first_order_over
    rule whose threshold it meets."""
    reached = {milestone}
    if milestone is Milestone.FIRST_ORDER:
        reached.add(Milestone.FIRST_ORDER_OVER)
    actions: list[RewardAction] = []
    for rule in settings.milestones:
        if rule.milestone not in reached:
            continue
        if rule.milestone is Milestone.FIRST_ORDER_OVER and (
            first_order_fen is None or first_order_fen < rule.min_order_fen
        ):
            continue
        for role, person, spec in (
            ("inviter", inviter_id, rule.inviter),
            ("invitee", invitee_id, rule.invitee),
        ):
            if spec is None:
                continue
            actions.append(
                RewardAction(
                    person_id=person,
                    kind=spec.kind,
                    amount=spec.amount,
                    template=spec.template,
                    reason=f"referral {rule.milestone.value} ({role})",
                    idempotency_key=reward_key(
                        invitee_id, rule.milestone, rule.min_order_fen, role
                    ),
                    invitee_id=invitee_id,
                    milestone=rule.milestone,
                    role=role,
                )
            )
    return actions

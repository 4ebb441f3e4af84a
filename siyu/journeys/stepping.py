"""Pure stepping: (state, definition, facts, now) → where the person rests and what to do.

A state that is ``active`` is about to run its node; a ``waiting`` state whose time came
leaves its node by the wait's ``next`` (or ``timeout_next``), a staff task by ``fallback``,
a goal by exiting unconverted. From there nodes run one after another (branches, splits,
actions) until a wait, a staff task, a goal or an exit. The graph is a DAG, so this ends
and each node runs at most once per entry: ``<state>:<node>:<entry_no>`` is a sound key.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from siyu.channels.models import MessageRequest
from siyu.journeys.actions import (
    AddTag,
    AwardPoints,
    CallWebhook,
    Facts,
    IssueCoupon,
    Outcome,
    RemoveTag,
    SendMessage,
    StaffTask,
    StateStatus,
    StepState,
)
from siyu.journeys.conditions import holds
from siyu.journeys.models import (
    ActionNode,
    ActionSpec,
    AwardPointsSpec,
    BranchNode,
    CallWebhookSpec,
    ExitNode,
    GoalNode,
    IssueCouponSpec,
    JourneyDefinition,
    Node,
    SendMessageSpec,
    SplitNode,
    StaffTaskNode,
    TagSpec,
    Variant,
    WaitNode,
)

_PLACEHOLDER = re.compile(r"\{\{\s*([\w.$-]+)\s*(?:\|([^}]*))?\}\}")


def action_key(state: StepState, node_id: str) -> str:
    """The idempotency key of what ``node_id`` does for this entry."""
    return f"journey:{state.id}:{node_id}:{state.entry_no}"


def assign_variant(journey_id: str, person_id: str, variants: list[Variant]) -> Variant:
    """The variant a person gets: a hash of (journey, person) into the weights, so stable."""
    digest = hashlib.sha256(f"{journey_id}\x1f{person_id}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") % sum(v.weight for v in variants)
    for variant in variants:
        if point < variant.weight:
            return variant
        point -= variant.weight
    raise AssertionError("weights exhausted")  # pragma: no cover


def render(params: dict[str, str], traits: dict[str, Any]) -> dict[str, str]:
    """Fill ``{{trait}}`` / ``{{trait|fallback}}`` placeholders from the person's traits."""

    def fill(match: re.Match[str]) -> str:
        value = traits.get(match.group(1))
        if value is None or value == "":
            return match.group(2) or ""
        return str(value)

    return {k: _PLACEHOLDER.sub(fill, v) for k, v in params.items()}


def zone_of(facts: Facts | None, default: str) -> ZoneInfo:
    """The person's zone (trait ``timezone``) if valid, else the journey's."""
    name = facts.traits.get("timezone") if facts else None
    if isinstance(name, str):
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return ZoneInfo(default)


def next_local_time(now: datetime, at: time, zone: ZoneInfo) -> datetime:
    """The first moment after ``now`` that is ``at`` o'clock in ``zone`` (aware UTC)."""
    local = now.astimezone(zone)
    candidate = datetime.combine(local.date(), at, tzinfo=zone)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), at, tzinfo=zone)
    return candidate.astimezone(now.tzinfo)


def resume_edge(node: Node) -> str | None:
    """Where a waiting state goes when its time comes; None: it exits (goal not reached)."""
    match node:
        case WaitNode():
            return node.timeout_next if node.until_event is not None else node.next
        case StaffTaskNode():
            return node.fallback
    return None


def step(
    state: StepState, definition: JourneyDefinition, facts: Facts | None, now: datetime
) -> Outcome:
    """Advance one due state as far as it goes now."""
    nodes = definition.node_map()
    variant = state.variant
    current: str | None = state.node_id
    if state.status is StateStatus.WAITING:
        current = resume_edge(nodes[state.node_id])
        if current is None:
            return Outcome(node_id=state.node_id, status=StateStatus.EXITED, due_at=None)
    outcome = Outcome(node_id=state.node_id, status=StateStatus.ACTIVE, due_at=now, variant=variant)
    for _ in range(len(nodes)):
        assert current is not None
        node = nodes[current]
        outcome.visited.append(node.id)
        outcome.node_id = node.id
        current = _run(node, state, definition, facts, now, outcome)
        if current is None:
            return outcome
    raise AssertionError("a journey graph is acyclic")  # pragma: no cover


def _run(
    node: Node,
    state: StepState,
    definition: JourneyDefinition,
    facts: Facts | None,
    now: datetime,
    outcome: Outcome,
) -> str | None:
    """Run one node; the next node id, or None where the person rests (outcome updated)."""
    match node:
        case BranchNode():
            found = facts or Facts()
            return next((arm.next for arm in node.arms if holds(arm.when, found)), node.else_next)
        case SplitNode():
            chosen = assign_variant(state.journey_id, state.person_id, node.variants)
            outcome.variant = chosen.name
            return chosen.next
        case ActionNode():
            outcome.actions.append(_action(node.action, node.id, state, definition, facts))
            return node.next
        case ExitNode():
            _rest(outcome, StateStatus.EXITED, None)
        case WaitNode():
            _rest(outcome, StateStatus.WAITING, _wait_until(node, definition, facts, now))
            outcome.wait_event = node.until_event.event if node.until_event else None
        case StaffTaskNode():
            due = now + node.sla
            outcome.actions.append(
                StaffTask(
                    key=action_key(state, node.id),
                    journey_id=state.journey_id,
                    node_id=node.id,
                    person_id=state.person_id,
                    task=node.task,
                    template=node.template,
                    due_at=due,
                )
            )
            _rest(outcome, StateStatus.WAITING, due)
        case GoalNode():
            _rest(outcome, StateStatus.WAITING, now + node.within)
            outcome.wait_event = node.event.event
    return None


def _rest(outcome: Outcome, status: StateStatus, due_at: datetime | None) -> None:
    outcome.status, outcome.due_at = status, due_at


def _wait_until(
    node: WaitNode, definition: JourneyDefinition, facts: Facts | None, now: datetime
) -> datetime:
    if node.duration is not None:
        return now + node.duration
    if node.until_time is not None:
        return next_local_time(now, node.until_time, zone_of(facts, definition.settings.zone))
    assert node.timeout is not None
    return now + node.timeout


def _action(
    spec: ActionSpec,
    node_id: str,
    state: StepState,
    definition: JourneyDefinition,
    facts: Facts | None,
) -> Any:
    common = {
        "key": action_key(state, node_id),
        "journey_id": state.journey_id,
        "node_id": node_id,
        "person_id": state.person_id,
    }
    traits = facts.traits if facts else {}
    match spec:
        case SendMessageSpec():
            request = MessageRequest(
                person_id=state.person_id,
                channel=spec.channel,
                template=spec.template,
                params={**render(spec.params, traits), **spec.content_params()},
                purpose=spec.purpose,
                priority=definition.settings.priority,
                source=f"journey:{state.journey_id}:{node_id}",
                idempotency_key=common["key"],
            )
            return SendMessage(**common, request=request, offer=spec.offer)
        case TagSpec():
            kind = AddTag if spec.type == "add_tag" else RemoveTag
            return kind(**common, tag=spec.tag)
        case AwardPointsSpec():
            return AwardPoints(**common, points=spec.points, reason=spec.reason)
        case IssueCouponSpec():
            return IssueCoupon(**common, template_id=spec.template_id)
        case CallWebhookSpec():
            payload = render(spec.payload, traits)
            return CallWebhook(**common, url=spec.url, payload=payload)
    raise AssertionError(spec)  # pragma: no cover


def needs_facts(definition: JourneyDefinition) -> bool:
    """Whether stepping reads facts (branches, times of day, personalisation)."""
    for node in definition.nodes:
        if isinstance(node, BranchNode):
            return True
        if isinstance(node, WaitNode) and node.until_time is not None:
            return True
        if isinstance(node, ActionNode) and isinstance(
            node.action, SendMessageSpec | CallWebhookSpec
        ):
            values = (
                node.action.params
                if isinstance(node.action, SendMessageSpec)
                else node.action.payload
            )
            if any("{{" in v for v in values.values()):
                return True
    return False

"""Pure stepping per node type, with time frozen."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from siyu.channels.models import Channel
from siyu.journeys.actions import AddTag, Facts, SendMessage, StaffTask, StateStatus, StepState
from siyu.journeys.definition import parse_definition
from siyu.journeys.models import JourneyDefinition, Variant
from siyu.journeys.stepping import assign_variant, next_local_time, render, step

NOW = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai


def _journey(*nodes: dict[str, object], start: str = "a") -> JourneyDefinition:
    return parse_definition(
        {
            "name": "j",
            "trigger": {"type": "event", "spec": {"event": "x"}},
            "start": start,
            "nodes": list(nodes),
        }
    )


def _state(node: str, status: StateStatus = StateStatus.ACTIVE) -> StepState:
    return StepState(
        id="jst_1", journey_id="jny_1", person_id="p_1", entry_no=2, node_id=node, status=status
    )


EXIT: dict[str, object] = {"type": "exit", "id": "x"}


def test_actions_run_until_a_wait_and_carry_keys() -> None:
    journey = _journey(
        {"type": "action", "id": "a", "action": {"type": "add_tag", "tag": "vip"}, "next": "m"},
        {
            "type": "action",
            "id": "m",
            "next": "w",
            "action": {
                "type": "send_message",
                "channel": "sms",
                "template": "t",
                "params": {"n": "{{name|朋友}}!"},
            },
        },
        {"type": "wait", "id": "w", "duration": "PT2H", "next": "x"},
        EXIT,
    )
    out = step(_state("a"), journey, Facts(traits={"name": "小王"}), NOW)
    assert out.visited == ["a", "m", "w"]
    assert (out.node_id, out.status, out.due_at) == (
        "w",
        StateStatus.WAITING,
        NOW + timedelta(hours=2),
    )
    tag, send = out.actions
    assert isinstance(tag, AddTag) and tag.key == "journey:jst_1:a:2"
    assert isinstance(send, SendMessage)
    assert send.request.channel is Channel.SMS and send.request.params == {"n": "小王!"}
    assert send.request.idempotency_key == "journey:jst_1:m:2"
    # due: the wait is over, the person goes on to exit
    done = step(_state("w", StateStatus.WAITING), journey, None, NOW)
    assert (done.visited, done.status, done.due_at) == (["x"], StateStatus.EXITED, None)


def test_wait_until_time_of_day_in_the_persons_zone() -> None:
    journey = _journey({"type": "wait", "id": "a", "until_time": "09:30", "next": "x"}, EXIT)
    shanghai = step(_state("a"), journey, Facts(), NOW)  # 12:00 local → tomorrow 09:30 +08
    assert shanghai.due_at == datetime(2026, 11, 29, 1, 30, tzinfo=UTC)
    london = step(_state("a"), journey, Facts(traits={"timezone": "Europe/London"}), NOW)
    assert london.due_at == datetime(2026, 11, 28, 9, 30, tzinfo=UTC)  # 04:00 local → today
    assert next_local_time(NOW, time(12, 0), ZoneInfo("Asia/Shanghai")) == NOW + timedelta(days=1)


def test_event_wait_times_out_down_the_timeout_edge() -> None:
    journey = _journey(
        {
            "type": "wait",
            "id": "a",
            "until_event": {"event": "Coupon Used"},
            "timeout": "P3D",
            "next": "x",
            "timeout_next": "t",
        },
        {"type": "action", "id": "t", "action": {"type": "remove_tag", "tag": "vip"}, "next": "x"},
        EXIT,
    )
    waiting = step(_state("a"), journey, None, NOW)
    assert (waiting.wait_event, waiting.due_at) == ("Coupon Used", NOW + timedelta(days=3))
    lapsed = step(_state("a", StateStatus.WAITING), journey, None, NOW)
    assert lapsed.visited == ["t", "x"]


def test_branch_on_traits_tags_segments_and_events() -> None:
    journey = _journey(
        {
            "type": "branch",
            "id": "a",
            "else_next": "x",
            "arms": [
                {
                    "when": {
                        "type": "all",
                        "conditions": [
                            {"type": "trait", "name": "city", "op": "eq", "value": "杭州"},
                            {"type": "not", "condition": {"type": "tag", "tag": "blocked"}},
                        ],
                    },
                    "next": "h",
                },
                {
                    "when": {
                        "type": "any",
                        "conditions": [
                            {"type": "segment", "segment_id": "seg_vip"},
                            {"type": "event_done", "event": "Order Completed", "min_count": 3},
                        ],
                    },
                    "next": "v",
                },
            ],
        },
        {"type": "action", "id": "h", "action": {"type": "add_tag", "tag": "hz"}, "next": "x"},
        {"type": "action", "id": "v", "action": {"type": "add_tag", "tag": "vip"}, "next": "x"},
        EXIT,
    )

    def path(facts: Facts) -> list[str]:
        return step(_state("a"), journey, facts, NOW).visited

    assert path(Facts(traits={"city": "杭州"})) == ["a", "h", "x"]
    assert path(Facts(traits={"city": "杭州"}, tags=frozenset({"blocked"}))) == ["a", "x"]
    assert path(Facts(segments=frozenset({"seg_vip"}))) == ["a", "v", "x"]
    assert path(Facts(event_counts={"Order Completed": 3})) == ["a", "v", "x"]
    assert path(Facts(event_counts={"Order Completed": 2})) == ["a", "x"]


def test_staff_task_waits_for_the_sla_then_falls_back() -> None:
    journey = _journey(
        {
            "type": "staff_task",
            "id": "a",
            "task": "call",
            "sla": "PT4H",
            "next": "x",
            "fallback": "f",
        },
        {
            "type": "action",
            "id": "f",
            "next": "x",
            "action": {"type": "send_message", "channel": "sms", "template": "fb"},
        },
        EXIT,
    )
    out = step(_state("a"), journey, None, NOW)
    (task,) = out.actions
    assert isinstance(task, StaffTask) and task.due_at == NOW + timedelta(hours=4)
    assert out.status is StateStatus.WAITING
    lapsed = step(_state("a", StateStatus.WAITING), journey, None, NOW)
    assert lapsed.visited == ["f", "x"] and isinstance(lapsed.actions[0], SendMessage)


def test_goal_waits_then_exits_unconverted() -> None:
    journey = _journey(
        {"type": "goal", "id": "a", "event": {"event": "Order Completed"}, "within": "P7D"}
    )
    out = step(_state("a"), journey, None, NOW)
    assert (out.status, out.wait_event) == (StateStatus.WAITING, "Order Completed")
    assert step(_state("a", StateStatus.WAITING), journey, None, NOW).status is StateStatus.EXITED


def test_render_leaves_unknown_traits_empty_or_fallback() -> None:
    assert render({"a": "Hi {{ name }}, {{x|there}} {{y}}."}, {"name": 3}) == {"a": "Hi 3, there ."}


WEIGHTS = st.lists(st.integers(min_value=1, max_value=100), min_size=2, max_size=5)


@settings(max_examples=30, deadline=None)
@given(weights=WEIGHTS, journey=st.text(min_size=1, max_size=10))
def test_split_is_stable_and_follows_the_weights(weights: list[int], journey: str) -> None:
    variants = [Variant(name=f"v{i}", weight=w, next="x") for i, w in enumerate(weights)]
    people = [f"p_{i}" for i in range(2000)]
    first = [assign_variant(journey, p, variants).name for p in people]
    assert first == [assign_variant(journey, p, list(variants)).name for p in people]
    counts = Counter(first)
    total = sum(weights)
    for i, w in enumerate(weights):
        share = counts[f"v{i}"] / len(people)
        # 2000 draws: a share is within ±0.06 of its weight (> 5 standard deviations)
        assert abs(share - w / total) < 0.06

"""Journey definitions: JSON and YAML load, and bad definitions name the field."""

from __future__ import annotations

import json

import pytest

from siyu.core.errors import InvalidInputError
from siyu.journeys.definition import dump_definition, load_definition
from siyu.journeys.models import SplitNode, WaitNode

YAML = """
name: win-back
trigger: {type: segment_entered, segment_id: seg_risk}
start: tag
settings: {reentry: true, reentry_after: P30D, entry_limit: 3}
nodes:
  - {type: action, id: tag, action: {type: add_tag, tag: winback}, next: wait}
  - {type: wait, id: wait, until_time: "10:00:00", next: split}
  - type: split
    id: split
    variants:
      - {name: coupon, weight: 45, next: send}
      - {name: plain, weight: 45, next: goal}
      - {name: holdout, weight: 10, next: out, holdout: true}
  - type: action
    id: send
    action: {type: send_message, channel: sms, template: wb1, params: {name: "{{name|会员}}"}}
    next: goal
  - {type: goal, id: goal, event: {event: Order Completed}, within: P14D}
  - {type: exit, id: out}
"""


def test_yaml_and_json_load_the_same_definition() -> None:
    from_yaml = load_definition(YAML)
    assert isinstance(from_yaml.node_map()["wait"], WaitNode)
    assert isinstance(from_yaml.node_map()["split"], SplitNode)
    from_json = load_definition(json.dumps(dump_definition(from_yaml)), fmt="json")
    assert from_json == from_yaml


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (("next: wait}", "next: nowhere}"), "nodes.0"),
        (("start: tag", "start: nope"), "start"),
        (
            ('until_time: "10:00:00"', 'until_time: "10:00:00", duration: P1D'),
            "nodes.1.wait.duration",
        ),
        (("next: goal\n", "next: tag\n"), "nodes.3"),  # cycle send → tag
        (("{type: exit, id: out}", "{type: exit, id: tag}"), "nodes.5.id"),
        (("channel: sms", "channel: pigeon"), "nodes.3.action.action.send_message.channel"),
        (("weight: 10,", "weight: 0,"), "nodes.2.split.variants.2.weight"),
        (
            (
                "reentry_after: P30D,",
                "end_at: '2026-01-01T00:00:00+08:00', start_at: '2026-02-01T00:00:00+08:00',",
            ),
            "settings.end_at",
        ),
    ],
)
def test_bad_definitions_name_the_field(change: tuple[str, str], field: str) -> None:
    bad = YAML.replace(*change, 1)
    assert bad != YAML
    with pytest.raises(InvalidInputError) as caught:
        load_definition(bad)
    assert caught.value.field == field


def test_unreachable_node_is_named() -> None:
    extra = YAML + "  - {type: exit, id: orphan}\n"
    with pytest.raises(InvalidInputError, match="not reachable") as caught:
        load_definition(extra)
    assert caught.value.field == "nodes.6"


def test_event_wait_needs_timeout_edge() -> None:
    bad = YAML.replace('until_time: "10:00:00"', "until_event: {event: Coupon Used}, timeout: P3D")
    with pytest.raises(InvalidInputError) as caught:
        load_definition(bad)
    assert caught.value.field == "nodes.1.wait.timeout"


def test_not_yaml_or_not_a_mapping() -> None:
    with pytest.raises(InvalidInputError) as caught:
        load_definition("- a\n- b\n")
    assert caught.value.field == "definition"
    with pytest.raises(InvalidInputError):
        load_definition("{not json", fmt="json")

"""Journey canvas builders: layered layout, edge labels, live counts, A/B rows, editor text."""

from __future__ import annotations

from siyu.console.views import journey_flow as flow
from siyu.console.views import journeys as views
from siyu.journeys.definition import load_definition, parse_definition
from siyu.journeys.stats import JourneyStats, NodeStats, variant_stats

DEFINITION = parse_definition(
    {
        "name": "Win-back",
        "trigger": {"type": "segment_entered", "segment_id": "seg_1"},
        "start": "split",
        "nodes": [
            {"type": "split", "id": "split", "variants": [
                {"name": "A", "weight": 45, "next": "task"},
                {"name": "B", "weight": 45, "next": "sms"},
                {"name": "holdout", "weight": 10, "next": "goal", "holdout": True},
            ]},
            {"type": "staff_task", "id": "task", "task": "call", "sla": "P2D",
             "next": "goal", "fallback": "sms"},
            {"type": "action", "id": "sms", "next": "goal",
             "action": {"type": "send_message", "channel": "sms", "template": "t"}},
            {"type": "goal", "id": "goal", "event": {"event": "Order Completed"}},
        ],
    }
)  # fmt: skip


def _stats() -> JourneyStats:
    nodes = [
        NodeStats(node_id="split", type="split", entered=100, waiting=0, passed=100, sent=0,
                  failed=0, converted=0),
        NodeStats(node_id="sms", type="action", entered=60, waiting=0, passed=58, sent=58,
                  failed=2, converted=0),
        NodeStats(node_id="old", type=None, entered=3, waiting=1, passed=2, sent=0, failed=0,
                  converted=0),
    ]  # fmt: skip
    variants = variant_stats({"A": (12, 45), "B": (20, 45), "holdout": (1, 10)}, "holdout")
    return JourneyStats(journey_id="j", entries=100, live=40, converted=33, nodes=nodes,
                        variants=variants)  # fmt: skip


def test_columns_are_the_longest_distance_from_start() -> None:
    # sms is reached from split directly and through task: it sits after task.
    assert flow.layers(DEFINITION) == {"split": 0, "task": 1, "sms": 2, "goal": 3}
    placed = flow.positions(DEFINITION)
    assert placed["split"] == (0, 0)
    assert placed["goal"][0] == 3 * flow.COLUMN_GAP
    assert len(set(placed.values())) == 4


def test_edges_name_variants_timeouts_and_fallbacks() -> None:
    nodes = DEFINITION.node_map()
    assert flow.edge_labels(nodes["split"], "en") == [
        ("task", "A 45%"), ("sms", "B 45%"), ("goal", "holdout 10%")
    ]  # fmt: skip
    assert flow.edge_labels(nodes["task"], "zh") == [("goal", "完成"), ("sms", "超时兜底")]
    assert flow.edge_labels(nodes["goal"], "en") == []
    branch = load_definition(
        '{"name": "b", "trigger": {"type": "event", "spec": {"event": "X"}}, "start": "b",'
        ' "nodes": [{"type": "branch", "id": "b", "arms": [{"when": {"type": "event_done",'
        ' "event": "Y"}, "next": "e"}], "else_next": "w"}, {"type": "wait", "id": "w",'
        ' "until_event": {"event": "Z"}, "timeout": "P1D", "next": "e", "timeout_next": "e"},'
        ' {"type": "exit", "id": "e"}]}'
    )
    labels = [text for node in branch.nodes for _, text in flow.edge_labels(node, "en")]
    assert labels == ["arm 1", "else", "", "timeout"]


def test_the_canvas_shows_live_counts_and_the_table_the_same_numbers() -> None:
    view = flow.flow_view(DEFINITION, _stats(), "en")
    series = view.options["series"][0]
    by_name = {item["name"]: item for item in series["data"]}
    assert by_name["split"]["label"]["formatter"] == "split\nA/B split\nentered 100 · waiting 0"
    assert "Failed: 2" in by_name["sms"]["tooltip"]["formatter"]
    assert by_name["goal"]["value"] == 0  # no statistics yet: zero, not missing
    assert {(link["source"], link["target"]) for link in series["links"]} == {
        ("split", "task"), ("split", "sms"), ("split", "goal"), ("task", "goal"),
        ("task", "sms"), ("sms", "goal"),
    }  # fmt: skip
    rows = {row["node"]: row for row in view.rows}
    assert list(rows) == ["split", "task", "sms", "goal", "old"]  # a removed node stays listed
    assert rows["sms"]["sent"] == 58 and rows["sms"]["failed"] == 2
    assert rows["old"]["type"] == "—" and rows["old"]["waiting"] == 1
    assert flow.flow_view(DEFINITION, None, "zh").rows[0]["entered"] == 0


def test_ab_rows_compare_with_the_holdout() -> None:
    stats = _stats()
    view = views.variants_view(stats, "en")
    rows = {row["variant"]: row for row in view.rows}
    assert rows["holdout"]["verdict"] == "Control"
    assert rows["holdout"]["lift"] == "—"
    assert rows["A"]["rate"] == "26.7%"
    b = next(v for v in stats.variants if v.variant == "B")
    assert rows["B"]["p_value"] == f"{b.p_value:.3f}"
    assert rows["B"]["verdict"] == (
        "Significant (p < 0.05)" if b.p_value is not None and b.p_value < 0.05
        else "Not significant"
    )  # fmt: skip
    low, band, point = view.options["series"]
    assert point["data"][0] == round(12 / 45 * 100, 2)
    a = stats.variants[0]
    assert low["data"][0] == round(a.low * 100, 2)
    assert band["data"][0] == round((a.high - a.low) * 100, 2)
    assert low["data"][0] < point["data"][0] < low["data"][0] + band["data"][0]


def test_the_editor_text_loads_back_as_the_same_definition() -> None:
    text = views.definition_yaml(DEFINITION)
    assert "null" not in text
    assert load_definition(text, fmt="yaml") == DEFINITION


def test_the_canvas_is_wide_and_tall_enough_for_every_node() -> None:
    width, height = flow.canvas_size(DEFINITION)
    # four columns: three gaps between centres plus half a node and some air on each side
    assert width == 3 * flow.COLUMN_GAP + 2 * flow.MARGIN_X
    assert width > 3 * flow.COLUMN_GAP + flow.NODE_WIDTH
    assert height == flow.MIN_HEIGHT  # one or two rows: the least height

"""Journey canvas builders: the node graph laid out in layers, with live counts per node.

The graph is an ECharts ``graph`` series with fixed positions: a node's column is its
longest distance from ``start`` (the definition is a DAG, so this always ends), its row the
order it is reached in. Edges carry the arm, variant, timeout or fallback they stand for.
"""

from __future__ import annotations

from typing import Any

from siyu.console.i18n import translate
from siyu.console.views.common import ChartView, base_options, column, count
from siyu.journeys.models import (
    ActionNode,
    BranchNode,
    JourneyDefinition,
    Node,
    SplitNode,
    StaffTaskNode,
    WaitNode,
    edges_of,
)
from siyu.journeys.stats import JourneyStats, NodeStats

NODE_COLOURS = {
    "wait": "#64748b",
    "branch": "#7c3aed",
    "split": "#f59e0b",
    "action": "#0f766e",
    "staff_task": "#2563eb",
    "goal": "#16a34a",
    "exit": "#9ca3af",
}
COLUMN_GAP = 200
ROW_GAP = 95
NODE_WIDTH = 160
MARGIN_X = NODE_WIDTH // 2 + 5  # half a node and a little air, each side
MARGIN_Y = 60
MIN_HEIGHT = 320
COUNTS = ("entered", "waiting", "passed", "sent", "failed", "converted")


def layers(definition: JourneyDefinition) -> dict[str, int]:
    """Each reachable node's column: its longest distance (in edges) from ``start``."""
    nodes = definition.node_map()
    order = _topological(definition)
    depth = {definition.start: 0}
    for node_id in order:
        for target in edges_of(nodes[node_id]):
            depth[target] = max(depth.get(target, 0), depth[node_id] + 1)
    return depth


def _topological(definition: JourneyDefinition) -> list[str]:
    nodes = definition.node_map()
    seen: set[str] = set()
    out: list[str] = []

    def visit(node_id: str) -> None:
        seen.add(node_id)
        for target in edges_of(nodes[node_id]):
            if target not in seen:
                visit(target)
        out.append(node_id)

    visit(definition.start)
    return out[::-1]


def positions(definition: JourneyDefinition) -> dict[str, tuple[int, int]]:
    """(x, y) of every reachable node: columns by layer, rows centred around zero."""
    depth = layers(definition)
    columns: dict[int, list[str]] = {}
    for node_id in _topological(definition):
        columns.setdefault(depth[node_id], []).append(node_id)
    placed: dict[str, tuple[int, int]] = {}
    for layer, ids in columns.items():
        top = -(len(ids) - 1) * ROW_GAP // 2
        for row, node_id in enumerate(ids):
            placed[node_id] = (layer * COLUMN_GAP, top + row * ROW_GAP)
    return placed


def canvas_size(definition: JourneyDefinition) -> tuple[int, int]:
    """Pixels (width, height) the canvas needs so that nodes never overlap.

    ECharts fits fixed positions into the chart, shrinking distances but not the nodes, so a
    long journey gets a wider chart (scrolled sideways) instead of squeezed columns.
    """
    placed = positions(definition)
    xs = [x for x, _ in placed.values()]
    ys = [y for _, y in placed.values()]
    width = max(xs) - min(xs) + 2 * MARGIN_X
    height = max(ys) - min(ys) + 2 * MARGIN_Y
    return width, max(height, MIN_HEIGHT)


def edge_labels(node: Node, lang: str) -> list[tuple[str, str]]:
    """(target, label) of each edge leaving ``node``; an empty label for a plain "next"."""
    match node:
        case WaitNode():
            out = [(node.next, "")]
            if node.timeout_next:
                out.append((node.timeout_next, translate(lang, "flow.edge.timeout")))
            return out
        case BranchNode():
            arms = [
                (arm.next, translate(lang, "flow.edge.arm", n=i + 1))
                for i, arm in enumerate(node.arms)
            ]
            return [*arms, (node.else_next, translate(lang, "flow.edge.else"))]
        case SplitNode():
            total = sum(v.weight for v in node.variants)
            return [(v.next, f"{v.name} {v.weight * 100 // total}%") for v in node.variants]
        case StaffTaskNode():
            return [
                (node.next, translate(lang, "flow.edge.done")),
                (node.fallback, translate(lang, "flow.edge.fallback")),
            ]
        case ActionNode():
            return [(node.next, "")]
    return []


def _subtitle(node: Node) -> str:
    if isinstance(node, ActionNode):
        return node.action.type
    return ""


def _node_item(
    node: Node, at: tuple[int, int], found: NodeStats | None, lang: str
) -> dict[str, Any]:
    numbers = {name: getattr(found, name) if found else 0 for name in COUNTS}
    kind = translate(lang, f"flow.type.{node.type}")
    detail = _subtitle(node)
    title = f"{node.id} · {kind}" + (f" ({detail})" if detail else "")
    line = translate(
        lang,
        "flow.node_counts",
        entered=count(numbers["entered"]),
        waiting=count(numbers["waiting"]),
    )
    tooltip = "<br/>".join(
        [title] + [f"{translate(lang, f'flow.count.{n}')}: {count(numbers[n])}" for n in COUNTS]
    )
    return {
        "name": node.id,
        "x": at[0],
        "y": at[1],
        "value": numbers["entered"],
        "itemStyle": {"color": NODE_COLOURS.get(node.type, "#0f766e")},
        "label": {"formatter": f"{node.id}\n{kind}\n{line}"},
        "tooltip": {"formatter": tooltip},
    }


def _link(
    source: str, target: str, text: str, placed: dict[str, tuple[int, int]]
) -> dict[str, Any]:
    # An edge that skips columns bends away from the nodes it would otherwise run through.
    span = (placed[target][0] - placed[source][0]) // COLUMN_GAP
    return {
        "source": source,
        "target": target,
        "label": {"show": bool(text), "formatter": text},
        "lineStyle": {"curveness": 0.3 if span > 1 else 0.05},
    }


def flow_view(definition: JourneyDefinition, stats: JourneyStats | None, lang: str) -> ChartView:
    """The journey as a layered graph whose nodes show live counts; the same as a table."""
    by_id = {row.node_id: row for row in stats.nodes} if stats else {}
    placed = positions(definition)
    nodes = definition.node_map()
    items = [_node_item(nodes[i], at, by_id.get(i), lang) for i, at in placed.items()]
    links = [
        _link(node_id, target, text, placed)
        for node_id in placed
        for target, text in edge_labels(nodes[node_id], lang)
    ]
    options = base_options(lang) | {
        "tooltip": {"trigger": "item"},
        "series": [
            {
                "type": "graph",
                "layout": "none",
                "roam": True,
                "symbol": "roundRect",
                "symbolSize": [NODE_WIDTH, 60],
                "label": {"show": True, "color": "#fff", "fontSize": 11, "lineHeight": 15},
                "edgeSymbol": ["none", "arrow"],
                "edgeSymbolSize": 9,
                "edgeLabel": {"fontSize": 11, "color": "#334155"},
                "lineStyle": {"color": "#94a3b8", "width": 1.5},
                "data": items,
                "links": links,
            }
        ],
    }
    return ChartView(
        title=translate(lang, "flow.title"),
        options=options,
        columns=node_columns(lang),
        rows=node_rows(definition, stats, lang),
        row_key="node",
        empty_hint=translate(lang, "flow.empty"),
    )


def node_columns(lang: str) -> list[dict[str, Any]]:
    """Columns of the per-node table."""
    return [
        column("node", translate(lang, "flow.col.node")),
        column("type", translate(lang, "col.type")),
        *(column(n, translate(lang, f"flow.count.{n}"), align="right") for n in COUNTS),
    ]


def node_rows(
    definition: JourneyDefinition, stats: JourneyStats | None, lang: str
) -> list[dict[str, Any]]:
    """One row per node of the current version (in definition order), then removed nodes."""
    by_id = {row.node_id: row for row in stats.nodes} if stats else {}
    order = [n.id for n in definition.nodes] + [i for i in by_id if i not in definition.node_map()]
    types = {n.id: n.type for n in definition.nodes}
    rows = []
    for node_id in order:
        found = by_id.get(node_id)
        kind = types.get(node_id)
        rows.append(
            {
                "node": node_id,
                "type": translate(lang, f"flow.type.{kind}") if kind else "—",
            }
            | {n: getattr(found, n) if found else 0 for n in COUNTS}
        )
    return rows

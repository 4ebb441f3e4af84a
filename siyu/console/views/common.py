"""What every chart view is made of, and number formats shared by the builders."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from siyu.console.i18n import translate

PALETTE = ["#0f766e", "#f59e0b", "#2563eb", "#db2777", "#7c3aed", "#65a30d", "#dc2626"]


class ChartView(BaseModel):
    """A chart's ECharts options and the same numbers as table columns and rows."""

    title: str
    options: dict[str, Any]
    columns: list[dict[str, Any]] = Field(description="Quasar table columns.")
    rows: list[dict[str, Any]]
    row_key: str = "key"
    note: str | None = None
    empty_hint: str | None = None


def column(name: str, label: str, *, align: str = "left") -> dict[str, Any]:
    """A Quasar table column showing the field ``name``."""
    return {"name": name, "label": label, "field": name, "align": align, "sortable": True}


def yuan(fen: float | None) -> str:
    """Fen as yuan with a thousands separator: 123456 → ¥1,234.56."""
    if fen is None:
        return "—"
    return f"¥{fen / 100:,.2f}"


def percent(ratio: float | None, digits: int = 1) -> str:
    """A 0–1 ratio as a percentage."""
    if ratio is None:
        return "—"
    return f"{ratio * 100:.{digits}f}%"


def count(value: float | None) -> str:
    """A count with a thousands separator (fractions kept to two places)."""
    if value is None:
        return "—"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}"


def change(now: float, before: float | None) -> str | None:
    """The relative change as "+12.3%", None when there is nothing to compare with."""
    if before is None or before == 0:
        return None
    return f"{(now - before) / before * 100:+.1f}%"


def base_options(lang: str) -> dict[str, Any]:
    """Options every chart shares (colours, tooltip, grid, font)."""
    return {
        "color": PALETTE,
        "tooltip": {"trigger": "axis"},
        "grid": {"left": 60, "right": 30, "top": 40, "bottom": 40, "containLabel": True},
        "textStyle": {"fontFamily": translate(lang, "chart.font")},
        "animation": False,
    }

"""The console's pages; importing a page module registers its routes with NiceGUI."""

from __future__ import annotations

import importlib

PAGES = (
    "login",
    "overview",
    "people",
    "segments",
    "analytics",
    "loyalty",
    "journeys",
    "journey_canvas",
    "channels",
    "content",
    "ugc",
    "activities",
    "assistant",
    "groups",
    "keys",
    "team",
    "password_reset",
)


def register() -> None:
    """Import every page module once so its ``@ui.page`` routes exist."""
    for name in PAGES:
        importlib.import_module(f"siyu.console.pages.{name}")

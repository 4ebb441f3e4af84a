"""Channels and settings: a page that says honestly that its backend is still to come."""

from __future__ import annotations

from nicegui import ui
from starlette.responses import RedirectResponse

from siyu.console import state
from siyu.console.layout import frame
from siyu.console.state import t
from siyu.console.widgets import empty_state


@ui.page("/channels")
def channels_page() -> RedirectResponse | None:
    """Placeholder until channel settings land."""
    if state.current() is None:
        return RedirectResponse("/login")
    with frame("/channels", "nav.channels"):
        empty_state(t("later.channels"), t("later.channels_hint"), testid="channels-later")
    return None

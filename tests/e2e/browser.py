"""A real headless Chromium for browser tests: Debian's ``/usr/bin/chromium`` driven by Playwright.

No browser is ever downloaded (``playwright install`` is not needed): Playwright launches the
system Chromium through ``executable_path``. ``.ci/run`` installs the ``chromium`` package
when it is missing.

Fixtures (import them into a conftest or test module to use them)::

    from tests.e2e.browser import browser, browser_page  # noqa: F401

    def test_console(browser_page: BrowserPage, server) -> None:
        page = browser_page.page
        page.goto(server.url + "/")
        ...
        browser_page.screenshot("console-overview")
        assert browser_page.errors == []

- ``browser`` (session scope): one Chromium process for the whole run.
- ``browser_page`` (function scope): a fresh context (own cookies and storage, zh-CN locale,
  1280×800) and page, with every uncaught page error and console error collected; the context
  closes after the test. A failing test leaves ``<test name>-failed.png`` in ``ARTIFACTS``.
- ``screenshot(page, name)`` saves ``ARTIFACTS/<name>.png`` (``tests/e2e/artifacts/``, gitignored;
  ``SIYU_E2E_ARTIFACTS`` moves it).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Error,
    Page,
    sync_playwright,
)

CHROMIUM = Path(os.environ.get("SIYU_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(os.environ.get("SIYU_E2E_ARTIFACTS", Path(__file__).parent / "artifacts"))


def screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    """Save a PNG of ``page`` as ``ARTIFACTS/<name>.png`` and return its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / (re.sub(r"[^\w.-]+", "_", name) + ".png")
    page.screenshot(path=str(path), full_page=full_page)
    return path


@dataclass
class BrowserPage:
    """A page in its own browser context, with the errors it raised."""

    context: BrowserContext
    page: Page
    name: str
    errors: list[str] = field(default_factory=list)  # uncaught exceptions in the page
    console_errors: list[str] = field(default_factory=list)  # console.error lines

    def screenshot(self, suffix: str = "", *, full_page: bool = True) -> Path:
        """A screenshot named after the test (plus ``suffix``)."""
        name = f"{self.name}-{suffix}" if suffix else self.name
        return screenshot(self.page, name, full_page=full_page)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, for the whole test session."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def browser_page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[BrowserPage]:
    """A fresh context and page; errors collected; a screenshot when the test fails."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
    page = context.new_page()
    handle = BrowserPage(context=context, page=page, name=request.node.name)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            handle.console_errors.append(message.text)

    page.on("pageerror", lambda exc: handle.errors.append(str(exc)))
    page.on("console", on_console)
    failed_before = request.session.testsfailed
    yield handle
    if request.session.testsfailed > failed_before:  # this test's call phase failed
        with contextlib.suppress(Error):
            handle.screenshot("failed")
    context.close()

"""The customer-group page in a real browser against ``siyu serve`` on the demo brand: the
health chart, its table view and the dormant groups."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.browser import BrowserPage
from tests.e2e.test_console import WAIT_MS, Console, _clean, _sign_in, _watch, console

# The served demo; Chromium comes from tests/e2e/conftest.py. A second import of the
# session-scoped browser fixture in another package started a second Playwright in the same
# thread, and every later browser test failed ("Sync API inside the asyncio loop").
__all__ = ["console"]


def test_groups_page_shows_health_and_dormant_groups(
    browser_page: BrowserPage, console: Console
) -> None:
    page = browser_page.page
    outside = _watch(page, console)
    _sign_in(page, console)
    page.get_by_test_id("nav-groups").click()
    expect(page.get_by_test_id("page-title")).to_have_text("社群运营", timeout=WAIT_MS)
    expect(page.get_by_test_id("chart-groups-health")).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_test_id("kpi-groups")).to_contain_text("12")
    page.get_by_test_id("toggle-groups-health").click()
    expect(page.get_by_test_id("table-groups-health")).to_contain_text("山茶集")
    expect(page.get_by_test_id("groups-dormant")).to_contain_text("无消息")
    _clean(browser_page, outside)

"""The UGC page and the content editor in a real browser against ``siyu serve`` on the demo
brand: approve a pending post (the reward is paid, the KOC board moves; over a picked range
it is what /api/ugc/kocs gives for those days), then create a content item, edit it, meet a
stale edit's conflict, and make a tracked link with its QR; an analyst reads both pages and is
drawn no write control."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from siyu.analytics.periods import Period as Days
from siyu.core.clock import utcnow
from tests.e2e.browser import BrowserPage
from tests.e2e.test_console import WAIT_MS, Console, _clean, _sign_in, _watch, console

# The served demo; Chromium comes from tests/e2e/conftest.py. A second import of the
# session-scoped browser fixture in another package started a second Playwright in the same
# thread, and every later browser test failed ("Sync API inside the asyncio loop").
__all__ = ["console"]


def _balance(console: Console, person_id: str) -> int:
    found = console.http.get(f"/api/loyalty/members/{person_id}/points")
    assert found.status_code == 200, found.text
    return int(found.json()["balance"])


def _koc(console: Console, person_id: str) -> dict[str, object]:
    ranking = console.http.get("/api/ugc/kocs", params={"top": 10}).json()
    return next(r for r in ranking["items"] if r["person_id"] == person_id)


def test_approve_a_post_and_see_the_reward_and_the_koc_board(
    browser_page: BrowserPage, console: Console
) -> None:
    page = browser_page.page
    outside = _watch(page, console)
    [pending] = console.http.get("/api/ugc/posts", params={"status": "pending", "limit": 1}).json()[
        "items"
    ]
    author = pending["person_id"]
    balance, before = _balance(console, author), _koc(console, author)
    _sign_in(page, console)
    page.get_by_test_id("nav-ugc").click()
    expect(page.get_by_test_id("page-title")).to_have_text("用户内容", timeout=WAIT_MS)
    card = page.get_by_test_id(f"ugc-post-{pending['id']}")
    expect(card.get_by_test_id("ugc-author")).to_have_text(author, timeout=WAIT_MS)
    expect(page.get_by_test_id("ugc-kocs")).to_contain_text(author)
    browser_page.screenshot("ugc")

    card.get_by_test_id("ugc-approve").click()
    expect(page.get_by_test_id("ugc-result")).to_contain_text("积分", timeout=WAIT_MS)
    expect(card).to_have_count(0, timeout=WAIT_MS)  # left the queue
    post = console.http.get(f"/api/ugc/posts/{pending['id']}").json()
    assert post["status"] == "approved" and post["reward"]["kind"] == "points"
    paid = int(post["reward"]["amount"])
    assert _balance(console, author) == balance + paid
    expect(page.get_by_test_id("ugc-result")).to_contain_text(f"{paid} 积分")
    expect(page.get_by_test_id("ugc-moderated")).to_contain_text(f"{paid} 积分")

    after = _koc(console, author)
    assert after["approved"] == int(str(before["approved"])) + 1
    row = page.get_by_test_id("ugc-kocs").locator("tbody tr", has_text=author)
    expect(row).to_contain_text(f"{float(str(after['score'])):.2f}", timeout=WAIT_MS)

    # The KOC board over a picked range of local days: a bad date is refused naming `from`;
    # applied, the board's leader and score are what /api/ugc/kocs gives for those days.
    today = utcnow().astimezone(ZoneInfo("Asia/Shanghai")).date()
    span = Days(first_day=today - timedelta(days=20), last_day=today - timedelta(days=1))
    page.get_by_test_id("range-from").fill("2026-13-01")
    page.get_by_test_id("range-apply").click()
    expect(page.get_by_test_id("range-result")).to_contain_text("字段 from")
    page.get_by_test_id("range-from").fill(str(span.first_day))
    page.get_by_test_id("range-to").fill(str(span.last_day))
    page.get_by_test_id("range-apply").click()
    expect(page).to_have_url(re.compile(f"/ugc\\?from={span.first_day}&to={span.last_day}$"))
    expect(page.get_by_test_id("ugc-kocs-title")).to_contain_text(
        f"{span.first_day} 至 {span.last_day}", timeout=WAIT_MS
    )
    window = {"start": span.start.isoformat(), "end": span.end.isoformat(), "top": 10}
    ranked = console.http.get("/api/ugc/kocs", params=window).json()["items"]
    rows = page.get_by_test_id("ugc-kocs").locator("tbody tr")
    assert ranked  # the demo's posts span the last weeks
    expect(rows).to_have_count(len(ranked))
    expect(rows.first).to_contain_text(ranked[0]["person_id"])
    expect(rows.first).to_contain_text(f"{float(ranked[0]['score']):.2f}")
    browser_page.screenshot("ugc-range")
    _clean(browser_page, outside)


def test_create_edit_and_link_a_content_item(browser_page: BrowserPage, console: Console) -> None:
    page = browser_page.page
    outside = _watch(page, console)
    _sign_in(page, console)
    page.get_by_test_id("nav-content").click()
    expect(page.get_by_test_id("page-title")).to_have_text("内容素材", timeout=WAIT_MS)
    expect(page.get_by_test_id("content-editor")).to_be_visible(timeout=WAIT_MS)
    result = page.get_by_test_id("content-editor-result")

    page.get_by_test_id("content-title").fill("端到端 · 精华用法")
    page.get_by_test_id("content-body").fill("早晚各一次，每次三滴。")
    page.get_by_test_id("content-variants").click()
    page.get_by_test_id("variant-sms-text").fill("精华用法：早晚三滴")
    page.get_by_test_id("content-save").click()
    expect(result).to_contain_text("已新建", timeout=WAIT_MS)
    [made] = console.http.get("/api/content/items", params={"q": "端到端"}).json()
    assert made["version"] == 1 and made["variants"] == [
        {"channel": "sms", "text": "精华用法：早晚三滴"}
    ]
    expect(page.get_by_test_id("content-version")).to_contain_text("第 1 版")

    page.get_by_test_id("content-title").fill("端到端 · 精华用法（新）")
    page.get_by_test_id("variant-wecom-text").fill("给您分享精华用法")
    page.get_by_test_id("content-save").click()
    expect(result).to_contain_text("已保存为第 2 版", timeout=WAIT_MS)
    saved = console.http.get(f"/api/content/items/{made['id']}").json()
    assert saved["title"] == "端到端 · 精华用法（新）" and saved["version"] == 2
    assert [v["channel"] for v in saved["variants"]] == ["wecom", "sms"]

    # Someone else saves in between: this editor's next save is refused with the domain's word.
    other = console.http.patch(
        f"/api/content/items/{made['id']}", params={"version": 2}, json={"body": "别人改的"}
    )
    assert other.status_code == 200 and other.json()["version"] == 3
    page.get_by_test_id("content-body").fill("我的改动")
    page.get_by_test_id("content-save").click()
    expect(result).to_contain_text("有人在你打开之后保存过", timeout=WAIT_MS)
    expect(result).to_contain_text("version 3, not 2")
    assert console.http.get(f"/api/content/items/{made['id']}").json()["body"] == "别人改的"

    page.get_by_test_id("content-link-sharer").fill("p_e2e_sharer")
    page.get_by_test_id("content-link-make").click()
    url = page.get_by_test_id("content-link-url")
    expect(url).to_have_text(re.compile(r"/c/[A-Za-z0-9]{10}$"), timeout=WAIT_MS)
    expect(page.get_by_test_id("content-link-qr").locator("img")).to_have_attribute(
        "src", re.compile(r"^data:image/png;base64,")
    )
    links = console.http.get(f"/api/content/items/{made['id']}/links").json()
    assert [(k["channel"], k["sharer_id"], k["url"]) for k in links] == [
        ("poster", "p_e2e_sharer", url.inner_text())
    ]
    page.evaluate("window.scrollTo(0, 0)")  # the header drawn at the top of the shot
    browser_page.screenshot("content-editor")
    _clean(browser_page, outside)


def test_an_analyst_reads_both_pages_without_write_controls(
    browser_page: BrowserPage, console: Console
) -> None:
    page = browser_page.page
    outside = _watch(page, console)
    email, password = "analyst@ugc.example", "analyst-password-1"
    made = console.http.post(
        "/api/users", json={"email": email, "role": "analyst", "password": password}
    )
    assert made.status_code == 201, made.text
    _sign_in(page, console, email, password)
    page.goto(console.url + "/ugc")
    expect(page.get_by_test_id("ugc-kocs")).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_test_id("ugc-author").first).to_be_visible()  # the queue is readable
    for control in ("ugc-approve", "ugc-reject", "ugc-rule-save", "ugc-tag", "ugc-upload"):
        expect(page.get_by_test_id(control)).to_have_count(0)
    page.goto(console.url + "/content")
    expect(page.get_by_test_id("content-items")).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_test_id("content-editor")).to_have_count(0)
    _clean(browser_page, outside)

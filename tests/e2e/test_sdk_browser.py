"""siyu.js in a real headless Chromium against siyu's API over real HTTP.

The test page (``/sdk/test.html``, on with ``sdk_test_page``) is served by the real app under
uvicorn (in-process) at 127.0.0.1 and sends to ``localhost`` — another origin — so the
collection API's CORS is part of what is tested. What the browser sent is read back through
the management API.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson
from playwright.sync_api import Page, Route

from tests.e2e.browser import BrowserPage
from tests.e2e.sdk_site import Site, events_of, person_of, site_fixture, wait_for  # noqa: F401


def test_page(site: Site, **query: str) -> str:
    port = site.url.rsplit(":", 1)[1]
    params = {"writeKey": site.keys["write_key"], "host": f"http://localhost:{port}"} | query
    return f"{site.url}/sdk/test.html?{urlencode(params)}"


test_page.__test__ = False  # type: ignore[attr-defined]


def named(events: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in events if e["event"] == name or (e["type"] == "page" and name == "page")]


def queued_ids(page: Page, write_key: str, event: str = "Offline Tapped") -> list[str]:
    stored = page.evaluate(f"localStorage.getItem('siyu_q_{write_key}')")
    return [m["messageId"] for m in orjson.loads(stored or "[]") if m.get("event") == event]


def test_autotrack_identify_and_first_touch(site: Site, browser_page: BrowserPage) -> None:
    page = browser_page.page
    page.goto(test_page(site, utm_source="wecom", utm_campaign="双11", scene="store42"))
    anonymous_id = page.evaluate("siyu.anonymousId()")
    assert page.context.cookies()[0]["value"] == anonymous_id  # first-party cookie …
    assert page.evaluate("JSON.parse(localStorage.getItem('siyu_aid'))") == anonymous_id  # … too
    page.click("#buy")
    page.click("[data-siyu=coupon-banner]")
    page.click("#private")  # inside [data-siyu-ignore]: not tracked
    page.click("#to-cart")  # SPA route change through history.pushState
    page.wait_for_timeout(50)
    page.click("#to-list")  # hash route
    page.click("#submit")
    browser_page.screenshot("after-clicks")
    page.evaluate("siyu.identify('u-42', {nickname: '阿茶'})")
    page.evaluate("siyu.flush()")

    person = wait_for(lambda: person_of(site, "user_id", "u-42"))
    assert person, "the identify call never arrived"
    assert person_of(site, "anonymous_id", anonymous_id) == person  # one person, both ids
    events = wait_for(lambda: (e := events_of(site, person)) and len(e) >= 12 and e)
    assert events, str([(e["type"], e["event"], e["properties"]) for e in events_of(site, person)])
    sent = orjson.dumps(events).decode()
    assert "13800138000" not in sent and "s3cret-pass" not in sent  # no form values
    assert "不采集" not in sent

    pages = [e for e in events if e["type"] == "page"]
    assert [p["properties"]["path"] for p in pages] == ["/sdk/test.html", "/sdk/cart", "/sdk/cart"]
    assert pages[1]["properties"]["referrer"].startswith(f"{site.url}/sdk/test.html")
    assert pages[2]["properties"]["hash"] == "#/list"
    assert [p["event"] for p in pages] == ["siyu SDK 测试页", "购物车", "购物车"]  # name: the title
    campaign = {"source": "wecom", "name": "双11", "scene": "store42"}
    campaign |= {"medium": "live_code", "content": "store42"}
    assert all(e["context"]["campaign"] == campaign for e in events)  # first touch, on every event
    assert pages[1]["properties"].get("campaign") is None  # the SPA page has no UTM of its own

    clicks = {
        e["properties"].get("id") or e["properties"].get("label"): e
        for e in named(events, "Element Clicked")
    }
    assert set(clicks) == {"buy", "coupon-banner", "to-cart", "to-list", "submit"}
    buy = clicks["buy"]["properties"]
    assert buy["selector"] == "button#buy"
    assert buy["text"] == "立即购买 ¥29.90"
    assert buy["tag"] == "button"
    assert (
        clicks["coupon-banner"]["properties"]["selector"]
        == "div.card.product:nth-of-type(1) > span.banner"
    )
    left = named(events, "Page Left")
    assert [e["properties"]["path"] for e in left] == ["/sdk/test.html", "/sdk/cart"]
    assert all(e["properties"]["dwell_ms"] >= 0 for e in left)
    (form,) = named(events, "Form Submitted")
    assert form["properties"] | {"url": None} == {
        "selector": "form#signup",
        "id": "signup",
        "name": "signup",
        "action": "/signup",
        "method": "post",
        "field_count": 3,
        "path": "/sdk/cart",
        "url": None,
    }
    (identify,) = [e for e in events if e["type"] == "identify"]
    assert identify["user_id"] == "u-42"
    assert len({e["message_id"] for e in events}) == len(events)
    assert browser_page.errors == []


def test_queue_survives_a_reload_while_offline(site: Site, browser_page: BrowserPage) -> None:
    page, write_key = browser_page.page, site.keys["write_key"]
    page.goto(test_page(site))
    anonymous_id = page.evaluate("siyu.anonymousId()")
    assert wait_for(lambda: person_of(site, "anonymous_id", anonymous_id))

    def refuse(route: Route) -> None:
        route.abort("internetdisconnected")

    page.route("**/v1/batch", refuse)
    with page.expect_event("requestfailed"):
        page.evaluate("siyu.track('Offline Tapped', {n: 1}); siyu.track('Offline Tapped', {n: 2})")
    offline = set(queued_ids(page, write_key))
    assert len(offline) == 2
    page.reload()
    page.wait_for_timeout(300)  # the new page tries (and fails) to send them
    assert offline <= set(queued_ids(page, write_key)), "the queue did not survive the reload"
    page.unroute("**/v1/batch")
    page.evaluate("siyu.flush()")

    def arrived() -> list[dict[str, Any]]:
        person = person_of(site, "anonymous_id", anonymous_id)
        return named(events_of(site, person), "Offline Tapped") if person else []

    tapped = wait_for(lambda: len(arrived()) >= 2 and arrived(), timeout=20)
    assert tapped, "the queued events never arrived"
    assert sorted(e["properties"]["n"] for e in tapped) == [1, 2]  # each exactly once
    assert {e["message_id"] for e in tapped} == offline
    wait_for(lambda: not queued_ids(page, write_key))
    assert queued_ids(page, write_key) == []
    assert browser_page.errors == []


def test_sdk_faults_never_reach_the_page(site: Site, browser_page: BrowserPage) -> None:
    page = browser_page.page
    page.goto(test_page(site))
    outcome = page.evaluate(
        """async () => {
          const cyclic = {}; cyclic.self = cyclic;
          siyu.track('Cyclic', cyclic);                       // cannot be serialised
          siyu.track(); siyu.alias(); siyu.page(42); siyu.identify(null, 'x');
          const fetch = window.fetch;
          window.fetch = () => { throw new Error('fetch is broken'); };
          siyu.track('While Fetch Throws');
          await siyu.flush();
          const setItem = Storage.prototype.setItem;
          Storage.prototype.setItem = () => { throw new Error('QuotaExceededError'); };
          siyu.track('While Storage Throws');
          Storage.prototype.setItem = setItem;
          window.fetch = fetch;
          history.pushState({}, '', '/sdk/after');           // the patched history still works
          await new Promise((done) => setTimeout(done, 400));
          return location.pathname;
        }"""
    )
    assert outcome == "/sdk/after"
    page.evaluate("siyu.flush()")
    anonymous_id = page.evaluate("siyu.anonymousId()")

    def names() -> set[str]:
        person = person_of(site, "anonymous_id", anonymous_id)
        return {e["event"] for e in events_of(site, person)} if person else set()

    assert wait_for(lambda: "While Fetch Throws" in names())  # sent once fetch came back
    assert "Cyclic" not in names()
    assert browser_page.errors == []


def test_screenshot_is_saved(site: Site, browser_page: BrowserPage) -> None:
    browser_page.page.goto(test_page(site))
    path = browser_page.screenshot("test-page")
    assert path.exists() and path.stat().st_size > 1000
    assert isinstance(path, Path)


SNIPPET = """<!doctype html><html><head><title>片段</title><script>
  window.siyu = window.siyu || { q: [] };
  ['init', 'track', 'identify', 'page', 'alias'].forEach(function (m) {
    siyu[m] = siyu[m] || function () { siyu.q.push([m, arguments]); };
  });
  siyu.init({ writeKey: '%(key)s', flushInterval: 60000 });
  siyu.track('Before Load', { early: true });
</script><script async src="%(url)s/sdk/siyu.js"></script></head><body>片段</body></html>"""


def test_async_snippet_and_beacon_on_leave(site: Site, browser_page: BrowserPage) -> None:
    """Calls made before siyu.js loads are replayed; the host defaults to where siyu.js came
    from; with a 60 s flush interval, Page Left (queued at pagehide) arrives only by sendBeacon."""
    page = browser_page.page
    page.goto(f"{site.url}/healthz")  # the page's origin; its content is replaced below
    page.set_content(SNIPPET % {"key": site.keys["write_key"], "url": site.url})
    page.wait_for_function("window.siyu && window.siyu.VERSION")
    anonymous_id = page.evaluate("siyu.anonymousId()")
    page.wait_for_timeout(200)
    page.goto("about:blank")  # pagehide: Page Left, then the queue goes out as a beacon

    def names() -> list[str]:
        person = person_of(site, "anonymous_id", anonymous_id)
        return sorted(e["event"] for e in events_of(site, person)) if person else []

    assert wait_for(lambda: len(names()) >= 3), names()
    assert names() == ["Before Load", "Page Left", "片段"]
    assert browser_page.errors == []

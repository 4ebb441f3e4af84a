"""Operating the demo brand in a real headless Chromium: a journey's canvas with live node
counts, its A/B results and editor (an invalid definition refused naming the field, a valid
one published), and the channels page (caps and quiet hours saved, read back through the API;
a channel's cap override removed).

Shares the sign-in and checks of :mod:`tests.e2e.test_console`; the demo's journeys are
stepped once before the server starts, so the canvas has people at its nodes.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from siyu.core.clock import utcnow
from siyu.core.config import Settings
from siyu.core.runtime import open_runtime
from siyu.demo import build
from siyu.pipeline.journey_jobs import advance_journeys
from tests.e2e.browser import BrowserPage
from tests.e2e.conftest import Server, free_port
from tests.e2e.test_console import (
    PASSWORD,
    SEED,
    USERS,
    WAIT_MS,
    Console,
    _clean,
    _ready,
    _sign_in,
    _start,
    _watch,
)


@dataclass
class Operated(Console):
    """The served demo brand, with its public write key."""

    write_key: str = ""


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Operated]:
    data_dir = Path(tmp_path_factory.mktemp("operate"))
    now = utcnow()
    runtime = open_runtime(Settings(data_dir=data_dir))
    try:
        keys, _ = build.prepare_workspace(
            runtime, users=USERS, seed=SEED, rebuild=False, now=now, owner_password=PASSWORD
        )
        report = build.build_demo(
            runtime, workspace_id=keys.workspace_id, users=USERS, seed=SEED, now=now
        )
        assert advance_journeys(runtime, now) > 0
    finally:
        runtime.close()
    server = Server(data_dir, f"http://127.0.0.1:{free_port()}")
    _start(server)
    assert server.process is not None and server.process.stderr is not None
    threading.Thread(target=server.process.stderr.read, daemon=True).start()
    headers = {"Authorization": f"Bearer {keys.secret_key}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as http:
        yield Operated(
            server.url,
            keys.secret_key,
            report.sample_member_id or "",
            http,
            "",
            email=keys.owner_email,
            password=PASSWORD,
            write_key=keys.write_key,
        )
    server.stop()


def _type_into_editor(page: Page, text: str) -> None:
    """Replace the CodeMirror editor's text (as a person would: select all, paste)."""
    editor = page.get_by_test_id("editor-text").locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(text)


def _node_counts(console: Console, journey_id: str) -> list[list[str]]:
    stats = console.http.get(f"/api/journeys/{journey_id}/stats").json()
    return [[n["node_id"], str(n["entered"]), str(n["waiting"])] for n in stats["nodes"]]


def _wait_for_table_to_match_the_api(page: Page, console: Console, journey_id: str) -> None:
    deadline = time.monotonic() + WAIT_MS / 1000
    shown: list[list[str]] = []
    while time.monotonic() < deadline:
        cells = (
            page.get_by_test_id("table-flow")
            .locator("tbody tr")
            .evaluate_all(
                "rows => rows.map(r => [...r.querySelectorAll('td')].map(c => c.innerText.trim()))"
            )
        )
        shown = [[row[0], row[2], row[3]] for row in cells]
        if shown == _node_counts(console, journey_id):
            return
        time.sleep(0.5)
    raise AssertionError(f"table {shown} != API {_node_counts(console, journey_id)}")


def _definition(console: Console, journey_id: str) -> dict[str, Any]:
    detail = console.http.get(f"/api/journeys/{journey_id}").json()
    found: dict[str, Any] = detail["versions"][-1]["definition"]
    return found


def test_a_journeys_canvas_counts_ab_results_and_editing(
    browser_page: BrowserPage, console: Console
) -> None:
    page = browser_page.page
    outside = _watch(page, console)
    winback = next(j for j in console.http.get("/api/journeys").json() if "Win-back" in j["name"])
    journey_id = winback["id"]
    stats = console.http.get(f"/api/journeys/{journey_id}/stats").json()
    assert stats["entries"] > 0 and stats["variants"]
    _sign_in(page, console)
    page.get_by_test_id("nav-journeys").click()
    page.get_by_test_id(f"open-canvas-{journey_id}").click()
    flow = page.get_by_test_id("chart-flow")
    expect(flow.locator("canvas").first).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_test_id("flow-summary")).to_contain_text(
        f"累计进入 {stats['entries']:,} 人", timeout=WAIT_MS
    )
    expect(page.get_by_test_id("chart-ab").locator("canvas").first).to_be_visible()
    page.mouse.move(0, 0)
    browser_page.screenshot("journey-canvas", full_page=False)

    # The same numbers as a table: every node with the API's counts. The server's workers
    # keep stepping people (staff tasks lapse to their fallback), so the page catches up.
    page.get_by_test_id("toggle-flow").click()
    rows = page.get_by_test_id("table-flow").locator("tbody tr")
    expect(rows).to_have_count(len(stats["nodes"]))
    _wait_for_table_to_match_the_api(page, console, journey_id)
    page.get_by_test_id("toggle-ab").click()
    variants = page.get_by_test_id("table-ab").locator("tbody tr")
    expect(variants).to_have_count(len(stats["variants"]))
    # The holdout is the control; with few people it may have nobody yet (then no control).
    for variant in stats["variants"]:
        row = variants.filter(has_text=variant["variant"]).first
        p = variant["p_value"]
        verdict = (
            "对照组" if variant["control"] else "—" if p is None
            else "显著（p < 0.05）" if p < 0.05 else "不显著"
        )  # fmt: skip
        expect(row.locator("td").last).to_have_text(verdict)
        expect(row.locator("td").nth(1)).to_have_text(str(variant["entered"]))

    # An invalid definition is refused, naming the field; nothing is published.
    definition = _definition(console, journey_id)
    broken = copy.deepcopy(definition)
    broken["nodes"][0]["variants"][0]["weight"] = 0
    _type_into_editor(page, json.dumps(broken, ensure_ascii=False))
    page.get_by_test_id("editor-validate").click()
    result = page.get_by_test_id("editor-result")
    expect(result).to_contain_text("字段 nodes.0.split.variants.0.weight", timeout=WAIT_MS)
    page.get_by_test_id("editor-publish").click()
    expect(result).to_contain_text("字段 nodes.0.split.variants.0.weight", timeout=WAIT_MS)
    assert console.http.get(f"/api/journeys/{journey_id}").json()["current_version"] == 1

    # A valid one becomes version 2.
    fixed = copy.deepcopy(definition)
    goal = next(n for n in fixed["nodes"] if n["type"] == "goal")
    goal["within"] = "P10D"
    _type_into_editor(page, json.dumps(fixed, ensure_ascii=False))
    page.get_by_test_id("editor-publish").click()
    expect(result).to_contain_text("已发布第 2 版", timeout=WAIT_MS)
    detail = console.http.get(f"/api/journeys/{journey_id}").json()
    assert detail["current_version"] == 2
    published = next(n for n in detail["versions"][-1]["definition"]["nodes"] if n["id"] == "goal")
    assert published["within"] in ("P10D", 864000.0, 864000)
    browser_page.screenshot("journey-published")
    _clean(browser_page, outside)


def test_set_caps_and_quiet_hours_on_the_channels_page(
    browser_page: BrowserPage, console: Operated
) -> None:
    page = browser_page.page
    outside = _watch(page, console)
    _sign_in(page, console)
    page.get_by_test_id("nav-channels").click()
    caps = page.get_by_test_id("section-caps")
    expect(caps.get_by_test_id("caps-daily")).to_have_value("1", timeout=WAIT_MS)
    credentials = page.get_by_test_id("credentials").locator("tbody tr")
    expect(credentials.first).to_contain_text("未设置")

    # A bad cap is refused naming the field; nothing is stored.
    caps.get_by_test_id("caps-daily").fill("-1")
    caps.get_by_test_id("caps-save").click()
    expect(caps.get_by_test_id("caps-result")).to_contain_text("字段 daily")
    assert console.http.get("/api/channels/policy").json()["default_caps"]["daily"] == 1

    caps.get_by_test_id("caps-daily").fill("2")
    caps.get_by_test_id("caps-weekly").fill("5")
    caps.get_by_test_id("caps-monthly").fill("12")
    caps.get_by_test_id("quiet-start").fill("22:30")
    caps.get_by_test_id("caps-save").click()
    expect(caps.get_by_test_id("caps-result")).to_have_text("已保存", timeout=WAIT_MS)
    policy = console.http.get("/api/channels/policy").json()
    assert policy["default_caps"] == {"daily": 2, "weekly": 5, "monthly": 12}
    assert policy["quiet_start"].startswith("22:30")
    assert policy["caps"]["webhook"]["daily"] is None  # the override is kept
    expect(caps.get_by_test_id("caps-table").locator("tbody tr").first).to_contain_text("12")
    # Removing the webhook override writes the policy without it; the rest stays.
    caps.get_by_test_id("caps-remove-webhook").click()
    expect(caps.get_by_test_id("caps-remove-webhook")).to_have_count(0, timeout=WAIT_MS)
    policy = console.http.get("/api/channels/policy").json()
    assert "webhook" not in policy["caps"] and policy["default_caps"]["monthly"] == 12
    held = page.get_by_test_id("chart-held")
    expect(held).to_be_visible()

    # The webhook signing secret is write-only: saved, then shown only as set.
    webhook = page.get_by_test_id("credential-webhook")
    webhook.click()
    webhook.get_by_test_id("field-secret").fill("short")
    webhook.get_by_test_id("credential-save-webhook").click()
    expect(webhook.get_by_test_id("credential-result-webhook")).to_contain_text("字段 secret")
    webhook.get_by_test_id("field-secret").fill("a-webhook-secret-of-32-characters")
    webhook.get_by_test_id("credential-save-webhook").click()
    row = page.get_by_test_id("credentials").locator("tbody tr").filter(has_text="Webhook")
    expect(row).to_contain_text("••• 已设置", timeout=WAIT_MS)
    stored = console.http.get("/api/channels/settings").json()
    assert [(s["channel"], s["secret_set"]) for s in stored] == [("webhook", True)]
    assert "a-webhook-secret" not in page.content()

    # Rotate a second secret key: the new secret is shown once and works, the old one stops.
    made = console.http.post("/api/keys", json={"kind": "secret", "name": "crm"}).json()
    browser_page.screenshot("channels")
    page.get_by_test_id("nav-keys").click()
    _ready(page)
    expect(page.get_by_test_id("write-key")).to_have_text(console.write_key, timeout=WAIT_MS)
    keys = page.get_by_test_id("api-keys")
    expect(keys).to_contain_text("workspace secret key")
    expect(keys).not_to_contain_text(console.secret_key[7:])
    page.get_by_test_id("rotate-key").click()
    page.get_by_role("option", name=re.compile(r"^crm ")).click()
    page.get_by_test_id("rotate-submit").click()
    page.get_by_test_id("rotate-confirm").click()
    new_secret = page.get_by_test_id("new-secret")
    expect(new_secret).to_have_text(re.compile(r"^sk_"), timeout=WAIT_MS)
    fresh = new_secret.inner_text()
    assert fresh != made["key"]
    base = console.http.base_url
    old = httpx.get(
        f"{base}/api/channels/policy", headers={"Authorization": f"Bearer {made['key']}"}
    )
    new = httpx.get(f"{base}/api/channels/policy", headers={"Authorization": f"Bearer {fresh}"})
    assert (old.status_code, new.status_code) == (401, 200)

    # Create a write key on the page (shown once, then only its start), then revoke it.
    page.get_by_test_id("key-kind").click()
    page.get_by_role("option", name="写入密钥（SDK）").click()
    page.get_by_test_id("key-name").fill("小程序")
    page.get_by_test_id("key-create").click()
    expect(new_secret).to_have_text(re.compile(r"^wk_"), timeout=WAIT_MS)
    write_key = new_secret.inner_text()
    listed = {k["name"]: k for k in console.http.get("/api/keys").json()}
    assert listed["小程序"]["kind"] == "write" and listed["小程序"]["revoked_at"] is None
    event = {"messageId": "key-1", "userId": "u-key", "event": "Key Tested"}
    sent = httpx.post(f"{base}/v1/track", auth=(write_key, ""), json=event)
    assert sent.status_code == 200, sent.text
    page.get_by_test_id("rotate-key").click()
    page.get_by_role("option", name=re.compile(r"^小程序 ")).click()
    page.get_by_test_id("revoke-submit").click()
    page.get_by_test_id("revoke-confirm").click()
    expect(page.get_by_test_id("api-keys").locator("tr").filter(has_text="小程序")).to_contain_text(
        "已吊销", timeout=WAIT_MS
    )
    listed = {k["name"]: k for k in console.http.get("/api/keys").json()}
    assert listed["小程序"]["revoked_at"] is not None
    # The server keeps a write key's lookup for SIYU_WRITE_KEY_CACHE_SECONDS (2 s for this
    # server, a minute by default), so a revoked key stops collecting within that time.
    deadline = time.monotonic() + 30
    while True:
        refused = httpx.post(f"{base}/v1/track", auth=(write_key, ""), json=event)
        if refused.status_code != 200 or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert refused.status_code == 401
    browser_page.screenshot("keys")
    _clean(browser_page, outside)

"""The console's accounts, roles, activities, knowledge base and escaping, in headless Chromium
against ``siyu serve`` on a small demo brand.

- sign-in: a wrong password is refused, five failures lock the account (the page says how
  long), sign-out ends the session;
- roles: an analyst sees no write buttons and no keys, identifiers stay masked; an operator may
  show a person's identifiers in clear, and that view is in the audit log under their user id;
- activities: create a lottery from the form, pause it (a draw is then refused), end it; a
  bargain refused with a floor above its start price, then created; a seeded activity's
  funnel table matches the API's stats;
- knowledge base: try a question (answer and confidence as the API gives them), add, edit and
  delete a Q&A, turn an unanswered question into a Q&A, import a CSV;
- escaping: hostile strings in traits, tags, segment, journey and activity names and a KB
  answer are shown as text: no dialog, no injected element, the literal text visible.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from playwright.sync_api import Dialog, Page, expect

from siyu.accounts import service as accounts
from siyu.accounts.permissions import Role
from siyu.assistant.groups import record_unanswered
from siyu.core.clock import utcnow
from siyu.core.config import Settings
from siyu.core.runtime import open_runtime
from siyu.demo import build
from tests.e2e.browser import BrowserPage
from tests.e2e.conftest import Server, free_port
from tests.e2e.test_console import WAIT_MS, _clean, _log_in, _ready, _start, _watch

USERS = 250
SEED = 11
PASSWORD = "ops-password-1"
ANALYST = "analyst@shanchaji.demo"
OPERATOR = "operator@shanchaji.demo"
LOCKED = "forgetful@shanchaji.demo"
UNANSWERED = "门店可以寄存行李吗"
HOSTILE = '<script>alert(1)</script><img src=x onerror=alert(2)>"><svg onload=alert(3)>{{7*7}}'


@dataclass
class Ops:
    url: str
    http: httpx.Client
    write_key: str
    owner: str
    operator_id: str
    member_id: str


def _user(runtime: object, workspace_id: str, email: str, role: Role) -> str:
    with runtime.sessions() as session, session.begin():  # type: ignore[attr-defined]
        user = accounts.create_user(session=session, email=email, password=PASSWORD, now=utcnow())
        accounts.add_member(
            session=session, workspace_id=workspace_id, user_id=user.id, role=role, now=utcnow()
        )
        return user.id


@pytest.fixture(scope="module")
def ops(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ops]:
    data_dir = Path(tmp_path_factory.mktemp("ops"))
    now = utcnow()
    runtime = open_runtime(Settings(data_dir=data_dir))
    try:
        keys, _ = build.prepare_workspace(
            runtime, users=USERS, seed=SEED, rebuild=False, now=now, owner_password=PASSWORD
        )
        report = build.build_demo(
            runtime, workspace_id=keys.workspace_id, users=USERS, seed=SEED, now=now
        )
        ws = keys.workspace_id
        _user(runtime, ws, ANALYST, Role.analyst)
        operator_id = _user(runtime, ws, OPERATOR, Role.operator)
        _user(runtime, ws, LOCKED, Role.read_only)
        with runtime.sessions() as session, session.begin():
            weak = SimpleNamespace(entry_id=None, score=0.12)
            record_unanswered(session, ws, UNANSWERED, None, weak, now)
    finally:
        runtime.close()
    server = Server(data_dir, f"http://127.0.0.1:{free_port()}")
    _start(server)
    assert server.process is not None and server.process.stderr is not None
    threading.Thread(target=server.process.stderr.read, daemon=True).start()
    headers = {"Authorization": f"Bearer {keys.secret_key}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as http:
        yield Ops(
            server.url, http, keys.write_key, keys.owner_email, operator_id,
            report.sample_member_id or "",
        )  # fmt: skip
    server.stop()


def _enter(page: Page, ops: Ops, email: str, path: str = "/") -> None:
    page.goto(ops.url + "/login")
    _ready(page)
    _log_in(page, email, PASSWORD)
    expect(page.get_by_test_id("signed-in-as")).to_contain_text(email, timeout=WAIT_MS)
    if path != "/":
        page.goto(ops.url + path)
        _ready(page)


def test_wrong_password_lockout_and_sign_out(browser_page: BrowserPage, ops: Ops) -> None:
    page = browser_page.page
    outside = _watch(page, ops)  # type: ignore[arg-type]
    page.goto(ops.url + "/login")
    _ready(page)
    error = page.get_by_test_id("login-error")
    _log_in(page, LOCKED, "wrong-password-0")
    expect(error).to_have_text("邮箱、密码或工作空间不正确", timeout=WAIT_MS)
    # The console and the API count failures together: four more through the API…
    for attempt in range(1, 5):
        wrong = {"email": LOCKED, "password": f"wrong-password-{attempt}"}
        assert httpx.post(f"{ops.url}/api/auth/login", json=wrong).status_code == 401
    # … and the fifth failure locked the account: even the right password waits now.
    _log_in(page, LOCKED, PASSWORD)
    expect(error).to_have_text(re.compile(r"失败次数过多：请 \d+ 秒后再试"), timeout=WAIT_MS)
    browser_page.screenshot("login-locked")
    right = {"email": LOCKED, "password": PASSWORD}
    assert httpx.post(f"{ops.url}/api/auth/login", json=right).status_code == 429

    _enter(page, ops, ops.owner)
    expect(page.get_by_test_id("signed-in-as")).to_contain_text("所有者")
    page.get_by_test_id("sign-out").click()
    expect(page).to_have_url(re.compile(r"/login$"), timeout=WAIT_MS)
    page.goto(ops.url + "/segments")
    expect(page).to_have_url(re.compile(r"/login$"), timeout=WAIT_MS)
    _clean(browser_page, outside)


def test_an_analyst_sees_no_write_buttons_and_no_clear_identifiers(
    browser_page: BrowserPage, ops: Ops
) -> None:
    page = browser_page.page
    outside = _watch(page, ops)  # type: ignore[arg-type]
    _enter(page, ops, ANALYST, "/journeys")
    expect(page.get_by_test_id("signed-in-as")).to_contain_text("分析师")
    expect(page.locator('[data-testid^="journey-"]').first).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_role("button", name="暂停")).to_have_count(0)
    expect(page.get_by_role("button", name="启动")).to_have_count(0)
    person = ops.http.get(
        "/api/persons", params={"identifier_type": "member_id", "identifier": ops.member_id}
    ).json()
    page.goto(f"{ops.url}/people/{person['person_id']}")
    expect(page.get_by_test_id("person-identities")).to_contain_text(ops.member_id, timeout=WAIT_MS)
    expect(page.get_by_test_id("unmask")).to_have_count(0)
    expect(page.get_by_test_id("note-text")).to_have_count(0)
    assert re.search(r"1\d{10}", page.get_by_test_id("person-identities").inner_text()) is None
    page.goto(ops.url + "/activities")
    expect(page.get_by_test_id("activities")).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_test_id("activity-create")).to_have_count(0)
    expect(page.get_by_test_id("activity-end")).to_have_count(0)
    page.goto(ops.url + "/assistant")
    expect(page.get_by_test_id("kb-table")).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_test_id("kb-save")).to_have_count(0)
    page.goto(ops.url + "/keys")
    expect(page.get_by_test_id("empty-state")).to_contain_text("keys:read", timeout=WAIT_MS)
    expect(page.get_by_test_id("api-keys")).to_have_count(0)
    browser_page.screenshot("analyst-keys")
    _clean(browser_page, outside)


def test_an_operator_shows_identifiers_in_clear_and_it_is_audited(
    browser_page: BrowserPage, ops: Ops
) -> None:
    page = browser_page.page
    outside = _watch(page, ops)  # type: ignore[arg-type]
    person = ops.http.get(
        "/api/persons", params={"identifier_type": "member_id", "identifier": ops.member_id}
    ).json()
    _enter(page, ops, OPERATOR, f"/people/{person['person_id']}")
    identities = page.get_by_test_id("person-identities")
    expect(identities).to_contain_text(ops.member_id, timeout=WAIT_MS)
    masked = [i["masked"] for i in person["identifiers"] if i["type"] == "phone"]
    assert masked, "the sample member has a phone"
    expect(identities).to_contain_text(masked[0])
    page.get_by_test_id("unmask").click()
    expect(identities).to_contain_text(re.compile(r"1\d{10}"), timeout=WAIT_MS)
    audit = ops.http.get("/api/audit", params={"person_id": person["person_id"]}).json()
    views = [e for e in audit["entries"] if e["action"] == "unmasked_view"]
    assert [e["actor"] for e in views] == [f"user:{ops.operator_id}"]
    _clean(browser_page, outside)


def test_create_pause_and_end_an_activity(browser_page: BrowserPage, ops: Ops) -> None:
    page = browser_page.page
    outside = _watch(page, ops)  # type: ignore[arg-type]
    _enter(page, ops, ops.owner, "/activities")
    seeded = ops.http.get("/api/activities").json()
    viewed = next(a for a in seeded if a["kind"] == "lottery")
    stats = ops.http.get(f"/api/activities/{viewed['id']}/stats").json()
    card = page.get_by_test_id(f"activity-{viewed['id']}")
    # Every activity's stats are read first (a DuckDB query each): give a busy machine time.
    expect(card.locator("canvas").first).to_be_visible(timeout=3 * WAIT_MS)
    card.get_by_test_id(f"toggle-funnel-{viewed['id']}").click()
    rows = card.get_by_test_id(f"table-funnel-{viewed['id']}").locator("tbody tr")
    expect(rows).to_have_count(6)
    expect(rows.first).to_contain_text(str(stats["funnel"][0]["persons"]))
    browser_page.screenshot("activities")

    page.get_by_test_id("activity-create").click()
    page.get_by_test_id("activity-name").fill("新人抽奖")
    page.get_by_test_id("activity-points").fill("50")
    page.get_by_test_id("activity-submit").click()
    made = page.locator('[data-testid^="activity-act_"]').filter(has_text="新人抽奖")
    expect(made.get_by_test_id("activity-status")).to_have_text("进行中", timeout=WAIT_MS)
    created = next(a for a in ops.http.get("/api/activities").json() if a["name"] == "新人抽奖")
    assert created["kind"] == "lottery" and created["prizes"][0]["amount"] == 50

    made.get_by_role("button", name="暂停").click()
    expect(made.get_by_test_id("activity-status")).to_have_text("已暂停", timeout=WAIT_MS)
    assert ops.http.get(f"/api/activities/{created['id']}").json()["paused"] is True
    person = ops.http.get(
        "/api/persons", params={"identifier_type": "member_id", "identifier": ops.member_id}
    ).json()
    draw = ops.http.post(
        f"/api/activities/{created['id']}/draw", json={"person_id": person["person_id"]}
    )
    assert draw.status_code == 409 and "paused" in draw.text
    made.get_by_test_id("activity-end").click()
    expect(made.get_by_test_id("activity-status")).to_have_text("已结束", timeout=WAIT_MS)
    expect(made.get_by_test_id("activity-end")).to_have_count(0)

    # A bargain (砍价): a floor above the start price is refused with the domain's message.
    page.get_by_test_id("activity-create").click()
    page.get_by_test_id("activity-kind").click()
    page.get_by_role("option", name="砍价").click()
    page.get_by_test_id("activity-name").fill("好友砍价")
    page.get_by_test_id("activity-start-price-yuan").fill("10")
    page.get_by_test_id("activity-floor-price-yuan").fill("20")
    page.get_by_test_id("activity-submit").click()
    expect(page.get_by_test_id("activity-result")).to_contain_text(
        "floor_price_fen must not exceed start_price_fen", timeout=WAIT_MS
    )
    page.get_by_test_id("activity-floor-price-yuan").fill("2")
    page.get_by_test_id("activity-submit").click()
    bargain = page.locator('[data-testid^="activity-act_"]').filter(has_text="好友砍价")
    expect(bargain.get_by_test_id("activity-status")).to_have_text("进行中", timeout=WAIT_MS)
    made = next(a for a in ops.http.get("/api/activities").json() if a["name"] == "好友砍价")
    assert (made["kind"], made["helpers_needed"]) == ("assist", 5)
    assert (made["start_price_fen"], made["floor_price_fen"]) == (1000, 200)
    _clean(browser_page, outside)


def test_the_knowledge_base_page(browser_page: BrowserPage, ops: Ops, tmp_path: Path) -> None:
    page = browser_page.page
    outside = _watch(page, ops)  # type: ignore[arg-type]
    _enter(page, ops, ops.owner, "/assistant")
    expected = ops.http.post("/api/assistant/ask", json={"question": "满多少包邮"}).json()
    page.get_by_test_id("kb-ask").fill("满多少包邮")
    page.get_by_test_id("kb-ask-submit").click()
    expect(page.get_by_test_id("kb-answer")).to_have_text(expected["text"], timeout=WAIT_MS)
    expect(page.get_by_test_id("kb-verdict")).to_contain_text(
        f"置信度 {expected['confidence'] * 100:.1f}%"
    )
    expect(page.get_by_test_id("kb-verdict")).to_contain_text("转人工：否")
    page.get_by_test_id("kb-ask").fill("火星上有分店吗")
    page.get_by_test_id("kb-ask-submit").click()
    expect(page.get_by_test_id("kb-verdict")).to_contain_text("转人工：是", timeout=WAIT_MS)
    browser_page.screenshot("knowledge-base")

    # An unanswered question becomes a Q&A: click it, write the answer, save.
    page.get_by_test_id("kb-unanswered-table").get_by_text(UNANSWERED).click()
    expect(page.get_by_test_id("kb-question")).to_have_value(UNANSWERED)
    page.get_by_test_id("kb-answer-input").fill("可以，前台免费寄存到打烊。")
    page.get_by_test_id("kb-save").click()
    expect(page.get_by_test_id("kb-table")).to_contain_text(UNANSWERED, timeout=WAIT_MS)
    entries = ops.http.get("/api/assistant/entries").json()
    made = next(e for e in entries if e["question"] == UNANSWERED)
    assert made["answer"] == "可以，前台免费寄存到打烊。"

    # Edit it (search, click the row, change the answer), then delete it.
    page.get_by_test_id("kb-search").fill("寄存")
    rows = page.get_by_test_id("kb-table").locator("tbody tr")
    expect(rows).to_have_count(1)
    rows.first.click()
    expect(page.get_by_test_id("kb-question")).to_have_value(UNANSWERED)
    page.get_by_test_id("kb-answer-input").fill("可以，寄存到晚上十点。")
    page.get_by_test_id("kb-save").click()
    expect(page.get_by_test_id("kb-table")).to_contain_text("寄存到晚上十点", timeout=WAIT_MS)
    assert ops.http.get(f"/api/assistant/entries/{made['id']}").json()["answer"].endswith("十点。")
    page.get_by_test_id("kb-table").get_by_text(UNANSWERED).click()
    page.get_by_test_id("kb-delete").click()
    expect(page.get_by_test_id("kb-table")).not_to_contain_text(UNANSWERED, timeout=WAIT_MS)
    assert ops.http.get(f"/api/assistant/entries/{made['id']}").status_code == 404

    csv = tmp_path / "kb.csv"
    csv.write_text("question,answer\n可以带宠物吗,门店欢迎小型宠物。\n,缺问题\n", encoding="utf-8")
    page.get_by_test_id("kb-upload").locator("input[type=file]").set_input_files(str(csv))
    # The upload, the import and the page's answer take one round trip each: on a loaded
    # 2-core CI box that was once more than WAIT_MS.
    expect(page.get_by_test_id("kb-import-result")).to_contain_text(
        "新增 1 条，更新 0 条，拒绝 1 行", timeout=3 * WAIT_MS
    )
    questions = [e["question"] for e in ops.http.get("/api/assistant/entries").json()]
    assert "可以带宠物吗" in questions
    _clean(browser_page, outside)


def _hostile_data(ops: Ops) -> str:
    """Put HOSTILE into a person's traits and tags, a segment, a journey, an activity and a KB
    answer through the API; answers the person's id."""
    http = ops.http
    sent = httpx.post(
        f"{ops.url}/v1/identify",
        auth=(ops.write_key, ""),
        timeout=30,
        json={
            "messageId": "hostile-identify-1",
            "userId": "hostile-1",
            "traits": {"nickname": HOSTILE, "city": HOSTILE},
        },
    )
    assert sent.status_code == 200, sent.text
    found = httpx.Response(404)
    for _ in range(100):
        found = http.get("/api/persons", params={"identifier_type": "user_id",
                                                 "identifier": "hostile-1"})  # fmt: skip
        if found.status_code == 200 and found.json().get("profile"):
            break
        threading.Event().wait(0.2)
    person_id: str = found.json()["person_id"]
    group = http.post("/api/tags/groups", json={"name": "hostile " + HOSTILE[:60]}).json()
    tag = http.post("/api/tags", json={"group": group["id"], "name": HOSTILE[:100]}).json()
    assert http.post(f"/api/persons/{person_id}/tags", json={"tag": tag["id"]}).status_code < 300
    definition = {"type": "all", "of": [{"type": "computed", "name": "order_count",
                                         "op": "gte", "value": 1}]}  # fmt: skip
    assert http.post("/api/segments", json={"name": HOSTILE, "definition": definition}).is_success
    journey = http.get("/api/journeys").json()
    first = (journey["items"] if isinstance(journey, dict) else journey)[0]
    body = http.get(f"/api/journeys/{first['id']}").json()["definition"] | {"name": HOSTILE}
    assert http.post("/api/journeys", json=body).is_success
    now = utcnow()
    activity = {
        "name": HOSTILE, "kind": "lottery", "starts_at": now.isoformat(),
        "ends_at": now.replace(year=now.year + 1).isoformat(),
        "prizes": [{"name": HOSTILE, "kind": "points", "amount": 5, "weight": 1}],
    }  # fmt: skip
    assert http.post("/api/activities", json=activity).is_success
    entry = {"question": "hostile " + HOSTILE, "answer": HOSTILE}
    assert http.post("/api/assistant/entries", json=entry).is_success
    return person_id


def _shown_as_text(page: Page, where: str) -> None:
    """HOSTILE is on the page as text (``{{7*7}}`` too, not 49) and nothing of it became an
    element."""
    expect(page.get_by_text(HOSTILE).first).to_be_visible(timeout=WAIT_MS)
    assert page.locator("img[src='x']").count() == 0, where
    assert page.locator("svg[onload]").count() == 0, where
    # The page's own scripts carry the data as JSON; an injected one would hold only this.
    scripts = page.locator("script").evaluate_all("s => s.map(e => e.textContent.trim())")
    assert "alert(1)" not in scripts, where


def test_hostile_strings_are_shown_as_text(browser_page: BrowserPage, ops: Ops) -> None:
    page = browser_page.page
    outside = _watch(page, ops)  # type: ignore[arg-type]
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    person_id = _hostile_data(ops)
    _enter(page, ops, ops.owner, f"/people/{person_id}")
    expect(page.get_by_test_id("traits")).to_contain_text(HOSTILE, timeout=WAIT_MS)
    expect(page.get_by_test_id("person-tags")).to_contain_text(HOSTILE[:100])
    _shown_as_text(page, "person")
    browser_page.screenshot("hostile-person")
    for path, testid in (
        ("/segments", "saved-segments"),
        ("/journeys", "page-title"),
        ("/activities", "activities"),
        ("/assistant", "kb-table"),
    ):
        page.goto(ops.url + path)
        _ready(page)
        expect(page.get_by_test_id(testid)).to_be_visible(timeout=WAIT_MS)
        _shown_as_text(page, path)
        browser_page.screenshot(f"hostile{path.replace('/', '-')}")
    assert dialogs == []
    _clean(browser_page, outside)

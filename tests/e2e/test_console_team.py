"""The team & privacy page in a real browser against ``siyu serve`` on the demo brand: the owner
adds an analyst (the first password shown once works), changes their role, hands out a reset
link that sets a new password, reads and filters the audit log, exports a person as JSON and
erases them after typing their id (the receipt shown, the API agreeing); an analyst sees none
of the controls; a signed-in user changes their own password from the header and signs in with
it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
from playwright.sync_api import expect

from tests.e2e.browser import BrowserPage
from tests.e2e.test_console import WAIT_MS, Console, _clean, _ready, _sign_in, _watch, console

# The served demo; Chromium comes from tests/e2e/conftest.py (see test_console_groups.py).
__all__ = ["console"]

ANALYST = "analyst@team.example"
VIEWER = "viewer@team.example"
NEW_PASSWORD = "a password of her own"
OPERATOR = "operator@team.example"


def _login_status(console: Console, email: str, password: str) -> int:
    body = {"email": email, "password": password}
    return httpx.post(f"{console.url}/api/auth/login", json=body, timeout=30).status_code


def _open_team(browser_page: BrowserPage, console: Console) -> None:
    page = browser_page.page
    page.get_by_test_id("nav-team").click()
    _ready(page)
    expect(page.get_by_test_id("page-title")).to_have_text("团队与合规", timeout=WAIT_MS)


def _users_and_roles(browser_page: BrowserPage, console: Console) -> None:
    page = browser_page.page
    users = page.get_by_test_id("team-users")
    expect(users).to_contain_text(console.email, timeout=WAIT_MS)
    page.get_by_test_id("user-email").fill(ANALYST)
    page.get_by_test_id("user-add").click()  # the role defaults to analyst
    secret = page.get_by_test_id("team-secret")
    expect(secret).to_have_text(re.compile(r"^\S{10,}$"), timeout=WAIT_MS)
    assert _login_status(console, ANALYST, secret.inner_text()) == 200
    row = users.locator("tr").filter(has_text=ANALYST)
    expect(row).to_contain_text("分析师", timeout=WAIT_MS)

    page.get_by_test_id("member-pick").click()
    page.get_by_role("option", name=ANALYST).click()
    page.get_by_test_id("member-role").click()
    page.get_by_role("option", name="运营").click()
    page.get_by_test_id("member-set-role").click()
    expect(row).to_contain_text("运营", timeout=WAIT_MS)
    listed = {m["email"]: m["role"] for m in console.http.get("/api/users").json()}
    assert listed[ANALYST] == "operator"
    browser_page.screenshot("team")

    page.get_by_test_id("member-pick").click()  # the controls were drawn afresh
    page.get_by_role("option", name=ANALYST).click()
    page.get_by_test_id("member-reset").click()
    expect(secret).to_contain_text("/password-reset?token=pr_", timeout=WAIT_MS)
    link = secret.inner_text()
    reset = browser_page.context.new_page()
    reset.goto(link)
    _ready(reset)
    reset.get_by_test_id("reset-password").fill(NEW_PASSWORD)
    reset.get_by_test_id("reset-again").fill(NEW_PASSWORD)
    reset.get_by_test_id("reset-submit").click()
    expect(reset.get_by_test_id("reset-done")).to_be_visible(timeout=WAIT_MS)
    reset.close()
    assert _login_status(console, ANALYST, NEW_PASSWORD) == 200


def _audit_log(browser_page: BrowserPage) -> None:
    page = browser_page.page
    page.get_by_test_id("tab-audit").click()
    log = page.get_by_test_id("audit-log")
    for action in ("添加成员", "修改角色", "签发密码重置", "用重置链接设置密码"):
        expect(log).to_contain_text(action, timeout=WAIT_MS)
    expect(log).to_contain_text(ANALYST)
    page.get_by_test_id("audit-action").click()
    page.get_by_role("option", name="修改角色").click()
    page.get_by_test_id("audit-apply").click()
    expect(log).not_to_contain_text("添加成员", timeout=WAIT_MS)
    expect(log.locator("tbody tr")).to_have_count(1)
    expect(log).to_contain_text("role=operator")


def _export_and_erase(browser_page: BrowserPage, console: Console) -> None:
    page = browser_page.page
    person = console.http.get(
        "/api/persons", params={"identifier_type": "member_id", "identifier": console.member_id}
    ).json()
    person_id = person["person_id"]
    page.get_by_test_id("tab-privacy").click()
    page.get_by_test_id("dsr-value").fill(console.member_id)  # member id is the default kind
    page.get_by_test_id("dsr-find").click()
    expect(page.get_by_test_id("dsr-person-id")).to_have_text(person_id, timeout=WAIT_MS)
    with page.expect_download() as download:
        page.get_by_test_id("dsr-export").click()
    doc = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert doc["person_id"] == person_id
    assert console.member_id in {i["value"] for i in doc["identities"]}

    page.get_by_test_id("dsr-erase").click()
    page.get_by_test_id("dsr-erase-typed").fill("not the id")
    page.get_by_test_id("dsr-erase-confirm").click()
    expect(page.get_by_text(f"请输入用户 ID {person_id} 以确认").last).to_be_visible()
    assert console.http.get(f"/api/persons/{person_id}").status_code == 200  # nothing erased
    page.get_by_test_id("dsr-erase-typed").fill(person_id)
    page.get_by_test_id("dsr-erase-confirm").click()
    receipt = page.get_by_test_id("dsr-receipt")
    expect(receipt).to_contain_text(re.compile(r"era_\w+"), timeout=WAIT_MS)
    expect(page.get_by_test_id("dsr-receipt-counts")).to_contain_text("operational.")
    expect(page.get_by_test_id("dsr-erase")).to_be_hidden()  # nothing left to erase
    expect(page.get_by_test_id("dsr-export")).to_be_hidden()
    browser_page.screenshot("erasure-receipt")
    assert console.http.get(f"/api/persons/{person_id}").status_code == 404
    erased = console.http.get("/api/audit", params={"limit": 5}).json()["entries"]
    assert [e["action"] for e in erased[:2]] == ["erase", "export"]
    assert erased[0]["actor"] == erased[1]["actor"] and erased[0]["actor"].startswith("user:")

    page.get_by_test_id("tab-audit").click()  # the tab reads the newest page again
    page.get_by_test_id("audit-action").click()
    page.get_by_role("option", name="全部操作").click()
    page.get_by_test_id("audit-apply").click()
    log = page.get_by_test_id("audit-log")
    expect(log).to_contain_text("删除个人信息", timeout=WAIT_MS)
    expect(log).to_contain_text("导出个人信息")
    expect(log).to_contain_text(console.email)


def test_the_owner_manages_users_reads_the_audit_log_and_erases_a_person(
    browser_page: BrowserPage, console: Console
) -> None:
    outside = _watch(browser_page.page, console)
    _sign_in(browser_page.page, console)
    _open_team(browser_page, console)
    _users_and_roles(browser_page, console)
    _audit_log(browser_page)
    _export_and_erase(browser_page, console)
    _clean(browser_page, outside)


def test_an_analyst_sees_no_user_management_controls(
    browser_page: BrowserPage, console: Console
) -> None:
    page = browser_page.page
    outside = _watch(page, console)
    viewer = {"email": VIEWER, "role": "analyst", "password": console.password}
    assert console.http.post("/api/users", json=viewer).status_code == 201
    _sign_in(page, console, VIEWER, console.password)
    expect(page.get_by_test_id("signed-in-as")).to_contain_text("分析师")
    _open_team(browser_page, console)
    denied = page.get_by_test_id("empty-state")
    expect(denied.filter(has_text="users:read")).to_be_visible(timeout=WAIT_MS)
    page.get_by_test_id("tab-audit").click()
    expect(denied.filter(has_text="audit:read")).to_be_visible(timeout=WAIT_MS)
    page.get_by_test_id("tab-privacy").click()
    expect(denied.filter(has_text="persons:export")).to_be_visible(timeout=WAIT_MS)
    for control in ("team-users", "user-add", "member-remove", "member-set-role", "member-reset",
                    "audit-log", "dsr-find", "dsr-erase"):  # fmt: skip
        expect(page.get_by_test_id(control)).to_have_count(0)
    _clean(browser_page, outside)


def test_a_user_changes_their_own_password_from_the_header(
    browser_page: BrowserPage, console: Console
) -> None:
    page = browser_page.page
    outside = _watch(page, console)
    operator = {"email": OPERATOR, "role": "operator", "password": console.password}
    assert console.http.post("/api/users", json=operator).status_code == 201
    body = {"email": OPERATOR, "password": console.password}
    other = httpx.post(f"{console.url}/api/auth/login", json=body, timeout=30).json()["token"]
    _sign_in(page, console, OPERATOR, console.password)
    page.get_by_test_id("change-password").click()
    error = page.get_by_test_id("account-error")
    page.get_by_test_id("account-current").fill("not the password at all")
    page.get_by_test_id("account-new").fill(NEW_PASSWORD)
    page.get_by_test_id("account-again").fill(NEW_PASSWORD)
    page.get_by_test_id("account-submit").click()
    expect(error).to_have_text("the current password is wrong", timeout=WAIT_MS)
    page.get_by_test_id("account-current").fill(console.password)
    page.get_by_test_id("account-again").fill(NEW_PASSWORD + "!")
    page.get_by_test_id("account-submit").click()
    expect(error).to_have_text("两次输入的新密码不一致", timeout=WAIT_MS)
    page.get_by_test_id("account-again").fill(NEW_PASSWORD)
    page.get_by_test_id("account-submit").click()
    expect(page.get_by_text("密码已修改，其他 1 个会话已退出。")).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_test_id("account-submit")).to_be_hidden()
    mine = httpx.get(
        f"{console.url}/api/auth/me", headers={"Authorization": f"Bearer {other}"}, timeout=30
    )
    assert mine.status_code == 401  # the API session ended; this browser stays signed in
    page.reload()
    _ready(page)
    expect(page.get_by_test_id("signed-in-as")).to_contain_text(OPERATOR, timeout=WAIT_MS)
    page.get_by_test_id("sign-out").click()
    expect(page).to_have_url(re.compile(r"/login"), timeout=WAIT_MS)
    assert _login_status(console, OPERATOR, console.password) == 401
    _sign_in(page, console, OPERATOR, NEW_PASSWORD)
    expect(page.get_by_test_id("signed-in-as")).to_contain_text(OPERATOR)
    _clean(browser_page, outside)

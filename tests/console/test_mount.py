"""The console is mounted at / of the API app without taking anything from the API, and its
pages load nothing from outside the server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from siyu.api.app import create_app
from siyu.console import mount
from siyu.core.config import Settings
from siyu.core.runtime import open_runtime

ASSET = re.compile(r'(?:src|href)="([^"]+)"')
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.IGNORECASE)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    # One app for the module: starting NiceGUI's side of the lifespan costs about a second.
    runtime = open_runtime(Settings(data_dir=tmp_path_factory.mktemp("console")))
    app = create_app(runtime, flush_in_background=False)
    with TestClient(app) as test_client:
        yield test_client
    runtime.close()


def test_api_routes_still_answer_beside_the_console(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert "/v1/batch" in paths
    assert not any(path.startswith("/_nicegui") for path in paths)
    assert client.get("/api/segments").status_code == 401  # still the API's own answer
    unknown = client.get("/api/no-such-thing")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/json")
    assert client.get("/v1/batch").status_code == 405  # POST only, as before the console


def test_signed_out_pages_go_to_the_login_page(client: TestClient) -> None:
    pages = ("/", "/people", "/segments", "/analytics", "/loyalty", "/growth", "/journeys")
    for path in (*pages, "/journeys/jny_x", "/channels", "/keys", "/team"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code in (302, 307), path
        assert response.headers["location"].endswith("/login")


def test_the_password_reset_page_needs_no_sign_in_and_takes_the_token_from_the_link(
    client: TestClient,
) -> None:
    page = client.get("/password-reset?token=pr_not-a-real-one", follow_redirects=False)
    assert page.status_code == 200
    assert "设置新密码" in page.text and "pr_not-a-real-one" in page.text  # the field is filled
    assert EXTERNAL.search(page.text) is None


def test_login_page_is_chinese_and_loads_only_local_assets(client: TestClient) -> None:
    page = client.get("/login")
    assert page.status_code == 200
    assert "登录控制台" in page.text
    assert EXTERNAL.search(page.text) is None
    assets = [url for url in ASSET.findall(page.text) if url.startswith("/")]
    assert any(url.endswith(".js") for url in assets)
    for url in assets:
        response = client.get(url, headers={"Accept-Encoding": "gzip"})
        assert response.status_code == 200, url
        if len(response.content) > 10_000:
            assert response.headers.get("content-encoding") == "gzip", url
        assert "cdn.jsdelivr" not in response.text and "unpkg.com" not in response.text, url


def test_the_session_secret_is_made_once_and_kept_private(tmp_path: Path) -> None:
    first = mount._storage_secret(tmp_path)
    assert len(first) >= 32
    assert mount._storage_secret(tmp_path) == first
    assert (tmp_path / mount.SECRET_FILE).stat().st_mode & 0o777 == 0o600

"""/sdk/siyu.js and friends: gzip, caching, the opt-in test page, CORS on /v1 only."""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from siyu.api.app import create_app
from siyu.api.routes.sdk import load_asset
from siyu.core.clock import utcnow
from siyu.core.config import Settings
from siyu.core.runtime import open_runtime
from siyu.workspaces import service as workspaces


@pytest.fixture
def sdk_client(tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    runtime = open_runtime(Settings(data_dir=tmp_path))
    with runtime.sessions() as session, session.begin():
        keys = workspaces.create_workspace(session=session, name="sdk", now=utcnow())
    with TestClient(create_app(runtime, flush_in_background=False)) as client:
        yield client, keys.write_key
    runtime.close()


def test_siyu_js_is_gzipped_cached_and_revalidated(sdk_client: tuple[TestClient, str]) -> None:
    client, _ = sdk_client
    # httpx asks for gzip and inflates it; the raw stream shows what went over the wire.
    with client.stream("GET", "/sdk/siyu.js", headers={"Accept-Encoding": "gzip"}) as response:
        wire = b"".join(response.iter_raw())
        headers = response.headers
    assert response.status_code == 200
    assert headers["content-encoding"] == "gzip"
    assert headers["content-type"].startswith("application/javascript")
    assert headers["cache-control"] == "public, max-age=3600"
    assert headers["vary"] == "Accept-Encoding"
    plain = gzip.decompress(wire)
    assert plain.startswith(b"/*! siyu.js ")
    assert b"/v1/batch" in plain
    assert len(wire) < 6 * 1024  # the documented budget
    again = client.get("/sdk/siyu.js", headers={"If-None-Match": headers["etag"]})
    assert (again.status_code, again.content) == (304, b"")
    identity = client.get("/sdk/siyu.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in identity.headers
    assert identity.content == plain


def test_miniprogram_sdk_is_served(sdk_client: tuple[TestClient, str]) -> None:
    client, _ = sdk_client
    response = client.get("/sdk/siyu-mp.js")
    assert response.status_code == 200
    shipped = Path(__file__).parents[2] / "sdk" / "miniprogram" / "siyu-mp.js"
    assert response.content == shipped.read_bytes(), "run `make sdk` to copy it into the package"


def test_test_page_is_off_unless_enabled(sdk_client: tuple[TestClient, str]) -> None:
    client, _ = sdk_client
    off = client.get("/sdk/test.html")
    assert off.status_code == 404
    assert "SIYU_SDK_TEST_PAGE" in off.json()["error"]["message"]
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    runtime.settings = runtime.settings.model_copy(update={"sdk_test_page": True})
    on = client.get("/sdk/test.html")
    assert on.status_code == 200
    assert on.headers["cache-control"] == "no-store"
    assert '<script src="/sdk/siyu.js"></script>' in on.text


def test_collect_answers_cors_and_management_does_not(sdk_client: tuple[TestClient, str]) -> None:
    client, write_key = sdk_client
    origin = {"Origin": "https://shop.example.com"}
    preflight = client.options(
        "/v1/batch",
        headers=origin
        | {
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    # What siyu.js sends: text/plain (no preflight), the write key in the body.
    sent = client.post(
        "/v1/batch",
        content=b'{"writeKey": "%s", "batch": [{"type": "track", "event": "E", '
        b'"messageId": "m1", "anonymousId": "a1"}]}' % write_key.encode(),
        headers=origin | {"Content-Type": "text/plain"},
    )
    assert sent.status_code == 200, sent.text
    assert sent.json()["accepted"] == 1
    assert sent.headers["access-control-allow-origin"] == "*"
    refused = client.post("/v1/batch", json={"batch": []}, headers=origin)
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == "*"  # the SDK can read the status
    management = client.get("/api/persons/p_x", headers=origin)
    assert "access-control-allow-origin" not in management.headers


def test_shipped_build_is_from_the_current_source() -> None:
    """siyu/sdk_assets/siyu.js names its source's SHA-256: run `make sdk` after editing it."""
    source = Path(__file__).parents[2] / "sdk" / "web" / "siyu.js"
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    first_line = load_asset("siyu.js").body.split(b"\n", 1)[0].decode()
    assert f"sha256:{digest}" in first_line, "sdk/web/siyu.js changed: run `make sdk`"


def test_assets_are_read_once() -> None:
    assert load_asset("siyu.js") is load_asset("siyu.js")

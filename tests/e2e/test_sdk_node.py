"""The mini-program SDK's own tests under node's test runner (no npm packages), run from
``make test``; its last test sends through a simulated ``wx.request`` to the real app over
HTTP, and what arrived is read back here through the management API."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.sdk_site import Site, events_of, person_of, site_fixture  # noqa: F401

SDK = Path(__file__).parents[2] / "sdk"


@pytest.fixture(scope="module")
def node() -> str:
    found = shutil.which("node")
    if found is None:
        pytest.fail("node is missing: apt-get install -y nodejs (.ci/run does)")
    return found


def test_miniprogram_sdk_under_node(node: str, site: Site, tmp_path: Path) -> None:
    out = tmp_path / "anonymous_id"
    env = os.environ | {
        "SIYU_MP_HOST": site.url,
        "SIYU_MP_WRITE_KEY": site.keys["write_key"],
        "SIYU_MP_OUT": str(out),
    }
    run = subprocess.run(
        [node, "--test", str(SDK / "miniprogram" / "test")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "# fail 0" in run.stdout and "# skipped 0" in run.stdout, run.stdout[-2000:]

    # The openid, the unionid and the anonymous id are one person, with the autotracked events.
    person = person_of(site, "mp_openid", "wxE2E:o-e2e")
    assert person is not None
    assert person_of(site, "unionid", "u-e2e") == person
    assert person_of(site, "anonymous_id", out.read_text()) == person
    events = events_of(site, person)
    names = [e["event"] or f"{e['type']}:{e.get('name') or ''}" for e in events]
    # (Order within a few milliseconds is not kept: each batch's clock-skew correction differs.)
    assert sorted(n for n in names if not n.startswith("identify")) == [
        "Application Opened",
        "Element Tapped",
        "Page Left",
        "pages/index/index",
    ]
    (opened,) = [e for e in events if e["event"] == "Application Opened"]
    assert opened["properties"]["scene"] == 1047
    assert opened["context"]["campaign"]["scene"] == "store42"

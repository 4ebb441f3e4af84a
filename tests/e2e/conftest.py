"""A real ``siyu serve`` process on 127.0.0.1, started and stopped by the test."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest

# The shared headless-Chromium fixtures (browser, browser_page) for every e2e test.
from tests.e2e.browser import browser, browser_page  # noqa: F401


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def siyu(data_dir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    """Run the CLI in a subprocess against ``data_dir``."""
    env = os.environ | {"SIYU_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "siyu", *args],
        env=env,
        capture_output=True,
        check=check,
        timeout=300,
    )


@dataclass
class Server:
    data_dir: Path
    url: str
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = os.environ | {
            "SIYU_DATA_DIR": str(self.data_dir),
            "SIYU_FLUSH_INTERVAL_SECONDS": "0.2",
            "SIYU_SCHEDULE_INTERVAL_SECONDS": "0.5",
            "SIYU_WRITE_KEY_CACHE_SECONDS": "2",
        }
        port = self.url.rsplit(":", 1)[1]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "siyu", "serve", "--host", "127.0.0.1", "--port", port],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("siyu serve did not start")

    def kill(self) -> None:
        """Stop at once, without a graceful shutdown (no final flush)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Server, dict[str, str]]]:
    keys = orjson.loads(siyu(tmp_path, "workspace", "create", "e2e", "--json").stdout)
    srv = Server(tmp_path, f"http://127.0.0.1:{free_port()}")
    srv.start()
    yield srv, keys
    srv.stop()

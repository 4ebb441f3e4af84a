"""The client address behind proxies: headers believed only from trusted proxies, and the
sign-in throttle counting the address that results (a spoofed X-Forwarded-For from an
untrusted client changes nothing)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from siyu.accounts.client_address import client_address
from siyu.api.app import create_app
from siyu.core.config import Settings, trusted_networks
from siyu.core.runtime import open_runtime
from tests.accounts.cheap_argon2 import cheap_argon2  # noqa: F401  (autouse)

PROXIES = trusted_networks("10.0.0.0/8, 192.168.1.5, ::1")


def _client(peer: str, xff: str | None = None, real: str | None = None) -> str | None:
    return client_address(peer=peer, forwarded_for=xff, real_ip=real, trusted=PROXIES)


def test_headers_from_an_untrusted_peer_are_ignored() -> None:
    assert _client("203.0.113.9", xff="1.2.3.4") == "203.0.113.9"
    assert _client("203.0.113.9", real="1.2.3.4") == "203.0.113.9"
    assert client_address(peer="10.0.0.1", forwarded_for="1.2.3.4", real_ip=None, trusted=()) == (
        "10.0.0.1"
    )


def test_forwarded_for_is_read_from_the_right_past_trusted_hops() -> None:
    assert _client("10.0.0.1", xff="1.2.3.4") == "1.2.3.4"
    # The client put "6.6.6.6" in itself; the first proxy appended the real peer 1.2.3.4.
    assert _client("10.0.0.1", xff="6.6.6.6, 1.2.3.4, 10.9.9.9") == "1.2.3.4"
    assert _client("::1", xff="2001:db8::7") == "2001:db8::7"
    # Every hop trusted: the leftmost is the best we know.
    assert _client("10.0.0.1", xff="192.168.1.5, 10.1.1.1") == "192.168.1.5"
    # Garbage stops the walk at the hop that added it.
    assert _client("10.0.0.1", xff="1.2.3.4, not-an-ip, 10.2.2.2") == "10.2.2.2"
    assert _client("10.0.0.1", xff="garbage") == "10.0.0.1"


def test_real_ip_only_without_forwarded_for() -> None:
    assert _client("192.168.1.5", real="5.6.7.8") == "5.6.7.8"
    assert _client("192.168.1.5", xff="1.2.3.4", real="5.6.7.8") == "1.2.3.4"
    assert _client("192.168.1.5", real="nope") == "192.168.1.5"


def test_a_bad_cidr_is_refused_at_start_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"10\.0\.0\.0/33"):
        Settings(data_dir=tmp_path, trusted_proxies="127.0.0.1,10.0.0.0/33")
    assert Settings(data_dir=tmp_path).trusted_proxy_networks() == ()


@pytest.fixture
def app_over(tmp_path: Path) -> Iterator[object]:
    runtime = open_runtime(Settings(data_dir=tmp_path, trusted_proxies="10.0.0.0/8"))
    yield create_app(runtime, flush_in_background=False)
    runtime.close()


def _fail(client: TestClient, n: int, headers: dict[str, str]) -> int:
    # A different email each time: only the address can lock (4 failures per email are free).
    body = {"email": f"nobody{n}@brand.cn", "password": "wrong password"}
    return client.post("/api/auth/login", json=body, headers=headers).status_code


def test_spoofed_forwarded_for_from_an_untrusted_client_still_locks_its_address(
    app_over: object,
) -> None:
    with TestClient(app_over, client=("203.0.113.9", 5000)) as client:  # type: ignore[arg-type]
        statuses = [_fail(client, n, {"X-Forwarded-For": f"198.51.100.{n}"}) for n in range(21)]
        assert statuses == [401] * 20 + [429]
        # A new X-Real-IP does not help either.
        assert _fail(client, 99, {"X-Real-IP": "198.51.100.200"}) == 429


def test_clients_behind_a_trusted_proxy_are_throttled_apart(app_over: object) -> None:
    with TestClient(app_over, client=("10.0.0.2", 5000)) as proxy:  # type: ignore[arg-type]
        statuses = [_fail(proxy, n, {"X-Forwarded-For": "198.51.100.1"}) for n in range(21)]
        assert statuses == [401] * 20 + [429]
        # Another customer behind the same proxy is not locked out with the first.
        assert _fail(proxy, 50, {"X-Forwarded-For": "198.51.100.2, 10.0.0.9"}) == 401
        assert _fail(proxy, 51, {"X-Real-IP": "198.51.100.3"}) == 401

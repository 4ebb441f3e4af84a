"""The HTTP side shared by WeCom and the WeChat official account / mini program APIs.

Both answer JSON with ``errcode``/``errmsg`` and take an ``access_token`` query parameter
that lives two hours. :class:`WechatApi` caches the token until shortly before it expires,
refreshes it once when the server says it is invalid or expired, and maps error codes to
:class:`SendError` (give up) or :class:`RetryableSendError` (try again later).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx

from siyu.channels.models import RetryableSendError, SendError
from siyu.core.clock import utcnow

# -1 system busy; 45009 call frequency over the limit; 45011 per-minute quota; 45033 too
# many concurrent calls; 50001/50002 are not retried (permissions).
RETRYABLE_CODES = frozenset({-1, 45009, 45011, 45033})
# 40014 invalid access_token; 42001 expired; 40001 invalid credential (the MP API's name for
# a bad token); 41001 missing. One refresh, then the error stands.
TOKEN_CODES = frozenset({40001, 40014, 42001, 41001})
TOKEN_MARGIN = timedelta(minutes=5)


class WechatApiError(SendError):
    """The API answered a non-zero errcode that retrying will not fix."""


def raise_for_errcode(body: dict[str, Any], what: str) -> None:
    """Raise the right error for a non-zero ``errcode`` in ``body``."""
    code = int(body.get("errcode", 0) or 0)
    if code == 0:
        return
    message = f"{what}: errcode {code} {body.get('errmsg', '')}".strip()
    if code in RETRYABLE_CODES:
        raise RetryableSendError(message, errcode=code)
    raise WechatApiError(message, errcode=code)


class WechatApi:
    """A token-caching JSON client for one WeCom corp app or one WeChat appid."""

    def __init__(
        self,
        *,
        base_url: str,
        auth_path: str,
        token_params: dict[str, str],
        http: httpx.Client | None = None,
        clock: Callable[[], datetime] = utcnow,
        timeout: float = 10.0,
    ) -> None:
        self._http = http or httpx.Client(base_url=base_url, timeout=timeout)
        self._auth_path = auth_path
        self._token_params = token_params
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at: datetime | None = None

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise RetryableSendError(f"{path}: timed out ({exc})") from None
        except httpx.TransportError as exc:
            raise RetryableSendError(f"{path}: {type(exc).__name__} {exc}") from None
        if response.status_code >= 500 or response.status_code == 429:
            raise RetryableSendError(f"{path}: HTTP {response.status_code}")
        if response.status_code >= 400:
            raise WechatApiError(f"{path}: HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise RetryableSendError(f"{path}: the answer is not JSON") from None
        if not isinstance(body, dict):
            raise WechatApiError(f"{path}: the answer is not a JSON object")
        return body

    def access_token(self, *, force: bool = False) -> str:
        """The cached access token, fetched anew when missing, near expiry or ``force``d."""
        with self._lock:
            now = self._clock()
            fresh = self._expires_at is not None and now < self._expires_at
            if self._token and fresh and not force:
                return self._token
            body = self._request("GET", self._auth_path, params=self._token_params)
            raise_for_errcode(body, "access token")
            token = body.get("access_token")
            if not isinstance(token, str) or not token:
                raise WechatApiError("access token: none in the answer")
            lifetime = timedelta(seconds=int(body.get("expires_in", 7200)))
            self._token, self._expires_at = token, now + lifetime - TOKEN_MARGIN
            return token

    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Call ``path`` with the access token; refresh it once if the server refuses it."""
        for attempt in (1, 2):
            query = {**(params or {}), "access_token": self.access_token(force=attempt == 2)}
            body = self._request(method, path, params=query, json=json)
            code = int(body.get("errcode", 0) or 0)
            if code in TOKEN_CODES and attempt == 1:
                continue
            raise_for_errcode(body, path)
            return body
        raise AssertionError("unreachable")  # pragma: no cover

"""One way for HTTP transports to call a provider and sort its failures into retry or give up."""

from __future__ import annotations

from typing import Any

import httpx

from siyu.channels.models import RetryableSendError, SendError

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def new_client(timeout: httpx.Timeout = DEFAULT_TIMEOUT) -> httpx.Client:
    """An HTTP client with bounded timeouts (never the library's unbounded default)."""
    return httpx.Client(timeout=timeout, follow_redirects=False)


def call(
    client: httpx.Client, method: str, url: str, *, refuse_4xx: bool = True, **kwargs: Any
) -> httpx.Response:
    """Send one request; timeouts, connection errors, 429 and 5xx are retryable, other 4xx not.

    With ``refuse_4xx=False`` a 4xx answer is returned for the caller to read (providers that
    put their error code in the body, like Aliyun).

    Raises:
        RetryableSendError: try again later.
        SendError: the provider refused the request for good.
    """
    try:
        response = client.request(method, url, **kwargs)
    except httpx.TimeoutException as exc:
        raise RetryableSendError(f"timeout calling {url}: {exc}") from None
    except httpx.TransportError as exc:
        raise RetryableSendError(f"cannot reach {url}: {exc}") from None
    if response.status_code == 429 or response.status_code >= 500:
        raise RetryableSendError(f"{url} answered {response.status_code}: {response.text[:200]}")
    if response.status_code >= 400 and refuse_4xx:
        raise SendError(f"{url} answered {response.status_code}: {response.text[:200]}")
    return response


def json_body(response: httpx.Response) -> dict[str, Any]:
    """The response's JSON object; a provider answering anything else is a retryable fault."""
    try:
        body = response.json()
    except ValueError:
        raise RetryableSendError(f"not JSON from the provider: {response.text[:200]}") from None
    if not isinstance(body, dict):
        raise RetryableSendError("the provider's JSON is not an object")
    return body

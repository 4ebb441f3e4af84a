"""The browser SDK: ``/sdk/siyu.js`` (and the mini-program SDK for download), a test page,
and CORS on the collection API so pages of any site may send to it.

The files ship inside the package (``siyu/sdk_assets/``, built from ``sdk/`` by ``make sdk``),
so a customer's server needs no CDN. They are served gzipped when the client accepts it, with a
weak ETag (304 on ``If-None-Match``) and an hour of caching.

``/sdk/test.html`` is a page that loads the SDK, initialises it from its query string
(``?writeKey=…&host=…``) and offers a button, a link, a form and single-page-app navigation;
it answers 404 unless ``SIYU_SDK_TEST_PAGE=1`` (the browser tests set it).
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from siyu.api.deps import RuntimeDep
from siyu.core.errors import NotFoundError

router = APIRouter(prefix="/sdk", tags=["sdk"])

CACHE_CONTROL = "public, max-age=3600"
_TYPES = {".js": "application/javascript; charset=utf-8", ".html": "text/html; charset=utf-8"}


@dataclass(frozen=True)
class Asset:
    """One shipped file, plain and gzipped, with its validator."""

    body: bytes
    gzipped: bytes
    etag: str
    media_type: str


@lru_cache(maxsize=8)
def load_asset(name: str) -> Asset:
    """A file of ``siyu/sdk_assets`` (read and compressed once per process)."""
    body = resources.files("siyu").joinpath("sdk_assets", name).read_bytes()
    digest = hashlib.sha256(body).hexdigest()[:20]
    return Asset(
        body=body,
        gzipped=gzip.compress(body, compresslevel=9, mtime=0),
        etag=f'W/"{digest}"',
        media_type=_TYPES[name[name.rindex(".") :]],
    )


def asset_response(request: Request, name: str) -> Response:
    """``name`` with caching headers; gzipped if accepted; 304 when the client has it."""
    asset = load_asset(name)
    headers = {"ETag": asset.etag, "Cache-Control": CACHE_CONTROL, "Vary": "Accept-Encoding"}
    if asset.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", "").lower():
        headers["Content-Encoding"] = "gzip"
        return Response(asset.gzipped, media_type=asset.media_type, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


@router.get("/siyu.js", summary="The web tracking SDK")
def web_sdk(request: Request) -> Response:
    """Load with ``<script src="/sdk/siyu.js">``; see docs/sdk.md."""
    return asset_response(request, "siyu.js")


@router.get("/siyu-mp.js", summary="The WeChat mini-program SDK (copy it into the project)")
def miniprogram_sdk(request: Request) -> Response:
    """``require('./siyu-mp.js')`` inside the mini program; see docs/sdk.md."""
    return asset_response(request, "siyu-mp.js")


@router.get("/test.html", include_in_schema=False)
def test_page(request: Request, runtime: RuntimeDep) -> Response:
    """A page that exercises the SDK; only with ``SIYU_SDK_TEST_PAGE=1``."""
    if not runtime.settings.sdk_test_page:
        raise NotFoundError("the SDK test page is off (SIYU_SDK_TEST_PAGE=1 turns it on)")
    response = asset_response(request, "test.html")
    response.headers["Cache-Control"] = "no-store"
    return response


class CollectCorsMiddleware:
    """CORS for ``/v1/*`` only: a browser on any origin may send events (a write key is
    public by design: it can only append events). Management routes get no CORS headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=["*"],
            allow_methods=["POST"],
            allow_headers=["Authorization", "Content-Type", "Content-Encoding"],
            max_age=86400,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        collect = scope["type"] == "http" and str(scope["path"]).startswith("/v1/")
        await (self.cors if collect else self.app)(scope, receive, send)

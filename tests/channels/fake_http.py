"""A small real HTTP server on 127.0.0.1 for provider fakes: records requests, asks a handler."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson


@dataclass
class Received:
    """One request the fake server got."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


# (request) -> (status, JSON-able answer, extra headers)
Handler = Callable[[Received], tuple[int, object, dict[str, str]]]


@dataclass
class FakeServer:
    """What a running fake saw, and where it listens."""

    url: str
    received: list[Received] = field(default_factory=list)


@contextmanager
def serve(handler: Handler) -> Iterator[FakeServer]:
    """Run ``handler`` behind a threaded HTTP server on a free port for the ``with`` block."""
    state: FakeServer

    class _Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            got = Received(
                self.command,
                self.path,
                {k.lower(): v for k, v in self.headers.items()},
                self.rfile.read(length),
            )
            state.received.append(got)
            status, answer, headers = handler(got)
            body = orjson.dumps(answer)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # quiet test output
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    state = FakeServer(url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

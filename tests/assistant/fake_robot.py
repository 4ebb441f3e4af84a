"""A fake WeCom group-robot webhook on 127.0.0.1: real HTTP, records what it is sent, and
answers WeCom's errcode (0, or 93000 "invalid webhook key" for any key but the known one;
45009 "too many requests" while ``refuse`` counts down)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

KEY = "robot-key-1"


@dataclass
class RobotState:
    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (key, body)
    done: threading.Event = field(default_factory=threading.Event)
    refuse: int = 0  # refuse this many posts with the known key (rate limited), then take them


@contextmanager
def serve_fake_robot() -> Iterator[tuple[str, RobotState]]:
    """The webhook URL (with the known key) and what the server received."""
    state = RobotState()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            url = urlparse(self.path)
            key = parse_qs(url.query).get("key", [""])[0]
            length = int(self.headers.get("content-length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            ok = url.path == "/cgi-bin/webhook/send" and key == KEY
            answer = {"errcode": 0, "errmsg": "ok"} if ok else {"errcode": 93000, "errmsg": "bad"}
            if ok and state.refuse > 0:
                state.refuse -= 1
                answer = {"errcode": 45009, "errmsg": "api freq out of limit"}
            elif ok:
                state.received.append((key, body))
                state.done.set()
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        yield f"http://127.0.0.1:{port}/cgi-bin/webhook/send?key={KEY}", state
    finally:
        server.shutdown()
        server.server_close()

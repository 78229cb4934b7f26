"""A loopback webhook receiver for tests: answers 200 (or, with ``fail_first``, 500 to the first
POST of each event id) and keeps every ``(headers, body)``."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    """Start it with ``with Receiver() as r:``; ``r.url`` takes POSTs, ``r.requests`` has them."""

    def __init__(self, fail_first: bool = False) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with outer.lock:
                    event = self.headers.get("X-Lmsync-Event-Id", "")
                    first = not any(h.get("X-Lmsync-Event-Id") == event for h, _ in outer.requests)
                    outer.requests.append((dict(self.headers.items()), body))
                self.send_response(500 if fail_first and first else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def events(self, kind: str) -> list[dict[str, Any]]:
        """The payloads received of event *kind*."""
        return [json.loads(b) for _, b in self.requests if json.loads(b)["type"] == kind]

    def __enter__(self) -> "Receiver":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

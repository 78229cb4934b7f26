"""Client-side fault injection for the Canvas simulator: an httpx transport that rewrites the
answers of one endpoint (test helper of test_faults_canvas.py; the data files are faults/*.yaml).

A fault names ``method`` and ``path`` (a regular expression matched against the URL path) and
then either replaces the answer (``status``, ``body`` — a string sent as is or JSON data —
``headers``) or edits it: ``link`` replaces the ``Link`` header (``{self}`` is the requested URL,
``{offsite}`` the same URL on another host), ``transform: empty`` empties the JSON list (edits leave error answers alone).
``skip`` lets the first N matching calls through, ``calls`` limits the fault to N calls after that.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

__all__ = ["CanvasFaultTransport"]


class CanvasFaultTransport(httpx.BaseTransport):
    """Forwards every request to the simulator; while ``active``, matching answers are faulted."""

    def __init__(self, fault: dict[str, Any]) -> None:
        self.inner = httpx.HTTPTransport()
        self.fault = fault
        self.pattern = re.compile(fault.get("path", r"^$"))
        self.active = False
        self.seen = 0
        self.hits = 0

    def _matches(self, request: httpx.Request) -> bool:
        return request.method == self.fault.get("method", "GET") and bool(self.pattern.search(request.url.path))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if not self.active or not self._matches(request):
            return response
        self.seen += 1
        if self.seen <= self.fault.get("skip", 0):
            return response
        if "calls" in self.fault and self.hits >= self.fault["calls"]:
            return response
        if "status" not in self.fault and response.status_code >= 400:  # edits apply to answers, not errors
            return response
        self.hits += 1
        response.read()
        return self._faulted(request, response)

    def _faulted(self, request: httpx.Request, response: httpx.Response) -> httpx.Response:
        f = self.fault
        headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-encoding")}
        content = response.content
        status = response.status_code
        if "status" in f:
            status = f["status"]
            body = f.get("body", "")
            content = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            headers = {"content-type": f.get("content_type", "application/json; charset=utf-8")}
        if f.get("transform") == "empty":
            content = b"[]"
            headers.pop("link", None)
        if "link" in f:
            here = str(request.url)
            offsite = here.replace(f"{request.url.host}:{request.url.port}", "evil.example.com", 1)
            headers["link"] = f["link"].replace("{self}", here).replace("{offsite}", offsite)
        headers.update({k: str(v) for k, v in (f.get("headers") or {}).items()})
        return httpx.Response(status, headers=headers, content=content)

    def close(self) -> None:
        self.inner.close()

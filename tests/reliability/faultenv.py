"""Client-side fault injection for the Moodle simulator: an httpx transport that rewrites the
answer of one web-service function (test helper of test_guard.py)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

import httpx


def _transform(body: Any, how: str, key: str | None) -> Any:
    items = body.get(key) if key and isinstance(body, dict) else body
    if not isinstance(items, list):
        return body
    items = {"half": items[: len(items) // 2], "drop_first": items[1:], "empty": []}[how]
    if key and isinstance(body, dict):
        return {**body, key: items}
    return items


class FaultTransport(httpx.BaseTransport):
    """Forwards every request; while ``active``, the answers of ``fault["function"]`` whose form
    has the ``match`` fields are replaced (``answer``, ``errorcode``) or edited (``transform``
    of the list at ``key``); ``calls`` limits the fault to the first N matching calls."""

    def __init__(self, fault: dict[str, Any]) -> None:
        self.inner = httpx.HTTPTransport()
        self.fault = fault
        self.active = False
        self.hits = 0

    def _matches(self, form: dict[str, list[str]]) -> bool:
        if form.get("wsfunction", [None])[0] != self.fault["function"]:
            return False
        return all(form.get(k, [None])[0] == str(v) for k, v in (self.fault.get("match") or {}).items())

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        form = parse_qs(request.read().decode(), keep_blank_values=True)
        response = self.inner.handle_request(request)
        if not self.active or not self._matches(form):
            return response
        if "calls" in self.fault and self.hits >= self.fault["calls"]:
            return response
        self.hits += 1
        response.read()
        f = self.fault
        if "errorcode" in f:
            body: Any = {"exception": "moodle_exception", "errorcode": f["errorcode"], "message": f["errorcode"]}
        elif "answer" in f:
            body = f["answer"]
        else:
            body = _transform(json.loads(response.content), f["transform"], f.get("key"))
        return httpx.Response(200, headers={"content-type": "application/json"}, content=json.dumps(body).encode())

    def close(self) -> None:
        self.inner.close()

"""The Moodle REST wire format: form-encoded POSTs in PHP bracket syntax, JSON answers.

See ``../shared/moodle-ws/PROTOCOL.md``. The token travels in the POST body only (never in the
URL, so it cannot leak through access logs or redirects).
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import orjson

from connectors.moodle._errors import error_from_body
from engine.errors import AccessDenied, BadResponse, RemoteError
from engine.transport import NULL

__all__ = ["encode_params", "build_request", "parse_response", "endpoint"]

_TITLE = re.compile(rb"<title>(.*?)</title>", re.I | re.S)


def endpoint(base_url: str) -> str:
    """``{site}/webservice/rest/server.php``."""
    return base_url.rstrip("/") + "/webservice/rest/server.php"


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def encode_params(params: dict[str, Any]) -> list[tuple[str, str]]:
    """Structured parameters → ``[(name, value)]`` in PHP bracket syntax.

    ``{"criteria": [{"key": "email", "value": "%"}]}`` → ``[("criteria[0][key]", "email"),
    ("criteria[0][value]", "%")]``. Booleans become 1/0 (Moodle rejects ``true``). An empty
    list or object sends nothing (Moodle cannot receive one). ``None`` is an error.
    """
    out: list[tuple[str, str]] = []

    def walk(value: Any, name: str) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{name}[{k}]")
        elif isinstance(value, list | tuple):
            for i, v in enumerate(value):
                walk(v, f"{name}[{i}]")
        elif value is None:
            raise ValueError(f"parameter {name} is null; Moodle cannot receive null")
        else:
            out.append((name, _scalar(value)))

    for key, value in params.items():
        walk(value, key)
    return out


def build_request(base_url: str, token: str, function: str, params: dict[str, Any]) -> httpx.Request:
    """The POST request for one web-service call."""
    form = [("wstoken", token), ("wsfunction", function), ("moodlewsrestformat", "json"), *encode_params(params)]
    body = httpx.QueryParams(form).__str__().encode()
    return httpx.Request(
        "POST",
        endpoint(base_url),
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
    )


def parse_response(call: str, response: httpx.Response) -> Any:
    """Decode a Moodle answer or raise the typed error it stands for."""
    status = response.status_code
    if status == 403 and not response.content:
        raise AccessDenied("HTTP 403 with an empty body: web services or the REST protocol are disabled on this site", call=call, code="restdisabled")
    if 300 <= status < 400:
        where = response.headers.get("location", "?")
        raise RemoteError(
            f"HTTP {status} redirect to {where}: the configured site URL must match Moodle's wwwroot exactly", call=call, code="redirect"
        )
    ctype = response.headers.get("content-type", "")
    if "html" in ctype or response.content[:15].lstrip().lower().startswith((b"<!doctype", b"<html")):
        title = _TITLE.search(response.content[:4096])
        hint = f" ({title.group(1).decode(errors='replace').strip()[:80]})" if title else ""
        raise BadResponse(f"HTTP {status}: an HTML page instead of JSON{hint}", call=call)
    if status >= 400:
        raise RemoteError(f"HTTP {status}", call=call, code=f"http{status}")
    if "xml" in ctype:
        raise BadResponse("an XML answer: the request did not ask for moodlewsrestformat=json", call=call)
    try:
        payload = orjson.loads(response.content)
    except ValueError as exc:
        raise BadResponse(
            f"invalid or truncated JSON ({exc.msg} at byte {exc.pos} of {len(response.content)})", call=call
        ) from None
    if isinstance(payload, dict) and "exception" in payload:
        raise error_from_body(call, payload)
    return NULL if payload is None else payload

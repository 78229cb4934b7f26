"""Raw passthrough to the integration's own Canvas REST API, with its token injected.

A request ``{method, path, params, data, headers}`` becomes one HTTP request to
``{site}{path}``; *path* must stay under ``/api/v1`` of the site: no scheme, no ``//host``, no
``@``, no backslash, no control character, no fragment and no ``..`` leaving ``/api/v1`` —
checked on the percent-decoded path (decoded repeatedly, so ``%252e%252e`` is caught) and sent
re-encoded from the checked segments. ``params`` go into the query, ``data`` into a form body
(POST/PUT/PATCH), both in Rails bracket syntax. The caller cannot set ``Authorization``,
``Host``, cookies or framing headers, nor an ``access_token`` parameter. Canvas error answers
are returned as data; every credential is redacted from the URL, headers and body. The
shortcut ``{call, data}`` (what ``lmsync passthrough CALL --param k=v`` sends) names an endpoint
template or a path: ``"GET /api/v1/courses/{course_id}"`` with ``data`` ``{"course_id": 1}``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, quote

import httpx

from connectors.canvas._transport import API_PREFIX, encode_params, site_root
from engine.errors import ActionInputInvalid, ActionNotAvailable
from engine.passthrough import BODY_METHODS, PASSTHROUGH_METHODS, refused, safe_headers, send_raw, site_path, strip_secret_params
from engine.store.base import Integration

__all__ = ["passthrough", "site_url", "API_NAME"]

API_NAME = "rest"
_SECRET_KEYS = ("access_token", "api_key")


def site_url(base_url: str, raw_path: str) -> tuple[str, list[tuple[str, str]]]:
    """The absolute URL for *raw_path* (relative to the site, under ``/api/v1``) and its query
    pairs; ``ActionInputInvalid`` for anything that would leave the site or ``/api/v1``."""
    segments, query = site_path(raw_path, "Canvas", start=f"{API_PREFIX}/")
    if segments[:2] != API_PREFIX.strip("/").split("/") or len(segments) < 3:
        raise refused(f"only the REST API under {API_PREFIX}/ can be called")
    scheme, _host, _port, root = site_root(base_url)
    netloc = httpx.URL(base_url).netloc.decode()
    url = f"{scheme}://{netloc}{root}/" + "/".join(quote(s, safe="-._~!$&'()*+,;=:") for s in segments)
    return url, parse_qsl(query, keep_blank_values=True)


def _pairs(value: Any, what: str) -> list[tuple[str, str]]:
    if value is None:
        return []
    if not isinstance(value, dict):
        raise ActionInputInvalid(f"passthrough {what} must be an object")
    try:
        return encode_params(value)
    except ValueError as exc:
        raise ActionInputInvalid(f"passthrough {what}: {exc}") from None


def _from_call(request: dict[str, Any]) -> dict[str, Any]:
    """The shortcut ``{call, data}`` (``lmsync passthrough "GET /api/v1/users/{user_id}" --param
    user_id=self``): the call is an endpoint template or a path (GET); *data* fills the template's
    ``{placeholders}``, the rest is the query (GET, DELETE) or the form body (POST, PUT)."""
    method, sep, path = str(request["call"]).strip().partition(" ")
    if not sep:
        method, path = "GET", method
    method = method.upper()
    rest = dict(request.get("data") or {})
    missing: list[str] = []

    def fill(match: re.Match) -> str:
        if match.group(1) not in rest:
            missing.append(match.group(1))
            return match.group(0)
        return quote(str(rest.pop(match.group(1))), safe=":")

    path = re.sub(r"\{(\w+)\}", fill, path.strip())
    if missing:
        raise ActionInputInvalid(f"passthrough call {request['call']!r}: give {', '.join(missing)} (--param {missing[0]}=…)")
    if method in BODY_METHODS:
        return {**request, "method": method, "path": path, "data": rest or None}
    return {**request, "method": method, "path": path, "params": {**(request.get("params") or {}), **rest}, "data": None}


def build(integration: Integration, request: dict[str, Any], warnings: list[str]) -> httpx.Request:
    """The ``httpx.Request`` for a passthrough *request* (see the module docstring)."""
    if request.get("call"):
        request = _from_call(request)
    method = str(request.get("method") or "GET").upper()
    if method not in PASSTHROUGH_METHODS:
        raise ActionInputInvalid(f"passthrough method must be one of {', '.join(PASSTHROUGH_METHODS)}")
    url, query = site_url(integration.base_url, request.get("path") or "")
    query = strip_secret_params(query + _pairs(request.get("params"), "params"), _SECRET_KEYS, warnings)
    headers = {"Accept": "application/json", **safe_headers(request.get("headers"), warnings),
               "Authorization": f"Bearer {integration.credentials['token']}"}
    data = request.get("data")
    content: bytes | None = None
    if data is not None:
        if method not in BODY_METHODS:
            raise ActionInputInvalid(f"passthrough data cannot be sent with {method}; use params")
        content = str(httpx.QueryParams(strip_secret_params(_pairs(data, "data"), _SECRET_KEYS, warnings))).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    return httpx.Request(method, url, params=query or None, content=content, headers=headers)


def passthrough(integration: Integration, client: httpx.Client, request: dict[str, Any], redact: Callable[[str], str]) -> dict[str, Any]:
    """Send *request* to the integration's Canvas API; ``{url, status, headers, data, warnings}``."""
    if request.get("api") not in (None, API_NAME):
        raise ActionNotAvailable(f"the canvas connector has one passthrough API, {API_NAME!r}")
    warnings: list[str] = []
    http_request = build(integration, request, warnings)
    return send_raw(client, http_request, redact, warnings, site="the Canvas site")

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
from urllib.parse import parse_qsl, quote, unquote

import httpx

from connectors.canvas._transport import API_PREFIX, encode_params, site_root
from engine.errors import ActionInputInvalid, ActionNotAvailable
from engine.passthrough import send_raw
from engine.store.base import Integration

__all__ = ["passthrough", "site_url", "API_NAME"]

API_NAME = "rest"
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_BODY_METHODS = ("POST", "PUT", "PATCH")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_CONTROL = re.compile(r"[\x00-\x20\x7f]")
_DENIED_HEADERS = frozenset({
    "host", "authorization", "proxy-authorization", "cookie", "content-length", "transfer-encoding",
    "connection", "keep-alive", "upgrade", "te", "trailer", "expect", "forwarded", "x-forwarded-for",
    "x-forwarded-host", "x-forwarded-proto", "x-real-ip", "proxy-connection", "content-type",
})
_SECRET_KEYS = ("access_token", "api_key")
_MAX_DECODE = 5


def _invalid(message: str) -> ActionInputInvalid:
    return ActionInputInvalid(f"passthrough path refused: {message}")


def _decoded(path: str) -> str:
    for _ in range(_MAX_DECODE):
        nxt = unquote(path)
        if nxt == path:
            return path
        path = nxt
    raise _invalid("too many levels of percent-encoding")


def site_url(base_url: str, raw_path: str) -> tuple[str, list[tuple[str, str]]]:
    """The absolute URL for *raw_path* (relative to the site, under ``/api/v1``) and its query
    pairs; ``ActionInputInvalid`` for anything that would leave the site or ``/api/v1``."""
    if not isinstance(raw_path, str) or not raw_path.startswith("/"):
        raise _invalid("the path must start with '/api/v1/' (it is relative to the Canvas site)")
    path, _, query = raw_path.partition("?")
    decoded = _decoded(path)
    if _CONTROL.search(decoded) or "#" in raw_path:
        raise _invalid("white space, control characters and fragments are not allowed")
    if decoded.startswith("//") or "\\" in decoded or "@" in decoded or "://" in decoded or _SCHEME.match(decoded.lstrip("/")):
        raise _invalid("the path must stay on the integration's Canvas site")
    segments: list[str] = []
    for part in decoded.split("/")[1:]:
        if part == "..":
            if not segments:
                raise _invalid("'..' would leave the Canvas site")
            segments.pop()
        elif part not in ("", "."):
            segments.append(part)
    if segments[:2] != API_PREFIX.strip("/").split("/") or len(segments) < 3:
        raise _invalid(f"only the REST API under {API_PREFIX}/ can be called")
    if _CONTROL.search(unquote(query)) or "\\" in unquote(query):
        raise _invalid("the query string contains control characters")
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


def _headers(given: Any, warnings: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in (given or {}).items():
        if not isinstance(name, str) or not isinstance(value, str) or _CONTROL.sub("", name) != name or "\n" in value or "\r" in value:
            raise ActionInputInvalid(f"passthrough header {name!r} is not a valid header")
        if name.lower() in _DENIED_HEADERS:
            warnings.append(f"header {name} was dropped: lmsync sets it")
            continue
        out[name] = value
    return out


def _strip_secrets(pairs: list[tuple[str, str]], warnings: list[str]) -> list[tuple[str, str]]:
    kept = [(k, v) for k, v in pairs if k.lower() not in _SECRET_KEYS]
    if len(kept) != len(pairs):
        warnings.append("a token parameter was dropped: lmsync sends the integration's token")
    return kept


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
    if method in _BODY_METHODS:
        return {**request, "method": method, "path": path, "data": rest or None}
    return {**request, "method": method, "path": path, "params": {**(request.get("params") or {}), **rest}, "data": None}


def build(integration: Integration, request: dict[str, Any], warnings: list[str]) -> httpx.Request:
    """The ``httpx.Request`` for a passthrough *request* (see the module docstring)."""
    if request.get("call"):
        request = _from_call(request)
    method = str(request.get("method") or "GET").upper()
    if method not in _METHODS:
        raise ActionInputInvalid(f"passthrough method must be one of {', '.join(_METHODS)}")
    url, query = site_url(integration.base_url, request.get("path") or "")
    query = _strip_secrets(query + _pairs(request.get("params"), "params"), warnings)
    headers = {"Accept": "application/json", **_headers(request.get("headers"), warnings),
               "Authorization": f"Bearer {integration.credentials['token']}"}
    data = request.get("data")
    content: bytes | None = None
    if data is not None:
        if method not in _BODY_METHODS:
            raise ActionInputInvalid(f"passthrough data cannot be sent with {method}; use params")
        content = str(httpx.QueryParams(_strip_secrets(_pairs(data, "data"), warnings))).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    return httpx.Request(method, url, params=query or None, content=content, headers=headers)


def passthrough(integration: Integration, client: httpx.Client, request: dict[str, Any], redact: Callable[[str], str]) -> dict[str, Any]:
    """Send *request* to the integration's Canvas API; ``{url, status, headers, data, warnings}``."""
    if request.get("api") not in (None, API_NAME):
        raise ActionNotAvailable(f"the canvas connector has one passthrough API, {API_NAME!r}")
    warnings: list[str] = []
    http_request = build(integration, request, warnings)
    return send_raw(client, http_request, redact, warnings, site="the Canvas site")

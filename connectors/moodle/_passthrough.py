"""Raw passthrough to the integration's own Moodle site, with its token injected.

A request ``{method, path, params, data, headers}`` (or the shortcut ``{call, data}`` naming a
web-service function) becomes one HTTP request to ``{site}{path}``. The path is checked so the
request cannot leave the site: no scheme, no ``//host``, no ``@``, no backslash, no control
character, no fragment, and no ``..`` that climbs above the site's own path — checked on the
percent-decoded path (repeatedly decoded, so ``%252e%252e`` is caught too) and sent exactly as
checked. The caller cannot set the token, ``Host``, auth or framing headers. Moodle error bodies
are returned as data (they are answers, not lmsync failures); every credential is redacted from
the URL, the headers and the body.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import httpx

from connectors.moodle._transport import encode_params, endpoint
from engine.errors import ActionInputInvalid, ActionNotAvailable
from engine.passthrough import send_raw
from engine.store.base import Integration

__all__ = ["passthrough", "site_url", "REST_PATH", "API_NAME"]

API_NAME = "rest"
REST_PATH = "/webservice/rest/server.php"
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_BODY_METHODS = ("POST", "PUT", "PATCH")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_CONTROL = re.compile(r"[\x00-\x20\x7f]")
_DENIED_HEADERS = frozenset({
    "host", "authorization", "proxy-authorization", "cookie", "content-length", "transfer-encoding",
    "connection", "keep-alive", "upgrade", "te", "trailer", "expect", "forwarded", "x-forwarded-for",
    "x-forwarded-host", "x-forwarded-proto", "x-real-ip", "proxy-connection",
})
_SECRET_KEYS = ("wstoken", "token", "privatetoken")
_MAX_DECODE = 5


def _invalid(message: str) -> ActionInputInvalid:
    return ActionInputInvalid(f"passthrough path refused: {message}")


def _decoded(path: str) -> str:
    """*path* percent-decoded until stable (double encoding cannot hide anything)."""
    for _ in range(_MAX_DECODE):
        nxt = unquote(path)
        if nxt == path:
            return path
        path = nxt
    raise _invalid("too many levels of percent-encoding")


def _check_path(raw: str) -> tuple[list[str], str]:
    """(path segments relative to the site, query string) of a caller's *raw* path."""
    if not isinstance(raw, str) or not raw.startswith("/"):
        raise _invalid("the path must start with '/' (it is relative to the Moodle site)")
    path, _, query = raw.partition("?")
    decoded = _decoded(path)
    if _CONTROL.search(decoded) or "#" in raw:
        raise _invalid("white space, control characters and fragments are not allowed")
    if decoded.startswith("//") or "\\" in decoded or "@" in decoded or _SCHEME.match(decoded.lstrip("/")) or "://" in decoded:
        raise _invalid("the path must stay on the integration's Moodle site")
    segments: list[str] = []
    for part in decoded.split("/")[1:]:
        if part == "..":
            if not segments:
                raise _invalid("'..' would leave the Moodle site's path")
            segments.pop()
        elif part not in ("", "."):
            segments.append(part)
    if _CONTROL.search(unquote(query)) or "\\" in unquote(query):
        raise _invalid("the query string contains control characters")
    return segments, query


def site_url(base_url: str, raw_path: str) -> tuple[str, list[tuple[str, str]]]:
    """The absolute URL for *raw_path* on the site at *base_url*, and the query pairs in it.

    Raises ``ActionInputInvalid`` for any path that would reach another host or climb above the
    site's path. The result is re-encoded from the checked segments, so what is sent is exactly
    what was checked."""
    segments, query = _check_path(raw_path)
    site = urlsplit(base_url.rstrip("/"))
    url = f"{site.scheme}://{site.netloc}{site.path}/" + "/".join(quote(s, safe="-._~!$&'()*+,;=:") for s in segments)
    final, default = httpx.URL(url), {"http": 80, "https": 443}.get(site.scheme)
    same_origin = (final.scheme, final.host, final.port or default) == (site.scheme, (site.hostname or "").lower(), site.port or default)
    if not same_origin or not final.path.startswith(site.path or "/"):
        raise _invalid("the path must stay on the integration's Moodle site")
    return url, parse_qsl(query, keep_blank_values=True)


def _form(data: Any) -> list[tuple[str, str]]:
    if data is None:
        return []
    if not isinstance(data, dict):
        raise ActionInputInvalid("passthrough data must be an object (sent form-encoded, PHP bracket syntax) or a string")
    try:
        return encode_params(data)
    except ValueError as exc:
        raise ActionInputInvalid(f"passthrough data: {exc}") from None


def _headers(given: Any, warnings: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in (given or {}).items():
        if not isinstance(name, str) or not isinstance(value, str) or _CONTROL.sub("", name) != name or "\n" in value or "\r" in value:
            raise ActionInputInvalid(f"passthrough header {name!r} is not a valid header")
        if name.lower() in _DENIED_HEADERS or name.lower() == "content-type":
            warnings.append(f"header {name} was dropped: lmsync sets it")
            continue
        out[name] = value
    return out


def _strip_secrets(pairs: list[tuple[str, str]], warnings: list[str]) -> list[tuple[str, str]]:
    kept = [(k, v) for k, v in pairs if k.lower() not in _SECRET_KEYS]
    if len(kept) != len(pairs):
        warnings.append("a token parameter was dropped: lmsync injects the integration's token")
    return kept


def build(integration: Integration, request: dict[str, Any], warnings: list[str]) -> httpx.Request:
    """The ``httpx.Request`` for a passthrough *request* (see the module docstring)."""
    method = str(request.get("method") or "POST").upper()
    if method not in _METHODS:
        raise ActionInputInvalid(f"passthrough method must be one of {', '.join(_METHODS)}")
    data = request.get("data")
    if request.get("call"):
        data = {"wsfunction": request["call"], **(data or {})}
    path = request.get("path") or REST_PATH
    url, query = site_url(integration.base_url, path)
    params = request.get("params") or {}
    if not isinstance(params, dict):
        raise ActionInputInvalid("passthrough params must be an object")
    query = _strip_secrets(query + _form(params), warnings)
    headers = {"Accept": "application/json", **_headers(request.get("headers"), warnings)}
    token = integration.credentials["token"]
    is_rest = url == endpoint(integration.base_url)
    content: bytes | None = None
    if isinstance(data, str):
        content = data.encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        query.append(("wstoken", token))
    elif method in _BODY_METHODS:
        form = _strip_secrets(_form(data), warnings)
        if is_rest and not any(k == "moodlewsrestformat" for k, _ in form + query):
            form.append(("moodlewsrestformat", "json"))
        content = str(httpx.QueryParams([("wstoken", token), *form])).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    else:
        if data is not None:
            raise ActionInputInvalid(f"passthrough data cannot be sent with {method}; use params")
        if is_rest and not any(k == "moodlewsrestformat" for k, _ in query):
            query.append(("moodlewsrestformat", "json"))
        query.append(("wstoken", token))
    return httpx.Request(method, url, params=query or None, content=content, headers=headers)


def passthrough(integration: Integration, client: httpx.Client, request: dict[str, Any], redact: Callable[[str], str]) -> dict[str, Any]:
    """Send *request* to the integration's site; ``{url, status, headers, data, warnings}``."""
    if request.get("api") not in (None, API_NAME):
        raise ActionNotAvailable(f"the moodle connector has one passthrough API, {API_NAME!r}")
    warnings: list[str] = []
    http_request = build(integration, request, warnings)
    return send_raw(client, http_request, redact, warnings, site="the Moodle site")

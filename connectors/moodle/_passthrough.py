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

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import httpx

from connectors.moodle._transport import encode_params, endpoint
from engine.errors import ActionInputInvalid, ActionNotAvailable
from engine.passthrough import BODY_METHODS, PASSTHROUGH_METHODS, refused, safe_headers, send_raw, site_path, strip_secret_params
from engine.store.base import Integration

__all__ = ["passthrough", "site_url", "REST_PATH", "API_NAME"]

API_NAME = "rest"
REST_PATH = "/webservice/rest/server.php"
_SECRET_KEYS = ("wstoken", "token", "privatetoken")


def site_url(base_url: str, raw_path: str) -> tuple[str, list[tuple[str, str]]]:
    """The absolute URL for *raw_path* on the site at *base_url*, and the query pairs in it.

    Raises ``ActionInputInvalid`` for any path that would reach another host or climb above the
    site's path. The result is re-encoded from the checked segments, so what is sent is exactly
    what was checked."""
    segments, query = site_path(raw_path, "Moodle")
    site = urlsplit(base_url.rstrip("/"))
    url = f"{site.scheme}://{site.netloc}{site.path}/" + "/".join(quote(s, safe="-._~!$&'()*+,;=:") for s in segments)
    final, default = httpx.URL(url), {"http": 80, "https": 443}.get(site.scheme)
    same_origin = (final.scheme, final.host, final.port or default) == (site.scheme, (site.hostname or "").lower(), site.port or default)
    if not same_origin or not final.path.startswith(site.path or "/"):
        raise refused("the path must stay on the integration's Moodle site")
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


def build(integration: Integration, request: dict[str, Any], warnings: list[str]) -> httpx.Request:
    """The ``httpx.Request`` for a passthrough *request* (see the module docstring)."""
    method = str(request.get("method") or "POST").upper()
    if method not in PASSTHROUGH_METHODS:
        raise ActionInputInvalid(f"passthrough method must be one of {', '.join(PASSTHROUGH_METHODS)}")
    data = request.get("data")
    if request.get("call"):
        data = {"wsfunction": request["call"], **(data or {})}
    path = request.get("path") or REST_PATH
    url, query = site_url(integration.base_url, path)
    params = request.get("params") or {}
    if not isinstance(params, dict):
        raise ActionInputInvalid("passthrough params must be an object")
    query = strip_secret_params(query + _form(params), _SECRET_KEYS, warnings)
    headers = {"Accept": "application/json", **safe_headers(request.get("headers"), warnings)}
    token = integration.credentials["token"]
    is_rest = url == endpoint(integration.base_url)
    content: bytes | None = None
    if isinstance(data, str):
        content = data.encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        query.append(("wstoken", token))
    elif method in BODY_METHODS:
        form = strip_secret_params(_form(data), _SECRET_KEYS, warnings)
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

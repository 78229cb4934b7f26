"""The Canvas REST wire format: endpoint templates, Rails bracket parameters, Link-header pages.

A call name is an endpoint template, ``"GET /api/v1/accounts/{account_id}/users"``. Path
parameters are taken from the params (and removed from them); the rest become the query string
(GET, DELETE) or a form body (POST, PUT), lists in Canvas's ``key[]=value`` syntax and nested
objects as ``key[sub]=value`` (``include[]=email``, ``course[name]=…``). The token travels in
the ``Authorization: Bearer`` header only, never in a URL.

A next page is ``{"__url__": url}`` (``engine.spec.NEXT_URL_PARAM``): the URL a previous
answer's ``Link: rel="next"`` named, sent as given once it is checked to be on the
integration's site (same scheme, host and port) and under its ``/api/v1``.

A JSON list answer becomes ``{"items": [...], "next": <rel="next" URL or null>}`` so specs say
``records: items`` and ``pagination: {type: next_url, next: next}``.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import orjson

from connectors.canvas._errors import error_from_response
from engine.errors import BadResponse, PaginationError, RemoteError
from engine.spec import NEXT_URL_PARAM
from engine.transport import NULL

__all__ = ["API_PREFIX", "METHODS", "split_call", "encode_params", "build_request", "parse_response",
           "check_site_url", "site_root"]

API_PREFIX = "/api/v1"
METHODS = ("GET", "POST", "PUT", "DELETE")
_BODY_METHODS = ("POST", "PUT")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_TITLE = re.compile(rb"<title>(.*?)</title>", re.I | re.S)


def split_call(call: str) -> tuple[str, str]:
    """``("GET", "/api/v1/…/{x}")`` of a call name; ``ValueError`` naming the call when malformed."""
    method, _, template = call.strip().partition(" ")
    if method not in METHODS or not template.startswith(API_PREFIX + "/"):
        raise ValueError(f"{call!r} is not a Canvas endpoint template ('<{'|'.join(METHODS)}> /api/v1/…')")
    return method, template


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def encode_params(params: dict[str, Any]) -> list[tuple[str, str]]:
    """Structured parameters → ``[(name, value)]`` in Rails bracket syntax.

    ``{"include": ["email"], "course": {"name": "X"}}`` → ``[("include[]", "email"),
    ("course[name]", "X")]``. Booleans become ``true``/``false``; ``None`` is left out (Canvas
    reads a missing parameter as "not given")."""
    out: list[tuple[str, str]] = []

    def walk(value: Any, name: str) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{name}[{k}]")
        elif isinstance(value, list | tuple):
            for v in value:
                if isinstance(v, dict | list | tuple):
                    raise ValueError(f"parameter {name}: a list of objects cannot be sent in Rails bracket syntax")
                walk(v, f"{name}[]")
        elif value is not None:
            out.append((name, _scalar(value)))

    for key, value in params.items():
        walk(value, key)
    return out


def site_root(base_url: str) -> tuple[str, str, int | None, str]:
    """``(scheme, host, port, path)`` of the integration's site (port: the scheme's default if none)."""
    parts = urlsplit(base_url.rstrip("/"))
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default, parts.path.rstrip("/")


def check_site_url(base_url: str, url: str) -> httpx.URL:
    """*url* as an ``httpx.URL`` if it is on the site of *base_url* and under its ``/api/v1``;
    ``ValueError`` saying why not (a next-page link pointing elsewhere is never followed)."""
    try:
        target = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise ValueError(f"next-page URL {url!r} is not a URL ({exc})") from None
    scheme, host, port, path = site_root(base_url)
    default = {"http": 80, "https": 443}.get(target.scheme)
    if (target.scheme, target.host.lower(), target.port or default) != (scheme, host, port):
        raise ValueError(f"next-page URL {url!r} is not on the integration's site {base_url}")
    if target.userinfo or not target.path.startswith(path + API_PREFIX + "/") or "/../" in target.path + "/":
        raise ValueError(f"next-page URL {url!r} is not under {path + API_PREFIX} of the integration's site")
    return target


def _path(template: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    rest = dict(params)

    def fill(match: re.Match) -> str:
        name = match.group(1)
        value = rest.pop(name, None)
        if value is None or value == "":
            raise ValueError(f"{template}: path parameter {name!r} is missing")
        return quote(_scalar(value), safe=":")

    return _PLACEHOLDER.sub(fill, template), rest


def build_request(base_url: str, token: str, call: str, params: dict[str, Any]) -> httpx.Request:
    """The HTTP request for one call (see the module docstring)."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    method, template = split_call(call)
    if NEXT_URL_PARAM in params:
        try:
            url = check_site_url(base_url, str(params[NEXT_URL_PARAM]))
        except ValueError as exc:  # never followed, never retried: the read fails, nothing is marked deleted
            raise PaginationError(f"{call}: {exc}") from None
        return httpx.Request(method, url, headers=headers)
    path, rest = _path(template, params)
    url = base_url.rstrip("/") + path
    pairs = encode_params(rest)
    if method in _BODY_METHODS:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        return httpx.Request(method, url, content=str(httpx.QueryParams(pairs)).encode(), headers=headers)
    return httpx.Request(method, url, params=pairs or None, headers=headers)


def _decode(call: str, response: httpx.Response) -> Any:
    ctype = response.headers.get("content-type", "")
    head = response.content[:64].lstrip().lower()
    if "html" in ctype or head.startswith((b"<!doctype", b"<html")):
        title = _TITLE.search(response.content[:4096])
        hint = f" ({title.group(1).decode(errors='replace').strip()[:80]})" if title else ""
        raise BadResponse(f"HTTP {response.status_code}: an HTML page instead of JSON{hint}", call=call)
    if not response.content.strip():
        return NULL
    try:
        return orjson.loads(response.content)
    except ValueError as exc:
        kind = ctype.split(";")[0] or "no content type"
        raise BadResponse(f"HTTP {response.status_code}: invalid or truncated JSON ({kind}; {exc.msg} at byte {exc.pos} "
                          f"of {len(response.content)})", call=call) from None


def parse_response(call: str, response: httpx.Response) -> Any:
    """Decode a Canvas answer (lists as ``{"items", "next"}``) or raise the typed error it stands for."""
    status = response.status_code
    if 300 <= status < 400:
        where = response.headers.get("location", "?")
        raise RemoteError(f"HTTP {status} redirect to {where}: the site URL must be the Canvas root "
                          "(e.g. https://school.instructure.com)", call=call, code="redirect")
    if status >= 400:
        exc = error_from_response(call, response)
        if getattr(exc, "code", None) == "not_module_based" and call.endswith("/bulk_user_progress"):
            # a course without module completion requirements: nobody has module progress there
            return {"items": [], "next": None}
        raise exc
    payload = _decode(call, response)
    if isinstance(payload, list):
        return {"items": payload, "next": _next_link(call, response)}
    return payload


def _next_link(call: str, response: httpx.Response) -> str | None:
    """The ``rel="next"`` URL of the answer's Link header; None on the last page. A Link header
    that is there but names no relation could hide more pages: a ``BadResponse`` (retried, then
    the run fails), never a silently shorter list."""
    header = response.headers.get("link")
    if header is None:
        return None
    links = response.links
    if not links or not all(link.get("rel") and link.get("url") for link in links.values()):
        raise BadResponse(f"unreadable Link header {header[:120]!r}: cannot tell whether more pages follow", call=call)
    return links.get("next", {}).get("url") or None

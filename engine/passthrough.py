"""Raw requests to an integration's remote system, through its connector (``lmsync_passthrough``).

The request is ``{method, path, params, data, headers}`` as in the contract's
``POST /passthrough/{tool}/{api}`` (plus ``api``, the ``{api}`` path part); a connector may also
accept ``{call, data}`` naming one remote function (``lmsync passthrough FUNCTION`` sends that).
The connector injects the credentials and refuses paths that leave the integration's site; the
engine checks the request's shape and redacts every credential from the whole answer once more.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import httpx

from engine.errors import ActionInputInvalid, RemoteTimeout, RemoteUnreachable
from engine.store.base import Integration

__all__ = ["run_passthrough", "redact_json", "send_raw", "PASSTHROUGH_METHODS", "BODY_METHODS", "refused", "site_path",
           "safe_headers", "strip_secret_params"]

PASSTHROUGH_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
BODY_METHODS = ("POST", "PUT", "PATCH")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_CONTROL = re.compile(r"[\x00-\x20\x7f]")
# headers a caller may not set: lmsync sets them (credentials, framing, the body's type)
_DENIED_HEADERS = frozenset({
    "host", "authorization", "proxy-authorization", "cookie", "content-length", "transfer-encoding",
    "connection", "keep-alive", "upgrade", "te", "trailer", "expect", "forwarded", "x-forwarded-for",
    "x-forwarded-host", "x-forwarded-proto", "x-real-ip", "proxy-connection", "content-type",
})
_MAX_DECODE = 5


def redact_json(value: Any, redact: Callable[[str], str]) -> Any:
    """*value* (JSON-serialisable) with every credential replaced, at any depth."""
    text = json.dumps(value, default=str)
    cleaned = redact(text)
    return value if cleaned == text else json.loads(cleaned)


def _checked(request: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(request, dict):
        raise ActionInputInvalid("a passthrough request is a JSON object")
    method = str(request.get("method") or "POST").upper()
    if method not in PASSTHROUGH_METHODS:
        raise ActionInputInvalid(f"method must be one of {', '.join(PASSTHROUGH_METHODS)}")
    if not request.get("path") and not request.get("call"):
        raise ActionInputInvalid("a passthrough request needs a path (or a call)")
    for key in ("params", "headers"):
        if request.get(key) is not None and not isinstance(request[key], dict):
            raise ActionInputInvalid(f"{key} must be an object")
    return {**request, "method": method}


def run_passthrough(engine: Any, integration: Integration, request: dict[str, Any]) -> dict[str, Any]:
    """Send *request* to *integration*'s remote through its connector.

    Returns ``{url, status, headers, data, warnings}`` with credentials redacted. Raises
    ``ActionInputInvalid`` for a malformed or refused request (nothing was sent),
    ``ActionNotAvailable`` if the connector has no passthrough, ``TransportError`` if the
    remote could not be reached. *engine* is a ``SyncEngine`` (its plugins and HTTP settings)."""
    request = _checked(request)
    transport = engine.transport(integration)
    try:
        result = engine.pm.hook.lmsync_passthrough(integration=integration, transport=transport, request=request)
    finally:
        transport.close()
    result.setdefault("warnings", [])
    return redact_json(result, transport.redact)


def _body(response: httpx.Response, redact: Callable[[str], str]) -> Any:
    text = redact(response.text)
    if "json" in response.headers.get("content-type", "") or text[:1] in ("{", "["):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def send_raw(client: httpx.Client, request: httpx.Request, redact: Callable[[str], str], warnings: list[str],
             site: str = "the site") -> dict[str, Any]:
    """Send a connector's passthrough *request* as built; ``{url, status, headers, data,
    warnings}`` with every credential redacted (headers kept, repeated ones as lists; a JSON body
    decoded). For connectors' ``lmsync_passthrough``; the remote's own errors are data here."""
    try:
        response = client.send(request)
    except httpx.TimeoutException:
        raise RemoteTimeout(f"no answer from {site}", call="passthrough") from None
    except httpx.TransportError as exc:
        raise RemoteUnreachable(redact(f"connection failed: {exc.__class__.__name__}: {exc}"), call="passthrough") from None
    headers: dict[str, Any] = {}
    for name, value in response.headers.multi_items():
        value = redact(value)
        if name in headers:
            headers[name] = [*headers[name], value] if isinstance(headers[name], list) else [headers[name], value]
        else:
            headers[name] = value
    return {"url": redact(str(request.url)), "status": response.status_code, "headers": headers,
            "data": _body(response, redact), "warnings": warnings}


# --- request hygiene for connectors' ``lmsync_passthrough`` ---------------------------------


def refused(message: str) -> ActionInputInvalid:
    """The error of a passthrough path that is refused (nothing was sent)."""
    return ActionInputInvalid(f"passthrough path refused: {message}")


def _decoded(path: str) -> str:
    """*path* percent-decoded until stable (double encoding cannot hide anything)."""
    for _ in range(_MAX_DECODE):
        nxt = unquote(path)
        if nxt == path:
            return path
        path = nxt
    raise refused("too many levels of percent-encoding")


def site_path(raw: Any, site: str, start: str = "/") -> tuple[list[str], str]:
    """``(path segments relative to the site, query string)`` of a caller's *raw* path, checked
    on its percent-decoded form: no scheme, ``//host``, ``@``, backslash, control character,
    fragment, or ``..`` climbing above the site. *site* names the LMS in messages; *start*
    is the prefix the path must begin with. A connector re-encodes the URL from the segments, so
    what is sent is exactly what was checked."""
    if not isinstance(raw, str) or not raw.startswith("/"):
        raise refused(f"the path must start with {start!r} (it is relative to the {site} site)")
    path, _, query = raw.partition("?")
    decoded = _decoded(path)
    if _CONTROL.search(decoded) or "#" in raw:
        raise refused("white space, control characters and fragments are not allowed")
    if decoded.startswith("//") or "\\" in decoded or "@" in decoded or "://" in decoded or _SCHEME.match(decoded.lstrip("/")):
        raise refused(f"the path must stay on the integration's {site} site")
    segments: list[str] = []
    for part in decoded.split("/")[1:]:
        if part == "..":
            if not segments:
                raise refused(f"'..' would leave the {site} site's path")
            segments.pop()
        elif part not in ("", "."):
            segments.append(part)
    if _CONTROL.search(unquote(query)) or "\\" in unquote(query):
        raise refused("the query string contains control characters")
    return segments, query


def safe_headers(given: Any, warnings: list[str]) -> dict[str, str]:
    """The caller's headers without those lmsync sets (each dropped one is a warning); a header
    with a control character in its name or a line break in its value is refused."""
    out: dict[str, str] = {}
    for name, value in (given or {}).items():
        if not isinstance(name, str) or not isinstance(value, str) or _CONTROL.sub("", name) != name or "\n" in value or "\r" in value:
            raise ActionInputInvalid(f"passthrough header {name!r} is not a valid header")
        if name.lower() in _DENIED_HEADERS:
            warnings.append(f"header {name} was dropped: lmsync sets it")
            continue
        out[name] = value
    return out


def strip_secret_params(pairs: list[tuple[str, str]], names: tuple[str, ...], warnings: list[str]) -> list[tuple[str, str]]:
    """*pairs* without the parameters named *names* (the connector sends the integration's own)."""
    kept = [(k, v) for k, v in pairs if k.lower() not in names]
    if len(kept) != len(pairs):
        warnings.append("a token parameter was dropped: lmsync sends the integration's token")
    return kept

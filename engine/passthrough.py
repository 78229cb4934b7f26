"""Raw requests to an integration's remote system, through its connector (``lmsync_passthrough``).

The request is ``{method, path, params, data, headers}`` as in the contract's
``POST /passthrough/{tool}/{api}`` (plus ``api``, the ``{api}`` path part); a connector may also
accept ``{call, data}`` naming one remote function (``lmsync passthrough FUNCTION`` sends that).
The connector injects the credentials and refuses paths that leave the integration's site; the
engine checks the request's shape and redacts every credential from the whole answer once more.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from engine.errors import ActionInputInvalid, RemoteTimeout, RemoteUnreachable
from engine.store.base import Integration

__all__ = ["run_passthrough", "redact_json", "send_raw", "PASSTHROUGH_METHODS"]

PASSTHROUGH_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


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

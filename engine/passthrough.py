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

from engine.errors import ActionInputInvalid
from engine.store.base import Integration

__all__ = ["run_passthrough", "redact_json", "PASSTHROUGH_METHODS"]

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

"""Canvas error answers → the engine's typed errors, by HTTP status (and the few bodies Canvas words).

What Canvas sends (ApplicationController, AuthenticationMethods, RequestThrottle):

* 401 + ``WWW-Authenticate`` — the token is unknown, expired or revoked (``Invalid access
  token.``) or missing: ``AuthenticationFailed``;
* 401 ``{"status": "unauthorized", "errors": [{"message": "user not authorized to perform that
  action"}]}`` — valid token, the user lacks an account-role permission: ``PermissionMissing``;
* 401 ``Insufficient scopes on access token.`` — a scoped developer key lacks the endpoint's
  scope: ``AccessDenied`` (the scope test names the missing ``url:METHOD|path`` scope);
* 403 ``403 Forbidden (Rate Limit Exceeded)`` (plain text, ``X-Rate-Limit-Remaining``) — the
  leaky bucket is full: ``RateLimited`` with a wait estimated from the remaining quota;
* 404 ``The specified resource does not exist.``: ``RemoteNotFound``;
* 400 / 409 / 422 with ``{"errors": {field: [{message}]}}``, ``{"errors": [{message}]}``,
  ``{"message": …}`` or ``{"error": …}``: ``RemoteInputInvalid`` naming every field.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from engine.errors import (
    AccessDenied,
    AuthenticationFailed,
    BadResponse,
    PermissionMissing,
    RateLimited,
    RemoteError,
    RemoteInputInvalid,
    RemoteNotFound,
)

__all__ = ["error_from_response", "messages", "retry_after_estimate", "UNAUTHORIZED", "NOT_MODULE_BASED"]

UNAUTHORIZED = "user not authorized to perform that action"
# bulk_user_progress on a course without module completion requirements (a 400 of one course)
NOT_MODULE_BASED = "not module based"
# RequestThrottle defaults (app/middleware/request_throttle.rb): the up-front cost of a request
# and the bucket's leak rate per second; a throttled client waits until the cost fits again.
_UP_FRONT_COST = 50.0
_OUTFLOW_PER_S = 10.0
_MAX_WAIT_S = 30.0


def _body(response: httpx.Response) -> Any:
    try:
        return orjson.loads(response.content) if response.content.strip() else None
    except ValueError:
        return None


def messages(body: Any) -> list[str]:
    """Every message of a Canvas error body, field errors as ``field: message``."""
    if isinstance(body, str):
        return [body]
    if not isinstance(body, dict):
        return []
    out: list[str] = []
    errors = body.get("errors")
    if isinstance(errors, dict):
        for field, items in errors.items():
            for item in items if isinstance(items, list) else [items]:
                text = item.get("message") if isinstance(item, dict) else item
                out.append(f"{field}: {text}")
    elif isinstance(errors, list):
        for item in errors:
            text = item.get("message") if isinstance(item, dict) else item
            if text:
                out.append(str(text))
    elif isinstance(errors, str):
        out.append(errors)
    for key in ("message", "error"):
        value = body.get(key)
        if isinstance(value, dict):
            value = value.get("message")
        if isinstance(value, str) and value:
            out.append(value)
    return out


def retry_after_estimate(response: httpx.Response) -> float:
    """Seconds until a throttled client's next request fits in the bucket: ``Retry-After`` if
    sent, else (up-front cost − remaining quota) / leak rate, at least 0.5 s and at most 30 s."""
    header = response.headers.get("retry-after")
    if header:
        try:
            return max(0.0, float(header))
        except ValueError:
            pass
    try:
        remaining = float(response.headers.get("x-rate-limit-remaining", "0"))
    except ValueError:
        remaining = 0.0
    return min(_MAX_WAIT_S, max(0.5, (_UP_FRONT_COST - remaining) / _OUTFLOW_PER_S))


def error_from_response(call: str, response: httpx.Response) -> Exception:
    """The typed error for a Canvas answer with HTTP status ≥ 400 (below 500: 5xx never gets here)."""
    status = response.status_code
    text = response.content[:2048].decode("utf-8", "replace")
    if status == 403 and "rate limit exceeded" in text.lower():
        return RateLimited("HTTP 403 Rate Limit Exceeded (Canvas throttling)", call=call,
                           retry_after=retry_after_estimate(response))
    ctype = response.headers.get("content-type", "")
    body = _body(response)
    if body is None and ("html" in ctype or text.lstrip().lower().startswith(("<!doctype", "<html"))):
        return BadResponse(f"HTTP {status}: an HTML page instead of a JSON error", call=call)
    found = messages(body) or ([text.strip()[:200]] if text.strip() and body is None else [])
    detail = "; ".join(found) or f"HTTP {status}"
    if status == 401:
        if any("insufficient scopes" in m.lower() for m in found):
            return AccessDenied(detail, call=call, code="insufficient_scopes")
        if "www-authenticate" in response.headers:
            return AuthenticationFailed(detail, call=call, code="invalid_token")
        return PermissionMissing(detail, call=call, code="unauthorized")
    if status == 403:
        return PermissionMissing(detail, call=call, code="forbidden")
    if status == 404:
        return RemoteNotFound(detail, call=call, code="not_found")
    if status in (400, 409, 422):
        code = "not_module_based" if NOT_MODULE_BASED in detail.lower() else f"http{status}"
        return RemoteInputInvalid(detail, call=call, code=code, details=body)
    return RemoteError(detail, call=call, code=f"http{status}", details=body)

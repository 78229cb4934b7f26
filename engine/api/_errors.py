"""API errors and the contract's error envelope.

::

    ApiError                    (status, code) -> {"status": "error", "error": {...}}
    ├── InputInvalid            400 PLATFORM.INPUT_INVALID
    │   ├── BodyTooLarge        413 PLATFORM.INPUT_INVALID
    │   └── UnsupportedMediaType 415 PLATFORM.INPUT_INVALID
    ├── AuthenticationInvalid   401 PLATFORM.AUTHENTICATION_INVALID
    ├── IntegrationNotFound     404 PLATFORM.INTEGRATION_NOT_FOUND
    ├── RouteNotFound           404 / 405 PLATFORM.INPUT_INVALID
    ├── ConcurrencyLimit        409 PLATFORM.CONCURRENCY_LIMIT_EXCEEDED
    └── UnknownError            500 PLATFORM.UNKNOWN_ERROR (never carries a traceback)

Every response the app sends for a failure goes through ``error_response``.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine.errors import ConfigError
from engine.secrets import SecretError

__all__ = [
    "ApiError",
    "InputInvalid",
    "BodyTooLarge",
    "UnsupportedMediaType",
    "AuthenticationInvalid",
    "IntegrationNotFound",
    "RouteNotFound",
    "ConcurrencyLimit",
    "UnknownError",
    "ServiceUnavailable",
    "error_response",
    "EXCEPTION_HANDLERS",
    "CatchAllMiddleware",
    "contract_code",
]

# The contract gives every endpoint only ErrorResponseGeneral, whose ``code`` enum lists the
# PLATFORM.* codes (Kombo's SDKs reject any other value). Engine codes outside it are answered
# with the nearest platform code; the original code leads the message.
_TO_PLATFORM = {
    "REMOTE.INPUT_INVALID": "PLATFORM.INPUT_INVALID",
    "REMOTE.RATE_LIMIT_EXCEEDED": "PLATFORM.RATE_LIMIT_EXCEEDED",
    "INTEGRATION.ACTION_NOT_AVAILABLE": "PLATFORM.INPUT_INVALID",
    "INTEGRATION.ACTION_DISABLED": "PLATFORM.INPUT_INVALID",
    "INTEGRATION.MODEL_DISABLED": "PLATFORM.INPUT_INVALID",
    "INTEGRATION.INACTIVE": "PLATFORM.INPUT_INVALID",
}

log = logging.getLogger("lmsync.api")


class ApiError(Exception):
    """An error answered with the contract's error envelope."""

    status: int = 500
    code: str | None = "PLATFORM.UNKNOWN_ERROR"
    title: str | None = "An unknown error occurred."

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InputInvalid(ApiError):
    """The request's parameters, headers or body are invalid."""

    status, code, title = 400, "PLATFORM.INPUT_INVALID", "The input is invalid."


class BodyTooLarge(InputInvalid):
    """The request body exceeds the size limit."""

    status = 413


class UnsupportedMediaType(InputInvalid):
    """The request body is not JSON."""

    status = 415


class AuthenticationInvalid(ApiError):
    """No API key, or an invalid one."""

    status, code, title = 401, "PLATFORM.AUTHENTICATION_INVALID", "The API key is invalid."


class IntegrationNotFound(ApiError):
    """The integration does not exist, or the key may not see it (indistinguishable on purpose)."""

    status, code, title = 404, "PLATFORM.INTEGRATION_NOT_FOUND", "The integration was not found."


class RouteNotFound(ApiError):
    """No such route or method."""

    status, code, title = 404, "PLATFORM.INPUT_INVALID", "Not found."


class ConcurrencyLimit(ApiError):
    """A conflicting operation is running."""

    status, code, title = 409, "PLATFORM.CONCURRENCY_LIMIT_EXCEEDED", "A conflicting operation is running."


class ServiceUnavailable(ApiError):
    """A service lmsync depends on (the job broker) cannot be reached."""

    status = 503


class UnknownError(ApiError):
    """Anything unexpected; the details go to the log, never to the client."""


class FastJSONResponse(JSONResponse):
    """A JSON response rendered by orjson (UTF-8, no ASCII escaping): list pages are large."""

    def render(self, content: Any) -> bytes:
        return self.render_bytes(content)

    @staticmethod
    def render_bytes(content: Any) -> bytes:
        """*content* as the bytes this response would send."""
        return orjson.dumps(content, default=str)


def contract_code(code: str | None) -> str:
    """*code* if the contract's general error enum has it, else the nearest PLATFORM.* code."""
    if code is not None and code.startswith("PLATFORM."):
        return code
    return _TO_PLATFORM.get(code or "", "PLATFORM.UNKNOWN_ERROR")


def error_response(error: ApiError, headers: dict[str, str] | None = None) -> JSONResponse:
    """The contract's error envelope for *error*."""
    body = {"status": "error", "error": {"code": error.code, "title": error.title, "message": error.message, "log_url": None}}
    return JSONResponse(body, status_code=error.status, headers=headers)


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        err = RouteNotFound(f"Method {request.method} is not allowed on {request.url.path}.")
        err.status, err.title = 405, "Method not allowed."
        return error_response(err, headers=dict(exc.headers or {}))
    if exc.status_code == 404:
        return error_response(RouteNotFound(f"no route {request.url.path}"))
    err = InputInvalid(str(exc.detail))
    err.status = exc.status_code if 400 <= exc.status_code < 500 else 500
    return error_response(err)


class CatchAllMiddleware:
    """Answers any unexpected exception with the contract's 500 envelope *inside* the app, so
    the server does not see an exception and keeps the keep-alive connection open (Starlette's
    own ``Exception`` handler re-raises, after which the connection is dropped)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            await error_response(UnknownError("An internal error occurred."))(scope, receive, send)


async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    """The secret key (or another configured file) is broken: the server cannot serve, but it is
    not the request's fault and not a crash."""
    log.error("cannot serve %s %s: %s", request.method, request.url.path, exc)
    return error_response(ServiceUnavailable(
        "The server cannot decrypt its stored credentials (check LMSYNC_SECRET_KEY or the key file)."
        if isinstance(exc, SecretError) else f"The server is misconfigured: {exc}"))


EXCEPTION_HANDLERS = {ApiError: _api_error, HTTPException: _http_error, ConfigError: _unavailable, SecretError: _unavailable}

"""API errors and the contract's error envelope.

::

    ApiError                    (status, code) -> {"status": "error", "error": {...}}
    ├── InputInvalid            400 PLATFORM.INPUT_INVALID
    │   ├── BodyTooLarge        413 PLATFORM.INPUT_INVALID
    │   └── UnsupportedMediaType 415 PLATFORM.INPUT_INVALID
    ├── AuthenticationInvalid   401 PLATFORM.AUTHENTICATION_INVALID
    ├── IntegrationNotFound     404 PLATFORM.INTEGRATION_NOT_FOUND
    ├── RouteNotFound           404 / 405 (code null)
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
    "error_response",
    "EXCEPTION_HANDLERS",
]

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

    status, code, title = 404, None, "Not found."


class ConcurrencyLimit(ApiError):
    """A conflicting operation is running."""

    status, code, title = 409, "PLATFORM.CONCURRENCY_LIMIT_EXCEEDED", "A conflicting operation is running."


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


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(UnknownError("An internal error occurred."))


EXCEPTION_HANDLERS = {ApiError: _api_error, HTTPException: _http_error, Exception: _unexpected}

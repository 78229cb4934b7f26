"""Tool routes: passthrough (contract), scope test and per-model test (lmsync extensions).

Each authenticates and scopes the integration like every other route, then calls the engine
service from ``ApiServices`` in a worker thread. Engine errors become the envelope with the
code ``engine.actions.error_code`` picks (``ActionFailed``); without the service a route answers
``INTEGRATION.ACTION_NOT_AVAILABLE``. Nothing a route returns carries credentials: the engine
redacts every answer before it gets here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from engine.errors import ActionNotAvailable, LmsyncError
from engine.models import MODELS
from engine.store.base import Integration, Store

from ._auth import authenticate, header_integration_id, scoped_integration
from ._body import read_json_body
from ._errors import InputInvalid
from ._routes_actions import ActionFailed
from ._services import ApiServices
from ._tools_openapi import PASSTHROUGH_PATH, SCOPE_TEST_PATH, TEST_MODEL_PATH

__all__ = ["tool_routes"]

_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_HEADER_VALUE = re.compile(r"^[\t\x20-\x7e\x80-\xff]*$")
_URI_SAFE = ":/?#@!$&'()*+,;=%-._~"


def _deps(request: Request) -> tuple[Store, ApiServices]:
    return request.app.state.store, request.app.state.services


def _ok(data: dict[str, Any], warnings: list[str] | None = None) -> JSONResponse:
    return JSONResponse({"status": "success", "data": data, "warnings": [{"message": w} for w in warnings or []]})


def _service(fn: Callable[..., Any] | None, what: str) -> Callable[..., Any]:
    if fn is None:
        raise ActionFailed(ActionNotAvailable(f"{what} is not enabled on this server."))
    return fn


async def _run(fn: Callable[..., Any], *args: Any) -> Any:
    try:
        return await run_in_threadpool(fn, *args)
    except LmsyncError as exc:
        raise ActionFailed(exc) from None


def _int_query(request: Request, name: str, default: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= high:  # not '²' or '①'
        raise InputInvalid(f"The query parameter {name} must be an integer from 1 to {high}.")
    return int(raw)


def _check_headers(headers: Any) -> None:
    """Header names must be HTTP tokens and values printable (else it is the caller's error,
    not the remote's)."""
    for name, value in (headers or {}).items():
        if not _TOKEN.match(name):
            raise InputInvalid(f"Invalid request body at headers: {name!r} is not a valid HTTP header name.")
        if not isinstance(value, str) or not _HEADER_VALUE.match(value):
            raise InputInvalid(f"Invalid request body at headers/{name}: the value has characters not allowed in a header.")


async def passthrough(request: Request) -> JSONResponse:
    store, services = _deps(request)

    def scope() -> Integration:
        return scoped_integration(store, authenticate(store, request), header_integration_id(request))

    integration = await run_in_threadpool(scope)
    if request.path_params["tool"] != integration.connector:
        raise ActionFailed(ActionNotAvailable(
            f"The integration is a {integration.connector} integration; its passthrough is /passthrough/{integration.connector}/…."))
    fn = _service(services.passthrough, "Passthrough")
    body = await read_json_body(request, "PostPassthroughToolApiRequestBody", required=True)
    _check_headers(body.get("headers"))
    result = await _run(fn, integration, {**body, "api": request.path_params["api"]})
    if isinstance(result.get("url"), str):  # "[REDACTED]" placeholders are not valid in a URI
        result["url"] = quote(result["url"], safe=_URI_SAFE)
    warnings = result.pop("warnings", [])
    return _ok(result, warnings)


async def _path_integration(request: Request) -> Integration:
    store, _ = _deps(request)
    return await run_in_threadpool(
        lambda: scoped_integration(store, authenticate(store, request), request.path_params["integration_id"]))


async def scope_test(request: Request) -> JSONResponse:
    _, services = _deps(request)
    integration = await _path_integration(request)
    fn = _service(services.scope_test, "Scope testing")
    return _ok(await _run(fn, integration))


async def test_model(request: Request) -> JSONResponse:
    _, services = _deps(request)
    integration = await _path_integration(request)
    model = request.path_params["model"]
    if model not in MODELS:
        raise InputInvalid(f"Unknown model {model!r}; expected one of {', '.join(MODELS)}.")
    pages = _int_query(request, "pages", 1, 10)
    parents = _int_query(request, "parents", 3, 50)
    fn = _service(services.test_model, "Model testing")
    return _ok(await _run(fn, integration, model, pages, parents))


def tool_routes() -> list[Route]:
    """The passthrough and extension routes."""
    return [
        Route(f"/v1{PASSTHROUGH_PATH}", passthrough, methods=["POST"]),
        Route(SCOPE_TEST_PATH, scope_test, methods=["POST"]),
        Route(TEST_MODEL_PATH, test_model, methods=["POST"]),
    ]

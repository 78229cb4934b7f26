"""``create_app``: the Starlette application serving the Kombo-compatible LMS API under ``/v1``."""

from __future__ import annotations

import json

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from engine.store.base import Store
from schemas._loader import check_schemas

from ._connect_page import connect_page_routes
from ._console import console_routes
from ._contract import served_openapi
from ._errors import EXCEPTION_HANDLERS, CatchAllMiddleware
from ._readahead import ReadAhead
from ._routes_actions import action_routes
from ._routes_connect import connect_routes
from ._routes_custom_fields import custom_field_routes
from ._routes_fields import field_routes
from ._scope_configs import scope_config_routes
from ._routes_platform import platform_routes
from ._routes_read import read_routes
from ._routes_tools import tool_routes
from ._services import ApiServices

__all__ = ["create_app"]


def _openapi_route(doc_bytes: bytes) -> Route:
    async def openapi(request: Request) -> Response:
        return Response(doc_bytes, media_type="application/json")

    return Route("/v1/openapi.json", openapi, methods=["GET"])


def _one_route_per_path(routes: list[Route]) -> list[Route]:
    """Routes sharing a path (``GET`` list + ``POST`` action) merged into one dispatching by
    method, so a 405 lists every allowed method in ``Allow``."""
    grouped: dict[str, list[Route]] = {}
    for route in routes:
        grouped.setdefault(route.path, []).append(route)
    merged = []
    for path, group in grouped.items():
        if len(group) == 1:
            merged.append(group[0])
            continue
        table = {method: r.endpoint for r in group for method in r.methods or ()}

        async def endpoint(request: Request, table=table) -> Response:
            return await table[request.method](request)

        merged.append(Route(path, endpoint, methods=sorted(table)))
    return merged


def create_app(store: Store, *, services: ApiServices, read_ahead: bool = True) -> Starlette:
    """Build the API app reading from *store*; *services* supplies engine operations.
    With *read_ahead*, the next page of a list is composed while the client reads the current
    one (``engine.api._readahead``).

    Every failure, including unexpected exceptions, is answered with the contract's error
    envelope (no tracebacks). A broken secret key raises ``ConfigError`` here. ``GET /v1/openapi.json`` (no auth) describes what is served.
    """
    check_schemas()  # a missing or corrupt schemas/*.schema.json refuses start-up (ConfigError)
    getattr(store, "box", None)  # a broken secret key refuses start-up (ConfigError) rather than 500 each request
    doc_bytes = json.dumps(served_openapi()).encode()
    routes = _one_route_per_path([*read_routes(), *platform_routes(), *action_routes(), *tool_routes(), *connect_routes(),
                                  *connect_page_routes(), *console_routes(), *field_routes(), *custom_field_routes(), *scope_config_routes(), _openapi_route(doc_bytes)])
    app = Starlette(routes=routes, exception_handlers=dict(EXCEPTION_HANDLERS), middleware=[Middleware(CatchAllMiddleware)])
    app.state.store = store
    app.state.services = services
    app.state.read_ahead = ReadAhead(store.versions) if read_ahead else None
    return app

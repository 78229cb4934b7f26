"""The ASGI app: Canvas' request order is routing → throttle → authentication → controller,
then the RequestThrottle headers on every answer."""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter
from typing import Any, Callable

import orjson
from starlette.requests import Request
from starlette.responses import Response

from . import _routes_courses, _routes_enrollments, _routes_outcomes, _routes_users
from ._context import Answer, Ctx
from ._site import CanvasSite
from ._throttle import Throttle, throttled_body
from ._wire import (JSON_TYPE, CanvasError, InvalidToken, NotFound, Unauthenticated, dump_json, merge_params,
                    parse_nested)

__all__ = ["CanvasApp", "create_app", "ROUTES"]

log = logging.getLogger(__name__)
ROUTES: list[tuple[str, str, Callable[..., Answer]]] = [
    *_routes_users.ROUTES, *_routes_courses.ROUTES, *_routes_enrollments.ROUTES, *_routes_outcomes.ROUTES]
_STRING_IDS = "application/json+canvas-string-ids"


def _compile(template: str) -> re.Pattern:
    return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$")


class CanvasApp:
    """ASGI application serving one `CanvasSite`; `latency_ms`, `site.throttle` and
    `throttle.clock` may be changed while it runs. `calls` counts (method, route) pairs."""

    def __init__(self, site: CanvasSite, *, latency_ms: float = 0.0) -> None:
        self.site = site
        self.latency_ms = latency_ms
        self.throttle = Throttle(site.throttle)
        self.calls: Counter = Counter()
        self._routes = [(method, template, _compile(template), handler) for method, template, handler in ROUTES]
        self._error_ids = 0

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        response = await self._serve(request)
        await response(scope, receive, send)

    # ------------------------------------------------------------------ request
    @staticmethod
    def _token(request: Request, query: dict, body: dict) -> str | None:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        for source in (body, query):
            token = source.get("access_token")
            if isinstance(token, str) and token:
                return token
        return None

    @staticmethod
    async def _body(request: Request) -> dict:
        if request.method in ("GET", "HEAD"):
            return {}
        raw = await request.body()
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "application/json" and raw.strip():
            try:
                value = orjson.loads(raw)
            except orjson.JSONDecodeError:
                return {}
            return value if isinstance(value, dict) else {}
        if kind in ("application/x-www-form-urlencoded", "") and raw:
            return parse_nested(raw.decode("utf-8", "replace"))
        return {}

    def _route(self, method: str, path: str) -> tuple[str, Callable[..., Answer], dict] | None:
        for route_method, template, pattern, handler in self._routes:
            match = pattern.match(path)
            if match and route_method == method:
                return template, handler, match.groupdict()
        return None

    async def _serve(self, request: Request) -> Response:
        query = parse_nested(request.url.query)
        body = await self._body(request)
        token_string = self._token(request, query, body)
        client = self.throttle.client_id(token_string, request.client.host if request.client else "127.0.0.1")
        string_ids = _STRING_IDS in request.headers.get("accept", "")
        self.throttle.config = self.site.throttle  # tests may swap the config at runtime
        if not self.throttle.reserve(client):
            remaining = self.throttle.settle(client, 0.0)
            status = 429 if self.site.throttle.status == 429 else 403
            return Response(throttled_body(status), status, {"X-Rate-Limit-Remaining": repr(remaining)},
                            media_type="text/plain; charset=utf-8")
        items = 0
        try:
            if self.latency_ms:
                await asyncio.sleep(self.latency_ms / 1000)
            answer, items = self._dispatch(request, query, body, token_string)
        except CanvasError as exc:
            answer = Answer(exc.body, exc.status, dict(exc.headers))
        except Exception:  # a simulator bug: answer like Canvas' unhandled-error page, never crash
            log.exception("canvas simulator handler failed")
            self._error_ids += 1
            answer = Answer({"errors": [{"message": "An error occurred.", "error_code": "internal_server_error"}],
                             "error_report_id": self._error_ids}, 500)
        config = self.site.throttle
        cost = config.base_cost + config.per_item_cost * items
        remaining = self.throttle.settle(client, cost)
        headers = dict(answer.headers)
        headers["X-Request-Cost"] = repr(cost)
        headers["X-Rate-Limit-Remaining"] = repr(remaining)
        if answer.status == 302:
            location = headers.get("Location", "")
            return Response(f'<html><body>You are being <a href="{location}">redirected</a>.</body></html>',
                            302, headers, media_type="text/html; charset=utf-8")
        return Response(dump_json(answer.body, string_ids), answer.status, headers, media_type=JSON_TYPE)

    def _dispatch(self, request: Request, query: dict, body: dict, token_string: str | None) -> tuple[Answer, int]:
        path = request.url.path.rstrip("/") or "/"
        if path.endswith(".json"):
            path = path[:-5]
        found = self._route(request.method, path)
        if found is None:
            raise NotFound()
        template, handler, path_params = found
        self.calls[(request.method, template)] += 1
        if token_string is None:
            raise Unauthenticated()
        token = self.site.tokens.get(token_string)
        if token is None or (token.expires_at and token.expires_at <= self.site.now()):
            raise InvalidToken()
        user = self.site.users.get(token.user_id)
        if user is None or user.deleted:
            raise InvalidToken()
        host = f"{request.url.scheme}://{request.headers.get('host') or request.url.netloc}"
        ctx = Ctx(self.site, token, user, host, path, request.method, query, merge_params(query, body))
        answer = handler(ctx, **path_params)
        if ctx.pager is not None and ctx.pager.link:
            answer.headers["Link"] = ctx.pager.link
        return answer, ctx.items


def create_app(site: CanvasSite, *, latency_ms: float = 0.0) -> CanvasApp:
    """Build the ASGI app for `site`."""
    return CanvasApp(site, latency_ms=latency_ms)

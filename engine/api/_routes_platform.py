"""General endpoints: check-api-key, force-sync, integration details / delete / enable / change."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from engine.store.base import ApiKey, Store, SyncAlreadyRunning

from ._auth import authenticate, header_integration_id, scoped_integration
from ._body import read_json_body
from ._errors import ConcurrencyLimit, InputInvalid, ServiceUnavailable
from ._integration_json import integration_json
from ._routes_admin import patch_integration
from ._services import ApiServices

__all__ = ["platform_routes"]

try:
    from kombu.exceptions import OperationalError as _BrokerError
except ImportError:  # pragma: no cover - the worker extra is not installed
    class _BrokerError(Exception):  # type: ignore[no-redef]
        """Never raised."""


def _ok(data: dict[str, Any]) -> JSONResponse:
    return JSONResponse({"status": "success", "data": data})


def _deps(request: Request) -> tuple[Store, ApiServices]:
    return request.app.state.store, request.app.state.services


async def check_api_key(request: Request) -> JSONResponse:
    store, services = _deps(request)
    await run_in_threadpool(authenticate, store, request)
    return _ok({"environment_id": services.environment_id, "customer_id": services.customer_id})


def _force_sync(store: Store, services: ApiServices, request: Request, key: ApiKey, kind: str) -> dict[str, Any]:
    integration = scoped_integration(store, key, header_integration_id(request))
    if not integration.enabled:
        raise InputInvalid("The integration is disabled; enable it before triggering a sync.")
    try:
        sync_id, queued = services.force_sync(integration.id, kind)
    except SyncAlreadyRunning as exc:
        raise ConcurrencyLimit(f"A sync of this integration is already running ({exc.run_id}).") from None
    except (OSError, _BrokerError) as exc:  # kombu's OperationalError: the broker is unreachable
        raise ServiceUnavailable(f"The job queue is unreachable ({type(exc).__name__}); check LMSYNC_BROKER_URL.") from None
    return {"already_queued": bool(queued), "sync_id": sync_id, "type": kind}


async def force_sync(request: Request) -> JSONResponse:
    store, services = _deps(request)
    key = await run_in_threadpool(authenticate, store, request)
    body = await read_json_body(request, "PostForceSyncRequestBody", required=False)
    return _ok(await run_in_threadpool(_force_sync, store, services, request, key, body.get("type", "FULL")))


def _scoped(store: Store, request: Request):
    key = authenticate(store, request)
    return scoped_integration(store, key, request.path_params["integration_id"])


async def get_integration(request: Request) -> JSONResponse:
    store, services = _deps(request)

    def work() -> dict[str, Any]:
        return integration_json(store, _scoped(store, request), services)

    return _ok(await run_in_threadpool(work))


async def delete_integration(request: Request) -> JSONResponse:
    store, services = _deps(request)
    integration = await run_in_threadpool(_scoped, store, request)
    await read_json_body(request, "DeleteIntegrationsIntegrationIdRequestBody", required=False)
    if services.cancel_syncs:
        await run_in_threadpool(services.cancel_syncs, integration.id)
    await run_in_threadpool(store.remove_integration, integration.id)
    return _ok({})


async def set_enabled(request: Request) -> JSONResponse:
    store, services = _deps(request)
    integration = await run_in_threadpool(_scoped, store, request)
    body = await read_json_body(request, "PutIntegrationsIntegrationIdEnabledRequestBody", required=True)
    integration.enabled = body["value"]
    await run_in_threadpool(store.update_integration, integration)
    if not integration.enabled and services.cancel_syncs:
        await run_in_threadpool(services.cancel_syncs, integration.id)
    return _ok({})


async def integration(request: Request) -> JSONResponse:
    """One route for both methods, so a 405 lists every allowed method in ``Allow``."""
    if request.method == "DELETE":
        return await delete_integration(request)
    if request.method == "PATCH":
        return await patch_integration(request)
    return await get_integration(request)


def platform_routes() -> list[Route]:
    """The general routes, mounted under ``/v1``."""
    return [
        Route("/v1/check-api-key", check_api_key, methods=["GET"]),
        Route("/v1/force-sync", force_sync, methods=["POST"]),
        Route("/v1/integrations/{integration_id}", integration, methods=["GET", "DELETE", "PATCH"]),
        Route("/v1/integrations/{integration_id}/enabled", set_enabled, methods=["PUT"]),
    ]

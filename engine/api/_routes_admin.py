"""``PATCH /v1/integrations/{integration_id}`` (lmsync extension): change an integration in place
with the operator's admin key — the logic of ``lmsync integrations update``
(``engine.integrations.update_integration``). The body is checked against
``schemas/lmsync-integration-patch.schema.json``.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from engine.connector import SettingsError
from engine.integrations import (CredentialError, IntegrationChange, IntegrationMissing, SiteUrlError,
                                 connector_info, update_integration, valid_settings_hint)
from engine.store.base import Store

from ._admin_openapi import PATCH_SCHEMA
from ._auth import admin_integration
from ._body import read_lmsync_body
from ._errors import InputInvalid, IntegrationNotFound
from ._integration_json import integration_json
from ._services import ApiServices

__all__ = ["patch_integration"]


def _admin_and_exists(store: Store, request: Request) -> str:
    return admin_integration(store, request, "Changing an integration").id


def _change(body: dict[str, Any]) -> IntegrationChange:
    if "base_url" in body and "url" in body:
        raise InputInvalid("Give either 'base_url' or 'url' in the request body, not both.")
    settings = body.get("settings") or {}
    return IntegrationChange(
        base_url=body.get("base_url", body.get("url")),
        credentials=body.get("credentials"),
        settings={k: v for k, v in settings.items() if v is not None},
        unset=[k for k, v in settings.items() if v is None],
        enabled=body.get("enabled"),
    )


def _apply(store: Store, services: ApiServices, integration_id: str, body: dict[str, Any]) -> dict[str, Any]:
    change = _change(body)
    try:
        outcome = update_integration(store, integration_id, change)
    except IntegrationMissing:
        raise IntegrationNotFound(f"No integration with id {integration_id!r} was found.") from None
    except SettingsError as exc:
        found = store.get_integration(integration_id)
        message = valid_settings_hint(connector_info(found.connector), exc) if found else str(exc)
        raise InputInvalid(f"Invalid request body at settings: {message}") from None
    except SiteUrlError as exc:
        field = "base_url" if "base_url" in body else "url"
        raise InputInvalid(f"Invalid request body at {field}: {exc}") from None
    except CredentialError as exc:
        raise InputInvalid(f"Invalid request body at credentials: {exc}") from None
    integration = outcome.integration
    if change.enabled is False and services.cancel_syncs:
        services.cancel_syncs(integration.id)
    data = integration_json(store, integration, services)
    data["lmsync_scope_test_advised"] = outcome.scope_test_advised
    warnings = [{"message": note} for note in outcome.notes]
    if outcome.scope_test_advised:
        warnings.append({"message": "The site URL or credentials changed: check what they reach with "
                                    f"POST /v1/integrations/{integration.id}/scope-test "
                                    f"(or lmsync scope-test --integration {integration.id})."})
    return {"status": "success", "data": data, "warnings": warnings}


async def patch_integration(request: Request) -> JSONResponse:
    """Authenticate an admin key, find the integration (404), validate the body (400), apply it."""
    store: Store = request.app.state.store
    services: ApiServices = request.app.state.services
    integration_id = await run_in_threadpool(_admin_and_exists, store, request)
    body = await read_lmsync_body(request, PATCH_SCHEMA, required=True)
    return JSONResponse(await run_in_threadpool(_apply, store, services, integration_id, body))

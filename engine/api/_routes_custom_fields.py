"""Custom fields (Kombo's ``GET /integrations/{id}/custom-fields`` and ``PUT
/integrations/{id}/custom-fields/{custom_field_id}``).

A custom field is one of the API client's own keys, declared per model in the integration's
scope config (``custom_fields``, ``engine.scope_config``). Each integration maps it to one of its
integration fields (``engine.api._routes_fields``; admin key, ``{integration_field_id | null}``),
and the read endpoints of that model answer ``custom_fields: {key: value}``: every declared key,
its value read from the stored ``remote_data`` as ``integration_fields`` passthrough reads it
(``null`` while unmapped). The id of a custom field is stable per (integration, model, key).
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from engine.ids import record_id
from engine.models import MODELS
from engine.scope_config import CustomFieldDecl, ScopeConfig, scope_config_for
from engine.store.base import Integration, Store, StoredRecord

from ._auth import admin_integration, authenticate, scoped_integration
from ._body import _parse, _validate
from ._errors import ApiError, InputInvalid
from ._params import list_window
from ._routes_fields import refresh_fields, source_objects
from ._scope_configs_openapi import CUSTOM_FIELDS_MAX_PAGE, CUSTOM_FIELDS_PATH, CUSTOM_FIELD_PUT_BODY
from ._serialize import passthrough_values

__all__ = ["custom_field_routes", "with_custom_fields", "custom_field_id", "CustomFieldNotFound"]

_PATH = CUSTOM_FIELDS_PATH
_MAX_PAGE = CUSTOM_FIELDS_MAX_PAGE
_PUT_BODY = CUSTOM_FIELD_PUT_BODY  # the served OpenAPI's body schema
_PUT_VALIDATOR = Draft202012Validator(_PUT_BODY)


class CustomFieldNotFound(ApiError):
    """No custom field with that id in the integration's scope config."""

    status, code, title = 404, "PLATFORM.INPUT_INVALID", "The custom field was not found."


def custom_field_id(integration_id: str, model: str, key: str) -> str:
    """The stable id of the custom field *key* of *model* on the integration."""
    return record_id(integration_id, "custom_fields", f"{model}\x1f{key}")


def _declared(iid: str, scope: ScopeConfig) -> list[tuple[str, CustomFieldDecl]]:
    return sorted(((custom_field_id(iid, c.model, c.key), c) for c in scope.custom_fields), key=lambda p: p[0])


def _json(store: Store, iid: str, cid: str, decl: CustomFieldDecl, mapped: dict[str, str]) -> dict[str, Any]:
    field = store.get_integration_field(iid, mapped[cid]) if cid in mapped else None  # type: ignore[attr-defined]
    return {"id": cid, "key": decl.key, "model": MODELS[decl.model].webhook_name, "label": decl.label,
            "description": None,
            "integration_field": None if field is None else {"id": field.id, "key": field.key, "type": field.type,
                                                              "label": field.label}}


def _list(store: Store, request: Request) -> dict[str, Any]:
    key = authenticate(store, request)
    iid = scoped_integration(store, key, request.path_params["integration_id"]).id
    window = list_window(request, {"list": "custom_fields", "iid": iid}, _MAX_PAGE)
    rows = [(cid, c) for cid, c in _declared(iid, scope_config_for(store, iid)) if cid > (window.after or "")]
    page = rows[:window.size]
    mapped = store.custom_field_mappings(iid)  # type: ignore[attr-defined]
    nxt = window.next(page[-1][0]) if len(rows) > window.size else None
    return {"status": "success", "data": {"results": [_json(store, iid, cid, c, mapped) for cid, c in page],
                                          "next": nxt}}


async def list_custom_fields(request: Request) -> JSONResponse:
    """``GET /v1/integrations/{integration_id}/custom-fields``."""
    return JSONResponse(await run_in_threadpool(_list, request.app.state.store, request))


def _put(store: Store, integration: Integration, cid: str, target: str | None) -> dict[str, Any]:
    iid = integration.id
    decl = dict(_declared(iid, scope_config_for(store, iid))).get(cid)
    if decl is None:
        raise CustomFieldNotFound(f"No custom field with id {cid!r} on integration {iid!r}; declare it in the "
                                  f"integration's scope config and list them with GET /v1/integrations/{iid}/custom-fields.")
    if target is not None:
        field = store.get_integration_field(iid, target)  # type: ignore[attr-defined]
        if field is None:
            refresh_fields(store, integration)  # a field a sync found but no listing has scanned yet
            field = store.get_integration_field(iid, target)  # type: ignore[attr-defined]
        if field is None or field.model != decl.model:
            raise InputInvalid(f"Invalid request body at integration_field_id: {target!r} is not an integration field of "
                               f"{MODELS[decl.model].webhook_name} on integration {iid!r}; list them with "
                               f"GET /v1/integrations/{iid}/integration-fields.")
    store.set_custom_field_mapping(iid, cid, decl.model, decl.key, target)  # type: ignore[attr-defined]
    return {"status": "success", "data": _json(store, iid, cid, decl, {cid: target} if target else {})}


async def put_custom_field(request: Request) -> JSONResponse:
    """``PUT /v1/integrations/{integration_id}/custom-fields/{custom_field_id}`` (admin key)."""
    store: Store = request.app.state.store
    integration = await run_in_threadpool(admin_integration, store, request, "Mapping a custom field")
    body = _validate(await _parse(request, True), _PUT_BODY["properties"], _PUT_VALIDATOR)
    cid = request.path_params["custom_field_id"]
    return JSONResponse(await run_in_threadpool(_put, store, integration, cid, body["integration_field_id"]))


def with_custom_fields(store: Store, iid: str, model: str, page: list[StoredRecord], results: list[dict[str, Any]],
                       scope: ScopeConfig | None = None) -> None:
    """Set each result's ``custom_fields`` to ``{key: value}`` for the custom fields *scope* (the
    integration's config, looked up when not given) declares for *model*. No store call when it
    declares none for *model*."""
    declared = [(cid, c) for cid, c in _declared(iid, scope or scope_config_for(store, iid)) if c.model == model]
    if not declared or not page:
        return
    mapped = store.custom_field_mappings(iid, model)  # type: ignore[attr-defined]
    fields = {cid: f for cid, ifid in mapped.items() if (f := store.get_integration_field(iid, ifid)) is not None}  # type: ignore[attr-defined]
    found = source_objects(store, iid, model, page) if fields else None
    for i, out in enumerate(results):
        values: dict[str, Any] = {c.key: None for _, c in declared}
        if found is not None:
            custom, sources = found
            wanted = [(c.key, fields[cid]) for cid, c in declared if cid in fields]
            got = passthrough_values([f for _, f in wanted], sources[i], custom)
            values.update((k, v["value"]) for (k, _), v in zip(wanted, got))
        out["custom_fields"] = {**(out.get("custom_fields") or {}), **values}


def custom_field_routes() -> list[Route]:
    """The custom-field routes, mounted under ``/v1``."""
    return [Route(_PATH, list_custom_fields, methods=["GET"]),
            Route(f"{_PATH}/{{custom_field_id}}", put_custom_field, methods=["PUT"])]

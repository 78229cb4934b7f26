"""Integration fields (Kombo's ``GET/PATCH /integrations/{id}/integration-fields``).

The fields are discovered from the synced ``remote_data`` of the integration: each top-level key
of a model's source-call object is a ``DEFAULT`` field; the entries of the custom-field list the
connector declares (``ConnectorInfo.custom_fields``) are ``CUSTOM`` fields. A listing rescans a
model only when its version token changed since the last scan (a sync wrote it). A field whose
passthrough is on appears in the ``integration_fields`` of that model's read endpoint, its value
read from the stored ``remote_data`` when the page is composed (no resync needed).

Which key of ``remote_data`` is the source call comes from the integration's mapping specs
(``engine.spec``), as the mapper keys it (the source stream's call, following ``from``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from jsonschema import Draft202012Validator
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from engine.ids import record_id
from engine.models import MODELS
from engine.store._fields import IntegrationField
from engine.store.base import Integration, Store, StoredRecord

from ._auth import admin_integration, authenticate, scoped_integration
from ._body import _parse, _validate
from ._errors import ApiError
from ._params import list_window
from ._fields_openapi import FIELD_PATH, FIELDS_PATH, PATCH_BODY
from ._routes_coverage import connector_specs, coverage_routes, installed
from ._serialize import field_json, passthrough_values

__all__ = ["field_routes", "with_integration_fields", "FIELD_MODELS", "source_keys", "field_id", "source_objects",
           "FieldNotFound", "refresh_fields"]

#: models whose read results carry ``integration_fields`` (their list endpoints)
FIELD_MODELS = ("users", "skills", "courses")
_MAX_PAGE = 2000
_PATCH_VALIDATOR = Draft202012Validator(PATCH_BODY)


class FieldNotFound(ApiError):
    """No integration field with that id on the integration."""

    status, code, title = 404, "PLATFORM.INPUT_INVALID", "The integration field was not found."


def _custom_spec(connector: str, model: str) -> dict[str, str] | None:
    info = installed().get(connector)
    return info.custom_fields.get(model) if info is not None else None


def source_keys(integration: Integration) -> dict[str, str]:
    """``{model: remote_data key of its source call}`` for the field models the integration's
    specs (variants chosen by its settings) map."""
    info = installed().get(integration.connector)
    if info is None:
        return {}
    specset = connector_specs(integration.connector).for_settings({**info.default_settings, **(integration.settings or {})})
    out = {}
    for model in FIELD_MODELS:
        if model not in specset.specs:
            continue
        stream = specset.specs[model].source
        while stream.from_ and stream.from_ in specset.specs:  # as RunContext.call_of keys it
            stream = specset.specs[stream.from_].source
        out[model] = stream.from_ if stream.from_ else (stream.call or "?")
    return out


def field_id(integration_id: str, model: str, field_type: str, key: str) -> str:
    """The stable id of a field: the same for the same integration, model, type and key."""
    return record_id(integration_id, "integration_fields", "\x1f".join((model, field_type, key)))


def _discover(iid: str, model: str, rows: Iterable[dict[str, Any]], source: str,
              custom: dict[str, str] | None) -> list[IntegrationField]:
    default: set[str] = set()
    labels: dict[str, str | None] = {}
    for remote_data in rows:
        own = remote_data.get(source)
        if not isinstance(own, dict):
            continue
        default.update(own)
        entries = own.get(custom["list"]) if custom else None
        for entry in entries if isinstance(entries, list) else ():
            if isinstance(entry, dict) and isinstance(entry.get(custom["key"]), str):  # type: ignore[index]
                label = entry.get(custom["label"])  # type: ignore[index]
                labels[entry[custom["key"]]] = label if isinstance(label, str) else None  # type: ignore[index]
    found = [IntegrationField(iid, field_id(iid, model, "DEFAULT", k), model, k, "DEFAULT") for k in sorted(default)]
    found += [IntegrationField(iid, field_id(iid, model, "CUSTOM", k), model, k, "CUSTOM", label)
              for k, label in sorted(labels.items())]
    return found


def refresh_fields(store: Store, integration: Integration) -> None:
    """Rescan the models whose rows changed since their last scan."""
    keys = source_keys(integration)
    versions = store.versions(integration.id, list(keys))
    for model, source in keys.items():
        scanned, token = store.field_scan_token(integration.id, model)  # type: ignore[attr-defined]
        if scanned and token == versions[model]:
            continue
        rows = store.iter_remote_data(integration.id, model)  # type: ignore[attr-defined]
        found = _discover(integration.id, model, rows, source, _custom_spec(integration.connector, model))
        store.save_field_scan(integration.id, model, found, versions[model])  # type: ignore[attr-defined]


def _list(store: Store, request: Request) -> dict[str, Any]:
    key = authenticate(store, request)
    integration = scoped_integration(store, key, request.path_params["integration_id"])
    window = list_window(request, {"list": "integration_fields", "iid": integration.id}, _MAX_PAGE)
    if window.after is None:
        refresh_fields(store, integration)  # the first page rescans; later pages page the same table
    rows = store.list_integration_fields(integration.id, window.after, window.size + 1)  # type: ignore[attr-defined]
    page = rows[:window.size]
    nxt = window.next(page[-1].id) if len(rows) > window.size else None
    return {"status": "success", "data": {"results": [field_json(f, MODELS[f.model].webhook_name) for f in page],
                                          "next": nxt}}


async def list_fields(request: Request) -> JSONResponse:
    """``GET /v1/integrations/{integration_id}/integration-fields``."""
    return JSONResponse(await run_in_threadpool(_list, request.app.state.store, request))


def _set(store: Store, integration: Integration, field: str, enabled: bool) -> dict[str, Any]:
    changed = store.set_field_passthrough(integration.id, field, enabled)  # type: ignore[attr-defined]
    if changed is None:
        raise FieldNotFound(f"No integration field with id {field!r} on integration {integration.id!r}; "
                            f"list them with GET /v1/integrations/{integration.id}/integration-fields.")
    return {"status": "success", "data": field_json(changed, MODELS[changed.model].webhook_name)}


async def patch_field(request: Request) -> JSONResponse:
    """``PATCH /v1/integrations/{integration_id}/integration-fields/{integration_field_id}`` (admin key)."""
    store: Store = request.app.state.store
    integration = await run_in_threadpool(admin_integration, store, request, "Changing an integration field")
    body = _validate(await _parse(request, True), PATCH_BODY["properties"], _PATCH_VALIDATOR)
    enabled = bool(body["enable_passthrough"])  # null, as the SDK may send, turns it off
    field = request.path_params["integration_field_id"]
    return JSONResponse(await run_in_threadpool(_set, store, integration, field, enabled))


def with_integration_fields(store: Store, iid: str, model: str, page: list[StoredRecord],
                            results: list[dict[str, Any]]) -> None:
    """Append the passed-through fields to each result's ``integration_fields`` (*results* are
    *page*'s records in order). One store call when none is on; else two more."""
    if model not in FIELD_MODELS or not page:
        return
    enabled = store.passthrough_fields(iid, model)  # type: ignore[attr-defined]
    if not enabled:
        return
    found = source_objects(store, iid, model, page)
    if found is None:
        return
    custom, sources = found
    for own, out in zip(sources, results):
        out["integration_fields"] = [*(out.get("integration_fields") or []), *passthrough_values(enabled, own, custom)]


def source_objects(store: Store, iid: str, model: str, page: list[StoredRecord]
                   ) -> tuple[dict[str, str] | None, list[dict[str, Any]]] | None:
    """``(custom-field spec, the source-call object of each record of *page* in order)`` as read
    from the stored ``remote_data`` (``{}`` for a record without one); ``None`` when the
    integration's specs do not map *model*. Two store calls."""
    integration = store.get_integration(iid)
    source = source_keys(integration).get(model) if integration is not None else None
    if source is None:
        return None
    custom = _custom_spec(integration.connector, model)  # type: ignore[union-attr]
    stored = store.get_many(iid, model, [r.id for r in page])
    sources = []
    for rec in page:
        remote = stored[rec.id].remote_data if rec.id in stored else None
        own = remote.get(source) if isinstance(remote, dict) else None
        sources.append(own if isinstance(own, dict) else {})
    return custom, sources


def field_routes() -> list[Route]:
    """The integration-fields routes and the tools route."""
    return [Route(FIELDS_PATH, list_fields, methods=["GET"]), Route(FIELD_PATH, patch_field, methods=["PATCH"]),
            *coverage_routes()]

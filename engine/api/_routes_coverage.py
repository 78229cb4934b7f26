"""``GET /v1/tools/{category}`` (Kombo's ``GetToolsCategory``): the installed connectors with
their coverage, in the shape of Kombo's SDK model ``GetToolsCategoryPositiveResponse``.

Everything comes from what connectors declare: ``ConnectorInfo`` (name, label, custom fields),
the mapping specs (a read model is ``SUPPORTED`` when the connector has a spec for it; a field
mapped to a literal ``null`` or fixed to an empty value is ``UNSUPPORTED``, one the spec leaves
out ``NOT_IMPLEMENTED``)
and ``lmsync_action_requirements`` (a write action the connector lists is ``SUPPORTED``).
"""

from __future__ import annotations

import functools
import html
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from engine.connector import ConnectorInfo
from engine.models import MODELS
from engine.plugins import connectors, get_plugin_manager
from engine.spec import SpecSet, function_set
from engine.spec._dirs import load_connector_specs
from engine.store.base import Store
from engine.webhooks._payloads import public_url

from ._auth import authenticate
from ._errors import InputInvalid
from ._fields_openapi import TOOL_CATEGORIES, TOOLS_PATH
from ._integration_json import _MODEL_LABELS, WRITE_ACTIONS

__all__ = ["coverage_routes", "tool_json", "connector_specs", "installed"]

_NULL_LITERALS = ("`null`", "null")


@functools.lru_cache(maxsize=1)
def installed() -> dict[str, ConnectorInfo]:
    """The installed connectors by name, asked for once per process (building a ``ConnectorInfo``
    may read a connector's reference files)."""
    return connectors(get_plugin_manager())


@functools.lru_cache(maxsize=None)
def connector_specs(connector: str) -> SpecSet:
    """The connector's loaded specs (the operator's overrides applied), loaded once per process."""
    info = installed()[connector]
    return load_connector_specs(connector, info.mappings, function_set(get_plugin_manager()),
                                known_calls=info.known_calls)[0]


def _field_status(spec: Any, name: str) -> str:
    mapped = {fm.name: fm.expr.source.strip() for fm in spec.fields}
    if name in mapped:
        return "UNSUPPORTED" if mapped[name] in _NULL_LITERALS else "SUPPORTED"
    if name == "integration_fields":  # filled when a page is composed (``_routes_fields``)
        return "SUPPORTED"
    if name in spec.defaults:  # a fixed empty value carries nothing from the remote
        return "UNSUPPORTED" if spec.defaults[name] in (None, {}, []) else "SUPPORTED"
    return "NOT_IMPLEMENTED"


def _read_models(specset: SpecSet) -> list[dict[str, Any]]:
    out = []
    for name, model in MODELS.items():
        spec = specset.specs.get(name)
        fields = [{"id": f, "coverage_status": _field_status(spec, f) if spec is not None else "NOT_IMPLEMENTED"}
                  for f in model.fields]
        out.append({"id": model.webhook_name, "label": _MODEL_LABELS.get(name, name),
                    "coverage_status": "SUPPORTED" if spec is not None else "NOT_IMPLEMENTED", "fields": fields})
    return out


def _write_actions(connector: str) -> list[dict[str, Any]]:
    actions: set[str] = set()
    for table in get_plugin_manager().hook.lmsync_action_requirements(connector=connector):
        actions.update(table or {})
    return [{"id": aid, "label": label, "coverage_status": "SUPPORTED" if short in actions else "NOT_IMPLEMENTED",
             "fields": []} for aid, short, label in WRITE_ACTIONS]


def _features(info: ConnectorInfo) -> list[dict[str, Any]]:
    return [
        {"id": "integration_fields", "label": "Integration fields (raw remote fields passed through)",
         "coverage_status": "SUPPORTED"},
        {"id": "custom_integration_fields", "label": "The remote's custom fields as integration fields",
         "coverage_status": "SUPPORTED" if info.custom_fields else "UNSUPPORTED"},
    ]


def tool_json(info: ConnectorInfo) -> dict[str, Any]:
    """One connector in the GetToolsCategory ``tools`` item shape."""
    specset = connector_specs(info.name)
    assets = f"{public_url()}/assets/tools/{info.name}"  # served by this lmsync (tool_asset), nothing external
    return {
        "id": info.name,
        "label": info.label,
        "internal_label": None,
        "assets": {"logo_url": f"{assets}/logo.svg", "icon_url": f"{assets}/icon.svg",
                   "icon_black_url": f"{assets}/icon-black.svg"},
        "paid_api_details_markdown": None,
        "fast_track_details_markdown": None,
        "partner_only_details_markdown": None,
        "connection_guide_url": None,
        "coverage": {"read_models": _read_models(specset), "write_actions": _write_actions(info.name),
                     "features": _features(info)},
    }


def _tools(store: Store, request: Request) -> dict[str, Any]:
    authenticate(store, request)
    category = request.path_params["category"]
    if request.query_params:
        raise InputInvalid(f"GET /v1/tools/{{category}} takes no query parameters; got {next(iter(request.query_params))!r}.")
    if category not in TOOL_CATEGORIES:
        raise InputInvalid(f"Unknown tool category {category!r}; expected one of {', '.join(TOOL_CATEGORIES)}.")
    tools = installed() if category == "lms" else {}  # every connector is an LMS one
    return {"status": "success", "data": {"tools": [tool_json(info) for info in tools.values()]}}


async def get_tools(request: Request) -> JSONResponse:
    """``GET /v1/tools/{category}``."""
    return JSONResponse(await run_in_threadpool(_tools, request.app.state.store, request))


_ASSET = ('<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64" role="img" aria-label="{label}">'
          '<rect width="64" height="64" rx="12" fill="{bg}"/><text x="32" y="42" font-family="sans-serif" font-size="30" '
          'text-anchor="middle" fill="{fg}">{initial}</text></svg>')


async def tool_asset(request: Request) -> Response:
    """``GET /assets/tools/{tool}/{logo|icon|icon-black}.svg``: a plain lettered badge for a tool
    (the tools answer needs asset URLs; a connector without its own artwork gets this one)."""
    info = installed().get(request.path_params["tool"])
    kind = request.path_params["kind"]
    if info is None or kind not in ("logo", "icon", "icon-black"):
        return Response("not found", status_code=404, media_type="text/plain")
    dark = kind == "icon-black"
    svg = _ASSET.format(label=html.escape(info.label), initial=html.escape(info.label[:1].upper()),
                        bg="#000000" if dark else "#e8eef7", fg="#ffffff" if dark else "#1b3a6b")
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"})


def coverage_routes() -> list[Route]:
    """The tools route and the tools' asset badges."""
    return [Route(TOOLS_PATH, get_tools, methods=["GET"]),
            Route("/assets/tools/{tool}/{kind}.svg", tool_asset, methods=["GET"])]

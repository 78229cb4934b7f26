"""The served OpenAPI of the integration-fields and tools routes (``_routes_fields``,
``_routes_coverage``): Kombo's ``GetIntegrationsIntegrationIdIntegrationFields``,
``PatchIntegrationsIntegrationIdIntegrationFieldsIntegrationFieldId`` and ``GetToolsCategory``,
which the LMS contract does not carry. The shapes are those of Kombo's Python SDK models
(``kombo.models.getintegrationsintegrationidintegrationfieldspositiveresponse``,
``…patchintegrationsintegrationidintegrationfieldsintegrationfieldid…``,
``kombo.models.gettoolscategorypositiveresponse``).

The contract types the ``value`` of a record's ``integration_fields`` entry as ``null`` (its
generator's rendering of "any"; Kombo's own example carries strings): the served document
accepts any JSON value there."""

from __future__ import annotations

from typing import Any

__all__ = ["add_fields_operations", "FIELDS_OPERATIONS", "FIELDS_PATH", "FIELD_PATH", "TOOLS_PATH", "PATCH_BODY",
           "TOOL_CATEGORIES", "COVERAGE_STATUSES"]

FIELDS_PATH = "/v1/integrations/{integration_id}/integration-fields"
FIELD_PATH = "/v1/integrations/{integration_id}/integration-fields/{integration_field_id}"
TOOLS_PATH = "/v1/tools/{category}"
# (served path, method) of the operations this module adds
FIELDS_OPERATIONS: tuple[tuple[str, str], ...] = ((FIELDS_PATH, "get"), (FIELD_PATH, "patch"), (TOOLS_PATH, "get"))
TOOL_CATEGORIES = ("hris", "ats", "assessment", "lms")
COVERAGE_STATUSES = ("SUPPORTED", "UNSUPPORTED", "NOT_IMPLEMENTED", "UNKNOWN")
PATCH_BODY: dict[str, Any] = {
    "type": "object",
    "properties": {"enable_passthrough": {"type": ["boolean", "null"],
                                          "description": "true: show the field in the model's integration_fields; "
                                                         "false (or null): stop."}},
    "required": ["enable_passthrough"],
    "additionalProperties": False,
}
_ERROR = {"$ref": "#/components/responses/ErrorResponseGeneral"}
_STR = {"type": "string"}
_NULLABLE = {"type": ["string", "null"]}
_STATUS = {"type": "string", "enum": list(COVERAGE_STATUSES)}
_FIELD = {
    "type": "object",
    "properties": {
        "id": {**_STR, "description": "The unique ID of the field (stable per integration, model, type and key)."},
        "key": {**_STR, "description": "The key of the field in the remote system."},
        "model": {**_STR, "description": "The model the field is associated with (e.g. lms_users)."},
        "type": {"type": "string", "enum": ["DEFAULT", "CUSTOM"]},
        "label": {**_NULLABLE, "description": "The label of the field in the remote system."},
        "is_passthrough_enabled": {"type": "boolean"},
        "is_writable": {"type": "boolean", "const": False},
    },
    "required": ["id", "key", "model", "type", "label", "is_passthrough_enabled", "is_writable"],
}


def _entry(fields_item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": ["id", "label", "coverage_status", "fields"], "properties": {
        "id": _STR, "label": _STR, "coverage_status": _STATUS,
        "fields": {"type": "array", "items": fields_item}}}


_COVERAGE_FIELD = {"type": "object", "required": ["id", "coverage_status"], "properties": {"id": _STR, "coverage_status": _STATUS}}
_TOOL = {
    "type": "object",
    "required": ["id", "label", "internal_label", "assets", "paid_api_details_markdown", "fast_track_details_markdown",
                 "partner_only_details_markdown", "connection_guide_url", "coverage"],
    "properties": {
        "id": _STR, "label": _STR, "internal_label": _NULLABLE,
        "assets": {"type": "object", "required": ["logo_url", "icon_url", "icon_black_url"],
                   "properties": {"logo_url": _STR, "icon_url": _STR, "icon_black_url": _STR}},
        "paid_api_details_markdown": _NULLABLE, "fast_track_details_markdown": _NULLABLE,
        "partner_only_details_markdown": _NULLABLE, "connection_guide_url": _NULLABLE,
        "coverage": {"type": "object", "required": ["read_models", "write_actions", "features"], "properties": {
            "read_models": {"type": "array", "items": _entry(_COVERAGE_FIELD)},
            "write_actions": {"type": "array", "items": _entry(_COVERAGE_FIELD)},
            "features": {"type": "array", "items": {"type": "object", "required": ["id", "label", "coverage_status"],
                                                     "properties": {"id": _STR, "label": _STR, "coverage_status": _STATUS}}},
        }},
    },
}


def _answer(data: dict[str, Any], description: str) -> dict[str, Any]:
    schema = {"type": "object", "required": ["status", "data"],
              "properties": {"status": {"type": "string", "const": "success"}, "data": data}}
    return {"200": {"description": description, "content": {"application/json": {"schema": schema}}}, "default": _ERROR}


def _param(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema or {"type": "string"}, "description": description}


def _operations() -> dict[str, dict[str, Any]]:
    page = {"type": "object", "required": ["results", "next"], "properties": {
        "results": {"type": "array", "items": _FIELD}, "next": _NULLABLE}}
    listing = {
        "operationId": "GetIntegrationsIntegrationIdIntegrationFields",
        "summary": "Get integration fields",
        "description": "The raw fields the integration's synced answers carry, per model (DEFAULT: keys of the "
                       "source answer; CUSTOM: the remote's custom fields). The first page rescans models synced since.",
        "tags": ["General"],
        "parameters": [
            _param("integration_id", "ID of the integration."),
            {"name": "cursor", "in": "query", "required": False, "schema": {"type": "string"},
             "description": "The `next` value of the previous page."},
            {"name": "page_size", "in": "query", "required": False,
             "schema": {"type": "integer", "minimum": 1, "maximum": 2000, "default": 100},
             "description": "The number of results per page. Maximum is 2000."},
        ],
        "responses": _answer(page, "A page of integration fields."),
    }
    patch = {
        "operationId": "PatchIntegrationsIntegrationIdIntegrationFieldsIntegrationFieldId",
        "summary": "Updates an integration field's passthrough setting (admin API key)",
        "description": "When enabled, the field is part of the `integration_fields` array of its model's read "
                       "endpoint, its value read from the stored remote data.",
        "tags": ["General"],
        "parameters": [_param("integration_id", "ID of the integration."),
                       _param("integration_field_id", "ID of the integration field.")],
        "requestBody": {"required": True, "content": {"application/json": {"schema": PATCH_BODY}}},
        "responses": _answer(_FIELD, "The field after the change."),
    }
    tools = {
        "operationId": "GetToolsCategory",
        "summary": "Get tools",
        "description": "The connectors installed on this server with their coverage (read models and their fields, "
                       "write actions, features). Categories other than lms have no tools here.",
        "tags": ["General"],
        "parameters": [_param("category", "The tool category.", {"type": "string", "enum": list(TOOL_CATEGORIES)})],
        "responses": _answer({"type": "object", "required": ["tools"],
                              "properties": {"tools": {"type": "array", "items": _TOOL}}}, "The tools."),
    }
    return {FIELDS_PATH: {"get": listing}, FIELD_PATH: {"patch": patch}, TOOLS_PATH: {"get": tools}}


def _any_value(node: Any) -> None:
    """Every ``integration_fields`` item's ``value`` accepts any JSON value."""
    if isinstance(node, dict):
        items = node.get("integration_fields", {}).get("items") if isinstance(node.get("integration_fields"), dict) else None
        if isinstance(items, dict) and isinstance(items.get("properties", {}).get("value"), dict):
            items["properties"]["value"] = {"description": "The field's value, as the remote answered it."}
        for child in node.values():
            _any_value(child)
    elif isinstance(node, list):
        for child in node:
            _any_value(child)


def add_fields_operations(doc: dict[str, Any]) -> None:
    """Add the integration-fields and tools operations; loosen ``integration_fields[].value``."""
    doc["paths"].update(_operations())
    _any_value(doc["components"]["schemas"])

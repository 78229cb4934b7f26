"""The served OpenAPI of the scope-config admin routes (``_scope_configs``: list, create, replace
and bind scope configs, set an integration's opt-outs; lmsync extensions, the Kombo contract has
no such operations) and of the custom-field routes (``_routes_custom_fields``:
Kombo's ``GetIntegrationsIntegrationIdCustomFields`` and
``PutIntegrationsIntegrationIdCustomFieldsCustomFieldId``, which the LMS contract does not carry;
their shapes are those of Kombo's SDK models). The custom fields are the keys a scope config
declares, hence one module."""

from __future__ import annotations

from typing import Any

from engine.models import MODELS
from engine.scope_config import ACTION_NAMES, CUSTOM_FIELD_MODELS, SETTINGS

__all__ = ["add_scope_config_operations", "SCOPE_CONFIG_OPERATIONS", "SCOPE_CONFIGS_PATH", "SCOPE_CONFIG_PATH",
           "BIND_PATH", "OPT_OUTS_PATH",
           "CUSTOM_FIELDS_PATH", "CUSTOM_FIELD_PATH", "CUSTOM_FIELD_PUT_BODY", "CUSTOM_FIELDS_MAX_PAGE"]

SCOPE_CONFIGS_PATH = "/v1/scope-configs"
SCOPE_CONFIG_PATH = "/v1/scope-configs/{config_id}"
OPT_OUTS_PATH = "/v1/integrations/{integration_id}/opt-outs"
BIND_PATH = "/v1/integrations/{integration_id}/scope-config"
CUSTOM_FIELDS_PATH = "/v1/integrations/{integration_id}/custom-fields"
CUSTOM_FIELD_PATH = "/v1/integrations/{integration_id}/custom-fields/{custom_field_id}"
# (served path, method) of the operations this module adds
SCOPE_CONFIG_OPERATIONS: tuple[tuple[str, str], ...] = (
    (SCOPE_CONFIGS_PATH, "get"), (SCOPE_CONFIGS_PATH, "post"), (SCOPE_CONFIG_PATH, "put"), (BIND_PATH, "put"),
    (OPT_OUTS_PATH, "put"),
    (CUSTOM_FIELDS_PATH, "get"), (CUSTOM_FIELD_PATH, "put"))
CUSTOM_FIELDS_MAX_PAGE = 250  # as Kombo's SDK documents it
CUSTOM_FIELD_PUT_BODY: dict[str, Any] = {
    "type": "object", "required": ["integration_field_id"], "additionalProperties": False,
    "properties": {"integration_field_id": {"type": ["string", "null"], "description":
                                            "The integration field to read the value from; null: unmap."}}}

_ERROR = {"$ref": "#/components/responses/ErrorResponseGeneral"}
_STR = {"type": "string"}
_NULLABLE = {"type": ["string", "null"]}
_TAGS = ["lmsync extensions"]
_INTEGRATION_ID = {"name": "integration_id", "in": "path", "required": True, "schema": _STR,
                   "description": "ID of the integration."}
_SETTING = {"type": "string", "enum": list(SETTINGS)}
_CONFIG_REF = {"type": "object", "required": ["id", "name"], "properties": {"id": _STR, "name": _STR}}


def _envelope(data: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": ["status", "data"],
            "properties": {"status": {"type": "string", "const": "success"}, "data": data}}


def _ok(description: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"200": {"description": description, "content": {"application/json": {"schema": _envelope(data)}}},
            "default": _ERROR}


def _settings(keys: list[str], what: str) -> dict[str, Any]:
    return {"type": "object", "propertyNames": {"enum": keys}, "additionalProperties": _SETTING,
            "description": f"{what} -> ENABLED | DISABLED | OPTIONAL; anything not named is ENABLED."}


def _config_settings() -> dict[str, Any]:
    """The settings of a scope config (its JSON form, ``engine.scope_config``)."""
    declared = {"type": "object", "required": ["key"], "additionalProperties": False,
                "properties": {"key": {"type": "string", "minLength": 1, "maxLength": 100}, "label": _NULLABLE}}
    return {
        "models": _settings(list(MODELS), "Model"),
        "fields": {**_settings([f"{m}.{f}" for m, model in MODELS.items() for f in model.fields], "`model.field`"),
                   "description": "`model.field` -> ENABLED | DISABLED | OPTIONAL; anything not named is ENABLED. "
                                  "Only fields whose unified schema allows null can be DISABLED."},
        "actions": _settings([*ACTION_NAMES, *ACTION_NAMES.values()], "Write action (lmsync name or Kombo id)"),
        "store_remote_data": {"type": "boolean", "description": "false: records are stored and served with "
                                                                "`remote_data: {}`."},
        "custom_fields": {"type": "object", "propertyNames": {"enum": list(CUSTOM_FIELD_MODELS)},
                          "additionalProperties": {"type": "array", "items": declared},
                          "description": "The API client's own keys per model, mapped per integration with "
                                         "PUT /v1/integrations/{integration_id}/custom-fields/{custom_field_id}."},
    }


def _config() -> dict[str, Any]:
    return {"type": "object", "required": ["id", "name", "models", "fields", "actions", "store_remote_data", "created_at"],
            "properties": {"id": _STR, "name": _STR, **_config_settings(),
                           "created_at": {"type": ["string", "null"], "format": "date-time"}}}


def _scope_config_paths() -> dict[str, Any]:
    admin = " Needs an API key not limited to integrations (403 otherwise)."
    listing = {
        "operationId": "GetScopeConfigs", "summary": "List scope configs (lmsync extension; admin API key)",
        "description": "Every stored scope config with its settings." + admin, "tags": _TAGS,
        "responses": _ok("The scope configs.", {"type": "object", "required": ["results"], "properties": {
            "results": {"type": "array", "items": _config()}}}),
    }
    create = {
        "operationId": "PostScopeConfigs", "summary": "Create a scope config (lmsync extension; admin API key)",
        "description": "A named scope config: which models, fields and write actions an integration bound to it "
                       "reads, stores and serves. The settings are validated as `lmsync scope-configs add` does; a "
                       "name already taken is refused (400)." + admin, "tags": _TAGS,
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["name"], "additionalProperties": False,
            "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": r"\S"},
                           **_config_settings()}}}}},
        "responses": _ok("The scope config created.", _config()),
    }
    bind = {
        "operationId": "PutIntegrationsIntegrationIdScopeConfig",
        "summary": "Bind an integration to a scope config (lmsync extension; admin API key)",
        "description": "The integration reads, stores and serves what the config allows from now on (its next "
                       "sync removes what the config no longer covers)." + admin, "tags": _TAGS,
        "parameters": [_INTEGRATION_ID],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["scope_config_id"],
            "properties": {"scope_config_id": {"type": "string", "minLength": 1,
                                               "description": "The scope config's id or name."}}}}}},
        "responses": _ok("The integration and its scope config.", {
            "type": "object", "required": ["integration_id", "scope_config"], "properties": {
                "integration_id": _STR, "scope_config": _CONFIG_REF}}),
    }
    update = {
        "operationId": "PutScopeConfigsConfigId", "summary": "Replace a scope config's settings (lmsync extension; "
                                                            "admin API key)",
        "description": "The settings are replaced as a whole (what is not named is ENABLED); the name stays. Every "
                       "integration bound to the config follows it from its next request and sync; an unknown "
                       "config is a 404." + admin, "tags": _TAGS,
        "parameters": [{"name": "config_id", "in": "path", "required": True, "schema": _STR,
                        "description": "The scope config's id or name."}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "additionalProperties": False, "properties": _config_settings()}}}},
        "responses": _ok("The scope config after the change.", _config()),
    }
    opt_outs = {
        "operationId": "PutIntegrationsIntegrationIdOptOuts",
        "summary": "Set the items the customer opts out of (lmsync extension; admin API key)",
        "description": "Replaces the integration's opt-outs: OPTIONAL items of its scope config (`models.MODEL`, "
                       "`fields.MODEL.FIELD`, `actions.ACTION`) that are then answered as DISABLED; an item that "
                       "is not OPTIONAL is refused (400, naming it). The Connect page records the same." + admin,
        "tags": _TAGS, "parameters": [_INTEGRATION_ID],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["opt_outs"],
            "properties": {"opt_outs": {"type": "array", "items": _STR}}}}}},
        "responses": _ok("The integration's scope config and opt-outs.", {
            "type": "object", "required": ["integration_id", "scope_config", "opt_outs"], "properties": {
                "integration_id": _STR, "scope_config": _CONFIG_REF, "opt_outs": {"type": "array", "items": _STR}}}),
    }
    return {SCOPE_CONFIGS_PATH: {"get": listing, "post": create}, SCOPE_CONFIG_PATH: {"put": update},
            BIND_PATH: {"put": bind}, OPT_OUTS_PATH: {"put": opt_outs}}


def _custom_field() -> dict[str, Any]:
    mapped = {"type": ["object", "null"], "required": ["id", "key", "type", "label"], "properties": {
        "id": _STR, "key": _STR, "type": {"type": "string", "enum": ["DEFAULT", "CUSTOM"]}, "label": _NULLABLE},
        "description": "The integration field the value is read from (null: unmapped, the value is null)."}
    return {"type": "object", "required": ["id", "key", "model", "label", "description", "integration_field"],
            "properties": {
                "id": {**_STR, "description": "The unique ID of the custom field (stable per integration, model and key)."},
                "key": {**_STR, "description": "The key declared in the scope config; read results carry "
                                               "`custom_fields: {key: value}`."},
                "model": {"type": "string", "enum": [MODELS[m].webhook_name for m in CUSTOM_FIELD_MODELS]},
                "label": _NULLABLE, "description": _NULLABLE, "integration_field": mapped}}


def _custom_field_paths() -> dict[str, Any]:
    listing = {
        "operationId": "GetIntegrationsIntegrationIdCustomFields", "summary": "Get custom fields with current mappings",
        "description": "The custom fields the integration's scope config declares, each with the integration "
                       "field it is mapped to.", "tags": ["General"],
        "parameters": [_INTEGRATION_ID,
                       {"name": "cursor", "in": "query", "required": False, "schema": _STR,
                        "description": "The `next` of the previous page."},
                       {"name": "page_size", "in": "query", "required": False,
                        "schema": {"type": "integer", "minimum": 1, "maximum": CUSTOM_FIELDS_MAX_PAGE, "default": 100}}],
        "responses": _ok("A page of custom fields.", {"type": "object", "required": ["results", "next"], "properties": {
            "results": {"type": "array", "items": _custom_field()}, "next": _NULLABLE}}),
    }
    put = {
        "operationId": "PutIntegrationsIntegrationIdCustomFieldsCustomFieldId", "summary": "Put custom field mappings",
        "description": "Map the custom field to one of the integration's fields of the same model (or unmap it "
                       "with null). Needs an API key not limited to integrations (403 otherwise).",
        "tags": ["General"],
        "parameters": [_INTEGRATION_ID, {"name": "custom_field_id", "in": "path", "required": True, "schema": _STR,
                                         "description": "The unique ID of the custom field."}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": CUSTOM_FIELD_PUT_BODY}}},
        "responses": _ok("The custom field after the change.", _custom_field()),
    }
    return {CUSTOM_FIELDS_PATH: {"get": listing}, CUSTOM_FIELD_PATH: {"put": put}}


def add_scope_config_operations(doc: dict[str, Any]) -> None:
    """Add the scope-config admin operations and the custom-field operations to *doc*."""
    doc["paths"].update(_scope_config_paths())
    doc["paths"].update(_custom_field_paths())

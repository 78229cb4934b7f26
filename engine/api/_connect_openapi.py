"""The served OpenAPI of the Connect routes (``_routes_connect``): Kombo's create-link,
integration-by-token and relink operations, which the LMS contract does not carry, and the
lmsync extension ``GET /v1/connect/links/{link_id}``. Bodies are ``schemas/lmsync-connect-*``."""

from __future__ import annotations

from typing import Any

from engine.connect import EMAIL_PATTERN
from engine.plugins import connectors, get_plugin_manager
from schemas._loader import load_schema

__all__ = ["add_connect_operations", "CONNECT_OPERATIONS"]

CREATE_LINK_PATH = "/v1/connect/create-link"
BY_TOKEN_PATH = "/v1/connect/integration-by-token/{token}"
RELINK_PATH = "/v1/integrations/{integration_id}/relink"
LINK_STATE_PATH = "/v1/connect/links/{link_id}"
# (served path, method) of the operations this module adds
CONNECT_OPERATIONS: tuple[tuple[str, str], ...] = (
    (CREATE_LINK_PATH, "post"), (BY_TOKEN_PATH, "get"), (RELINK_PATH, "post"), (LINK_STATE_PATH, "get"))
_ERROR = {"$ref": "#/components/responses/ErrorResponseGeneral"}
_NULLABLE = {"type": ["string", "null"]}
_END_USER = {"type": "object", "required": ["organization_name", "creator_email", "origin_id"], "properties": {
    "organization_name": _NULLABLE, "creator_email": _NULLABLE, "origin_id": _NULLABLE}}


def _answer(data: dict[str, Any], description: str) -> dict[str, Any]:
    schema = {"type": "object", "required": ["status", "data"],
              "properties": {"status": {"type": "string", "const": "success"}, "data": data}}
    return {"200": {"description": description, "content": {"application/json": {"schema": schema}}}, "default": _ERROR}


def _body(schema_file: str, required: bool) -> dict[str, Any]:
    """The body schema, narrowed to what is accepted: the schema file keeps the Kombo fields
    loose so that the route's own checks answer with a message naming the field and the fix."""
    schema = {k: v for k, v in load_schema(schema_file).items() if k not in ("$schema", "$id")}
    props = schema["properties"]
    if "remote_environment" in props:
        props["remote_environment"] = {**props["remote_environment"], "type": "null"}
    for name in ("enable_filtering", "enable_field_mapping", "enable_static_ips"):
        if name in props:
            props[name] = {**props[name], "const": False}
    if "end_user_email" in props:
        props["end_user_email"] = {**props["end_user_email"], "pattern": EMAIL_PATTERN}
        props["end_user_organization_name"] = {**props["end_user_organization_name"], "pattern": r"\S"}
        tools = sorted(connectors(get_plugin_manager()))
        props["integration_tool"] = {**props["integration_tool"], "enum": [*tools, None]}
        props["integration_tool"].pop("type", None)
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def _path_param(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}, "description": description}


_LINK = {"type": "object", "required": ["link"], "properties": {"link": {"type": "string", "description":
         "{LMSYNC_PUBLIC_URL}/connect/{token}: open it once, before it expires."}}}
_BY_TOKEN = {"type": "object", "required": ["id", "tool", "end_user_origin_id", "end_user_organization_name",
                                             "end_user_email", "setup_status"], "properties": {
    "id": {"type": "string"}, "tool": {"type": "string"}, "end_user_origin_id": _NULLABLE,
    "end_user_organization_name": {"type": "string"}, "end_user_email": _NULLABLE,
    "setup_status": {"type": "string", "enum": ["INCOMPLETE", "FINAL_SYNC_PENDING", "COMPLETED"]}}}
_STATE = {"type": "object", "required": ["id", "kind", "link_type", "state", "integration_id", "end_user", "expires_at"],
          "properties": {
              "id": {"type": "string"}, "kind": {"type": "string", "enum": ["CREATE", "RELINK", "EXCHANGE"]},
              "link_type": {"type": "string", "enum": ["EMBEDDED", "MAGIC_LINK", "EXCHANGE"]},
              "state": {"type": "string", "enum": ["ACTIVE", "USED", "EXPIRED"]}, "integration_id": _NULLABLE,
              "integration_tool": _NULLABLE, "language": _NULLABLE, "end_user": _END_USER,
              "scope_config_id": {"type": ["string", "null"], "description": "The scope config the flow binds."},
              "created_at": {"type": "string"}, "expires_at": {"type": "string"}, "used_at": _NULLABLE}}


def _operations() -> dict[str, dict[str, Any]]:
    admin = " Needs an admin API key (403 otherwise)."
    return {
        CREATE_LINK_PATH: {"post": {
            "operationId": "PostConnectCreateLink", "tags": ["Kombo Connect"], "summary": "Create connection link",
            "description": "A single-use link for an end user to connect their LMS (EMBEDDED: 1 hour, MAGIC_LINK: 30 days)." + admin,
            "requestBody": _body("lmsync-connect-create-link.schema.json", True),
            "responses": _answer(_LINK, "The link.")}},
        BY_TOKEN_PATH: {"get": {
            "operationId": "GetConnectIntegrationByTokenToken", "tags": ["Kombo Connect"], "summary": "Get integration by token",
            "description": "The integration a completed flow made, for the token the flow returned; valid once "
                           "(then 410), for 1 hour." + admin,
            "parameters": [_path_param("token", "The token the connection flow returned.")],
            "responses": _answer(_BY_TOKEN, "The integration.")}},
        RELINK_PATH: {"post": {
            "operationId": "PostIntegrationsIntegrationIdRelink", "tags": ["Kombo Connect"], "summary": "Create reconnection link",
            "description": "A link that replaces the site URL and credentials of this integration; its id and every "
                           "synced record id stay." + admin,
            "parameters": [_path_param("integration_id", "ID of the integration.")],
            "requestBody": _body("lmsync-connect-relink.schema.json", False),
            "responses": _answer(_LINK, "The link.")}},
        LINK_STATE_PATH: {"get": {
            "operationId": "GetConnectLinksLinkId", "tags": ["lmsync extensions"], "summary": "A Connect link's state",
            "description": "Kind, end user, expiry and whether it was used (never the token)." + admin,
            "parameters": [_path_param("link_id", "ID of the link (the log_url of connection-flow-failed names it).")],
            "responses": _answer(_STATE, "The link's state.")}},
    }


def add_connect_operations(doc: dict[str, Any]) -> None:
    """Add the Connect operations to the served document."""
    for path, ops in _operations().items():
        doc["paths"].setdefault(path, {}).update(ops)

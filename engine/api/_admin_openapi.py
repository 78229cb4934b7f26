"""The served OpenAPI of ``PATCH /v1/integrations/{integration_id}`` (lmsync extension; the Kombo
contract has no such operation). Its body schema is ``schemas/lmsync-integration-patch.schema.json``."""

from __future__ import annotations

from typing import Any

from schemas._loader import load_schema

__all__ = ["add_admin_operations", "ADMIN_OPERATIONS", "INTEGRATION_PATH", "PATCH_SCHEMA"]

INTEGRATION_PATH = "/v1/integrations/{integration_id}"
PATCH_SCHEMA = "lmsync-integration-patch.schema.json"
# (served path, method) of the operations this module adds
ADMIN_OPERATIONS: tuple[tuple[str, str], ...] = ((INTEGRATION_PATH, "patch"),)


def _patch_operation() -> dict[str, Any]:
    body = {k: v for k, v in load_schema(PATCH_SCHEMA).items() if k not in ("$schema", "$id")}
    answer = {"allOf": [
        {"$ref": "#/components/schemas/GetIntegrationsIntegrationIdPositiveResponse"},
        {"type": "object", "required": ["warnings"], "properties": {
            "data": {"type": "object", "required": ["lmsync_scope_test_advised"], "properties": {
                "lmsync_scope_test_advised": {"type": "boolean", "description":
                                              "True when the site URL or the credentials changed: run a scope test."}}},
            "warnings": {"type": "array", "items": {"type": "object", "properties": {"message": {"type": "string"}},
                                                     "required": ["message"]}}}},
    ]}
    return {
        "operationId": "PatchIntegrationsIntegrationId",
        "summary": "Change an integration in place (lmsync extension; admin API key)",
        "description": "Credentials, site URL, settings and enabled flag, as `lmsync integrations update` changes "
                       "them: the integration id and every synced record id stay the same. Needs an API key not "
                       "limited to integrations (403 otherwise).",
        "tags": ["lmsync extensions"],
        "parameters": [{"name": "integration_id", "in": "path", "required": True, "schema": {"type": "string"},
                        "description": "ID of the integration."}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
        "responses": {"200": {"description": "The integration after the change.",
                              "content": {"application/json": {"schema": answer}}},
                      "default": {"$ref": "#/components/responses/ErrorResponseGeneral"}},
    }


def add_admin_operations(doc: dict[str, Any]) -> None:
    """Add ``PATCH`` to the served integration path (next to the contract's GET and DELETE)."""
    doc["paths"].setdefault(INTEGRATION_PATH, {})["patch"] = _patch_operation()

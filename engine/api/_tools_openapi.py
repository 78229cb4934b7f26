"""The served OpenAPI of the tool routes: the contract's passthrough operation and two lmsync
extensions (scope test, per-model test), which the Kombo contract does not have."""

from __future__ import annotations

from typing import Any

from engine.connector import SCOPE_STATES
from engine.models import MODELS

__all__ = ["add_tool_operations", "EXTENSION_OPERATIONS", "PASSTHROUGH_PATH", "SCOPE_TEST_PATH", "TEST_MODEL_PATH"]

PASSTHROUGH_PATH = "/passthrough/{tool}/{api}"
SCOPE_TEST_PATH = "/v1/integrations/{integration_id}/scope-test"
TEST_MODEL_PATH = "/v1/integrations/{integration_id}/test-model/{model}"
# (served path, method) of the operations lmsync adds to the contract
EXTENSION_OPERATIONS: tuple[tuple[str, str], ...] = ((SCOPE_TEST_PATH, "post"), (TEST_MODEL_PATH, "post"))
_ERROR = {"$ref": "#/components/responses/ErrorResponseAction"}
_STRINGS = {"type": "array", "items": {"type": "string"}}
_INTEGRATION_ID = {"name": "integration_id", "in": "path", "required": True, "schema": {"type": "string"},
                   "description": "ID of the integration."}


def _envelope(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "status": {"type": "string", "const": "success"},
            "data": data,
            "warnings": {"type": "array", "items": {"type": "object", "properties": {"message": {"type": "string"}}, "required": ["message"]}},
        },
        "required": ["status", "data", "warnings"],
    }


_SCOPE_ENTRY = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "A model (users, courses, …) or a write action (enroll, …)."},
        "kind": {"type": "string", "enum": ["model", "action"]},
        "status": {"type": "string", "enum": list(SCOPE_STATES)},
        "missing_functions": {**_STRINGS, "description": "Remote functions absent from the credentials' service."},
        "missing_capabilities": {**_STRINGS, "description": "Capabilities the remote user lacks."},
        "withheld_fields": {**_STRINGS, "description": "Remote fields withheld for lack of a capability (DEGRADED)."},
        "detail": {"type": "string"},
    },
    "required": ["name", "kind", "status", "missing_functions", "missing_capabilities", "withheld_fields", "detail"],
}
_SCOPE_REPORT = {
    "type": "object",
    "properties": {
        "entries": {"type": "array", "items": _SCOPE_ENTRY},
        "functions_to_add": {**_STRINGS, "description": "Every function an admin must add to the service."},
        "checklist": {**_STRINGS, "description": "Setup steps, in order."},
        "remote_info": {"type": "object", "description": "What the remote says about itself (never credentials)."},
    },
    "required": ["entries", "functions_to_add", "checklist", "remote_info"],
}
_PAGE = {
    "type": "object",
    "properties": {
        "index": {"type": "integer"},
        "call": {"type": "string"},
        "params": {"description": "The call's parameters (credentials are never included)."},
        "role": {"type": "string", "enum": ["source", "enrichment"]},
        "response_excerpt": {"type": "string"},
        "records_in_response": {"type": ["integer", "null"]},
        "mapped": {"type": "integer"},
        "invalid": {"type": "integer"},
        "records": {"type": "array", "items": {"type": "object"}},
        "errors": _STRINGS,
        "error": {"type": ["string", "null"]},
    },
    "required": ["index", "call", "params", "role", "response_excerpt", "mapped", "invalid", "records", "errors", "error"],
}
_MODEL_REPORT = {
    "type": "object",
    "properties": {
        "integration_id": {"type": "string"},
        "model": {"type": "string"},
        "verdict": {"type": "string", "enum": ["passed", "failed"]},
        "pages": {"type": "array", "items": _PAGE},
        "calls": {"type": "integer"},
        "extracted": {"type": "integer"},
        "mapped": {"type": "integer"},
        "invalid": {"type": "integer"},
        "truncated": {"type": "boolean"},
        "warnings": _STRINGS,
        "error": {"type": ["string", "null"]},
        "sample": {"type": "object", "additionalProperties": {"type": "integer"}},
    },
    "required": ["integration_id", "model", "verdict", "pages", "calls", "extracted", "mapped", "invalid", "truncated", "warnings", "error"],
}


def _extensions() -> dict[str, Any]:
    scope = {
        "operationId": "PostIntegrationsIntegrationIdScopeTest",
        "summary": "Test the integration's scope (lmsync extension)",
        "description": "Probes what the integration's credentials can read and write, per model and write action "
                       "(OK, DEGRADED, FORBIDDEN, MISSING), stores the result as the integration's availability "
                       "(shown by GET /integrations/{integration_id}) and returns the setup checklist.",
        "tags": ["lmsync extensions"],
        "parameters": [_INTEGRATION_ID],
        "responses": {"200": {"description": "The scope report.", "content": {"application/json": {"schema": _envelope(_SCOPE_REPORT)}}},
                      "default": _ERROR},
    }
    test = {
        "operationId": "PostIntegrationsIntegrationIdTestModel",
        "summary": "Test one model's mapping on a sample (lmsync extension)",
        "description": "Reads a small sample of the model from the remote, maps and validates it and reports every "
                       "remote call with what came of it. Nothing is stored.",
        "tags": ["lmsync extensions"],
        "parameters": [
            _INTEGRATION_ID,
            {"name": "model", "in": "path", "required": True, "schema": {"type": "string", "enum": list(MODELS)}},
            {"name": "pages", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1, "maximum": 10, "default": 1},
             "description": "Pages per paginated stream."},
            {"name": "parents", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1, "maximum": 50, "default": 3},
             "description": "Parent records per fan-out."},
        ],
        "responses": {"200": {"description": "The model test report.", "content": {"application/json": {"schema": _envelope(_MODEL_REPORT)}}},
                      "default": _ERROR},
    }
    return {SCOPE_TEST_PATH: {"post": scope}, TEST_MODEL_PATH: {"post": test}}


def add_tool_operations(doc: dict[str, Any]) -> None:
    """Give the served passthrough operation (if any) the full error envelope; add the extensions."""
    op = doc["paths"].get(f"/v1{PASSTHROUGH_PATH}", {}).get("post")
    if op is not None:
        op["responses"]["default"] = _ERROR
    doc["paths"].update(_extensions())

"""The Kombo LMS contract (shipped as ``engine/api/openapi-lms.json``), request-body validators
compiled once, and the OpenAPI document lmsync serves."""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from ._admin_openapi import add_admin_operations
from ._connect_openapi import add_connect_operations
from ._fields_openapi import add_fields_operations
from ._scope_configs_openapi import add_scope_config_operations
from ._tools_openapi import add_tool_operations

__all__ = ["contract", "body_validator", "served_openapi", "SERVED_OPERATIONS", "ACTION_OPERATIONS"]

_CONTRACT_URI = "urn:lmsync:kombo-lms-contract"

# The write actions. Their errors carry integration and remote codes too (INTEGRATION.*,
# REMOTE.*, as Kombo's do), which the contract's ErrorResponseGeneral enum leaves out; the
# served document gives them ErrorResponseAction, whose enum is the contract's full code list.
ACTION_OPERATIONS: tuple[tuple[str, str], ...] = (
    ("/lms/courses/bulk", "post"),
    ("/lms/courses/bulk/{task_id}", "get"),
    ("/lms/courses/{course_id}/deactivate", "post"),
    ("/lms/course-progressions", "post"),
    ("/lms/course-progressions/{course_progression_id}/complete", "post"),
)

# (contract path, method) pairs lmsync answers today.
SERVED_OPERATIONS: tuple[tuple[str, str], ...] = (
    ("/check-api-key", "get"),
    ("/force-sync", "post"),
    ("/integrations/{integration_id}", "get"),
    ("/integrations/{integration_id}", "delete"),
    ("/integrations/{integration_id}/enabled", "put"),
    ("/lms/users", "get"),
    ("/lms/skills", "get"),
    ("/lms/courses", "get"),
    ("/lms/course-progressions", "get"),
    *ACTION_OPERATIONS,
    ("/passthrough/{tool}/{api}", "post"),
)


@lru_cache(maxsize=1)
def contract() -> dict[str, Any]:
    """The parsed contract (do not mutate)."""
    return json.loads(resources.files("engine.api").joinpath("openapi-lms.json").read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _registry() -> Registry:
    return Registry().with_resource(_CONTRACT_URI, Resource(contract(), DRAFT202012))


@lru_cache(maxsize=None)
def body_validator(component: str) -> Draft202012Validator:
    """A compiled validator for ``#/components/schemas/<component>``."""
    ref = f"{_CONTRACT_URI}#/components/schemas/{component}"
    return Draft202012Validator({"$ref": ref}, registry=_registry())


def _all_error_codes(node: Any) -> list[str] | None:
    """The longest error-code enum in the contract (the one listing INTEGRATION.* and REMOTE.*)."""
    best: list[str] | None = None
    if isinstance(node, dict):
        enum = node.get("enum")
        if isinstance(enum, list) and "REMOTE.INPUT_INVALID" in enum:
            best = enum
        children = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return None
    for child in children:
        found = _all_error_codes(child)
        if found and (best is None or len(found) > len(best)):
            best = found
    return best


def _action_error_response(doc: dict[str, Any]) -> dict[str, Any]:
    response = copy.deepcopy(doc["components"]["responses"]["ErrorResponseGeneral"])
    response["description"] = "The error response of write actions: platform, integration and remote error codes."
    code = response["content"]["application/json"]["schema"]["properties"]["error"]["properties"]["code"]
    code["enum"] = list(_all_error_codes(doc["components"]["schemas"]) or code["enum"])
    return response


def _closed_request_bodies(doc: dict[str, Any], paths: dict[str, Any]) -> None:
    """Served request bodies say ``additionalProperties: false``: lmsync refuses unknown fields."""
    for ops in paths.values():
        for op in ops.values():
            schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            ref = schema.get("$ref", "")
            target = doc["components"]["schemas"].get(ref.rsplit("/", 1)[-1]) if ref else schema
            if isinstance(target, dict) and "properties" in target:
                target.setdefault("additionalProperties", False)


def served_openapi(operations: tuple[tuple[str, str], ...] = SERVED_OPERATIONS) -> dict[str, Any]:
    """The contract cut down to *operations*, with paths under ``/v1`` and a relative server."""
    doc = copy.deepcopy(contract())
    paths: dict[str, Any] = {}
    for path, method in operations:
        op = paths.setdefault(f"/v1{path}", {})[method] = doc["paths"][path][method]
        if (path, method) in ACTION_OPERATIONS:
            op["responses"]["default"] = {"$ref": "#/components/responses/ErrorResponseAction"}
    _closed_request_bodies(doc, paths)
    doc["components"]["responses"]["ErrorResponseAction"] = _action_error_response(doc)
    doc["paths"] = paths
    add_tool_operations(doc)
    add_admin_operations(doc)
    add_connect_operations(doc)
    add_fields_operations(doc)
    add_scope_config_operations(doc)
    doc["servers"] = [{"url": "/", "description": "this lmsync server"}]
    doc["info"] = {**doc["info"], "title": "lmsync (Kombo-compatible LMS API)"}
    doc.pop("webhooks", None)
    return doc

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

__all__ = ["contract", "body_validator", "served_openapi", "SERVED_OPERATIONS"]

_CONTRACT_URI = "urn:lmsync:kombo-lms-contract"

# (contract path, method) pairs lmsync answers today; action routes are added by a later step.
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


def served_openapi(operations: tuple[tuple[str, str], ...] = SERVED_OPERATIONS) -> dict[str, Any]:
    """The contract cut down to *operations*, with paths under ``/v1`` and a relative server."""
    doc = copy.deepcopy(contract())
    paths: dict[str, Any] = {}
    for path, method in operations:
        paths.setdefault(f"/v1{path}", {})[method] = doc["paths"][path][method]
    doc["paths"] = paths
    doc["servers"] = [{"url": "/", "description": "this lmsync server"}]
    doc["info"] = {**doc["info"], "title": "lmsync (Kombo-compatible LMS API)"}
    doc.pop("webhooks", None)
    return doc

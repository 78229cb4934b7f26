"""Our unified schemas match the Kombo LMS contract field for field.

The comparison walks the contract itself (not the generator in ``tools/``): property names,
types, nullability, required keys, enums and nested shapes must agree. Two documented
departures are allowed: nullable enums list ``null``, and a course revision declares the
``description`` the contract requires without describing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from engine.models import MODELS
from schemas._loader import SCHEMA_FILES, load_schema, model_validator

CONTRACT = json.loads(Path("/work/shared/kombo-lms/openapi-lms.json").read_text())
COMPONENTS = CONTRACT["components"]["schemas"]


def _resolve(node):
    while isinstance(node, dict) and "$ref" in node:
        node = COMPONENTS[node["$ref"].rsplit("/", 1)[-1]]
    return node


def norm(node) -> dict:
    """Reduce a schema to what the contract fixes: types, enum values, required, shape."""
    node = _resolve(node)
    types = node.get("type")
    out: dict = {"type": frozenset(types if isinstance(types, list) else [types] if types else [])}
    if "const" in node:
        out["const"] = node["const"]
    if "enum" in node:
        out["enum"] = frozenset(v for v in node["enum"] if v is not None)
    if "required" in node:
        out["required"] = frozenset(node["required"])
    if "properties" in node:
        out["properties"] = {k: norm(v) for k, v in node["properties"].items()}
    if "items" in node:
        out["items"] = norm(node["items"])
    if "oneOf" in node:
        out["oneOf"] = [norm(x) for x in node["oneOf"]]
    for key in ("minimum", "maximum", "exclusiveMinimum", "pattern", "additionalProperties"):
        if key in node and not isinstance(node[key], dict):
            out[key] = node[key]
    return out


def result_item(op_path: str) -> dict:
    schema = CONTRACT["paths"][op_path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    return _resolve(schema)["properties"]["data"]["properties"]["results"]["items"]


def body_schema(op_path: str, method: str = "post") -> dict:
    return _resolve(CONTRACT["paths"][op_path][method]["requestBody"]["content"]["application/json"]["schema"])


def with_revision_description(course_norm: dict) -> dict:
    rev = course_norm["properties"]["revisions"]["items"]
    rev["properties"].setdefault("description", {"type": frozenset({"string", "null"})})
    return course_norm


CASES = {
    "user.schema.json": lambda: norm(result_item("/lms/users")),
    "skill.schema.json": lambda: norm(result_item("/lms/skills")),
    "course.schema.json": lambda: with_revision_description(norm(result_item("/lms/courses"))),
    "course-revision.schema.json": lambda: with_revision_description(norm(result_item("/lms/courses")))[
        "properties"
    ]["revisions"]["items"],
    "course-progression.schema.json": lambda: norm(result_item("/lms/course-progressions")),
    "upsert-courses-item.schema.json": lambda: norm(body_schema("/lms/courses/bulk")["properties"]["items"]["items"]),
    "enroll.schema.json": lambda: norm(body_schema("/lms/course-progressions")),
    "complete.schema.json": lambda: norm(body_schema("/lms/course-progressions/{course_progression_id}/complete")),
    "deactivate.schema.json": lambda: norm(body_schema("/lms/courses/{course_id}/deactivate")),
}


def diff(expected, actual, path="$") -> list[str]:
    """Human-readable differences between two normalized schemas."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        out = []
        for key in expected.keys() | actual.keys():
            if key not in actual:
                out.append(f"{path}.{key}: missing in ours")
            elif key not in expected:
                out.append(f"{path}.{key}: not in contract")
            else:
                out += diff(expected[key], actual[key], f"{path}.{key}")
        return out
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        return [d for i, (e, a) in enumerate(zip(expected, actual)) for d in diff(e, a, f"{path}[{i}]")]
    return [] if expected == actual else [f"{path}: contract {expected!r} != ours {actual!r}"]


@pytest.mark.parametrize("file", sorted(CASES))
def test_schema_matches_contract(file):
    ours = load_schema(file)
    Draft202012Validator.check_schema(ours)
    ours = {k: v for k, v in ours.items() if k != "$defs"}
    assert diff(CASES[file](), norm(ours)) == []


def _walk(node):
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)


@pytest.mark.parametrize("file", SCHEMA_FILES)
def test_schema_header_and_nullable_enums(file):
    schema = load_schema(file)
    assert schema["$id"] == f"https://lmsync.dev/schemas/{file}"
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    for node in _walk(schema):
        if "enum" in node and isinstance(node.get("type"), list) and "null" in node["type"]:
            assert None in node["enum"], node


@pytest.mark.parametrize("model", sorted(MODELS))
def test_mapped_defs_cover_exactly_the_model_fields(model):
    info = MODELS[model]
    schema = load_schema(info.schema_file)
    mapped = schema["$defs"]["mapped"]
    assert list(mapped["properties"]) == list(info.fields)
    assert set(mapped["required"]) == set(info.fields)
    assert mapped["additionalProperties"] is False
    for name in info.fields:
        assert norm(mapped["properties"][name]) == norm(schema["properties"][name]), name


def test_revision_skill_join_model():
    schema = load_schema("revision-skill")
    expected = {"id", "remote_id", "course_revision_id", "skill_id", "changed_at", "remote_deleted_at", "remote_data"}
    assert set(schema["properties"]) == expected == set(schema["required"])
    assert schema["properties"]["remote_deleted_at"]["type"] == ["string", "null"]


def test_model_validator_rejects_bad_records():
    v = model_validator("course_progressions")
    good = {
        "user_id": "u",
        "course_revision_id": "r",
        "status": "COMPLETED",
        "enrolled_at": "2024-01-02T03:04:05.000Z",
        "completed_at": None,
    }
    assert list(v.iter_errors(good)) == []
    assert not v.is_valid({**good, "status": "DONE"})
    assert not v.is_valid({**good, "enrolled_at": "2024-13-02T03:04:05Z"})
    assert not v.is_valid({**good, "extra": 1})
    assert not v.is_valid({k: v_ for k, v_ in good.items() if k != "user_id"})
    assert model_validator("course_progressions") is v

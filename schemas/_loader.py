"""Load the unified JSON Schemas shipped as package data and compile validators once.

``load_schema("user")`` / ``load_schema("user.schema.json")`` returns the parsed schema;
``model_validator("users")`` returns a cached validator of ``<file>#/$defs/mapped`` (the unified
fields a mapping produces for that model), with ``date-time`` format checking enabled.
``fast_model_check("users")`` is the same check compiled to Python code by fastjsonschema (the
sync's hot path; ``jsonschema`` stays the reference and produces the error messages).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError
from referencing import Registry, Resource

from engine.errors import ConfigError

__all__ = ["SCHEMA_FILES", "load_schema", "model_validator", "validator_for", "registry", "FORMAT_CHECKER",
           "fast_model_check", "check_schemas"]

SCHEMA_FILES: tuple[str, ...] = (
    "user.schema.json",
    "skill.schema.json",
    "course.schema.json",
    "course-revision.schema.json",
    "course-progression.schema.json",
    "revision-skill.schema.json",
    "upsert-courses-item.schema.json",
    "enroll.schema.json",
    "complete.schema.json",
    "deactivate.schema.json",
    "lmsync-integration-patch.schema.json",
    "lmsync-connect-create-link.schema.json",
    "lmsync-connect-relink.schema.json",
)

_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")

FORMAT_CHECKER = FormatChecker()


@FORMAT_CHECKER.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    """RFC 3339 date-time (jsonschema skips this format unless an extra package is installed)."""
    if not isinstance(value, str):
        return True
    if not _DATE_TIME.match(value):
        return False
    datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
    return True


def _file_name(name: str) -> str:
    return name if name.endswith(".json") else f"{name}.schema.json"


@lru_cache(maxsize=None)
def _load_text(file: str) -> str:
    path = resources.files("schemas").joinpath(file)
    try:
        text = path.read_text(encoding="utf-8")
        json.loads(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the schema file: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}:{exc.lineno}:{exc.colno}: the schema file is not valid JSON: {exc.msg}") from None
    return text


def check_schemas() -> None:
    """Load every shipped schema and check it is a valid JSON Schema; raise ``ConfigError``
    naming the first broken file (start-up and ``mappings check`` call this)."""
    for file in SCHEMA_FILES:
        schema = json.loads(_load_text(file))
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            where = "/".join(map(str, exc.absolute_path)) or "top level"
            raise ConfigError(f"{resources.files('schemas').joinpath(file)}: not a valid JSON Schema at {where}: {exc.message}") from None
        if "$id" not in schema:
            raise ConfigError(f"{resources.files('schemas').joinpath(file)}: the schema has no $id")


def load_schema(name: str) -> dict[str, Any]:
    """Return a fresh copy of the schema *name* (``"user"`` or ``"user.schema.json"``)."""
    file = _file_name(name)
    if file not in SCHEMA_FILES:
        raise KeyError(f"unknown schema {name!r}; expected one of {', '.join(SCHEMA_FILES)}")
    return json.loads(_load_text(file))


@lru_cache(maxsize=1)
def registry() -> Registry:
    """A ``referencing`` registry holding every shipped schema under its ``$id``."""
    resources_ = [(s["$id"], Resource.from_contents(s)) for s in map(load_schema, SCHEMA_FILES)]
    return Registry().with_resources(resources_)


@lru_cache(maxsize=None)
def validator_for(ref: str) -> Draft202012Validator:
    """A compiled validator for any ``$ref`` into the shipped schemas, e.g.
    ``"https://lmsync.dev/schemas/user.schema.json#/$defs/mapped"``."""
    return Draft202012Validator({"$ref": ref}, registry=registry(), format_checker=FORMAT_CHECKER)


def model_validator(model: str) -> Draft202012Validator:
    """The cached validator of ``$defs/mapped`` of *model* (a name from ``engine.models.MODELS``)."""
    from engine.models import get_model

    schema_id = load_schema(get_model(model).schema_file)["$id"]
    return validator_for(f"{schema_id}#/$defs/mapped")


def _date_time_ok(value: object) -> bool:
    try:
        return _is_date_time(value)
    except ValueError:
        return False


@lru_cache(maxsize=None)
def fast_model_check(model: str) -> Callable[[Any], bool]:
    """``check(fields) -> bool``: the ``$defs/mapped`` schema of *model*, compiled once by
    fastjsonschema (as draft-07: the mapped schemas use only keywords whose meaning is the same
    in 2020-12, and no ``$ref``). Falls back to ``model_validator(model).is_valid`` when
    fastjsonschema is not installed or cannot compile the schema."""
    from engine.models import get_model

    reference = model_validator(model)
    try:
        import fastjsonschema
    except ImportError:  # pragma: no cover - an optional speed-up
        return reference.is_valid
    schema = load_schema(get_model(model).schema_file)["$defs"]["mapped"]
    if "$ref" in json.dumps(schema):
        return reference.is_valid
    schema = {**schema, "$schema": "http://json-schema.org/draft-07/schema#"}
    compiled = fastjsonschema.compile(schema, formats={"date-time": _date_time_ok}, use_default=False)
    invalid = fastjsonschema.JsonSchemaException

    def check(instance: Any) -> bool:
        try:
            compiled(instance)
        except invalid:
            return False
        return True

    return check

"""Generate ``schemas/*.schema.json`` from the Kombo LMS contract.

Run from the repo root: ``python tools/gen_schemas.py [path/to/openapi-lms.json]``.
The output is committed; ``tests/schemas/test_contract.py`` re-checks it against the contract
independently, so a hand edit or a contract change that drifts is caught.

Deliberate departures from a literal copy (all documented in the schema's ``$comment``):

* OpenAPI-only keywords (``discriminator``, ``externalDocs``, ``example``) are dropped.
* A nullable enum (``type: [string, null]`` with ``enum``) gets ``null`` in its enum, because in
  JSON Schema an enum without ``null`` would reject the ``null`` the type allows.
* Course revisions: the contract lists ``description`` as required but gives it no property; we
  declare it as ``string | null`` like ``title``.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.models import MODELS  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONTRACT = Path("/work/shared/kombo-lms/openapi-lms.json")
BASE_ID = "https://lmsync.dev/schemas/"
DROP = {"discriminator", "externalDocs", "example", "examples"}
BOOKKEEPING = {"id", "remote_id", "changed_at", "remote_deleted_at", "remote_data"}


def clean(node):
    """Drop OpenAPI-only keywords and make nullable enums accept null."""
    if isinstance(node, list):
        return [clean(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: clean(v) for k, v in node.items() if k not in DROP}
    types = out.get("type")
    if isinstance(types, list) and "null" in types and "enum" in out and None not in out["enum"]:
        out["enum"] = [*out["enum"], None]
    return out


def results_item(schemas: dict, name: str) -> dict:
    return schemas[name]["properties"]["data"]["properties"]["results"]["items"]


def mapped_def(item: dict, model: str) -> dict:
    """The schema of just the unified fields a mapping produces for *model*."""
    fields = MODELS[model].fields
    props = {f: copy.deepcopy(item["properties"][f]) for f in fields}
    return {"type": "object", "properties": props, "required": list(fields), "additionalProperties": False}


def with_header(schema: dict, file: str, title: str, comment: str | None = None) -> dict:
    head = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": BASE_ID + file, "title": title}
    if comment:
        head["$comment"] = comment
    return {**head, **schema}


def revision_item(course_item: dict) -> dict:
    rev = copy.deepcopy(course_item["properties"]["revisions"]["items"])
    props = rev["properties"]
    if "description" not in props:
        # keep the contract's property order, with description after title
        rebuilt = {}
        for key, value in props.items():
            rebuilt[key] = value
            if key == "title":
                rebuilt["description"] = {"type": ["string", "null"]}
        rev["properties"] = rebuilt
    return rev


def revision_skill() -> dict:
    nullable_dt = {"type": ["string", "null"], "format": "date-time"}
    props = {
        "id": {"type": "string"},
        "remote_id": {"type": "string"},
        "course_revision_id": {"type": "string"},
        "skill_id": {"type": "string"},
        "changed_at": {"type": "string", "format": "date-time"},
        "remote_deleted_at": nullable_dt,
        "remote_data": {"type": ["object", "null"], "additionalProperties": True},
    }
    return {"type": "object", "properties": props, "required": list(props)}


def build(contract: dict) -> dict[str, dict]:
    """Return ``{file name: schema}`` for every schema file."""
    s = clean(contract["components"]["schemas"])
    user = results_item(s, "GetLmsUsersPositiveResponse")
    skill = results_item(s, "GetLmsSkillsPositiveResponse")
    course = results_item(s, "GetLmsCoursesPositiveResponse")
    prog = results_item(s, "GetLmsCourseProgressionsPositiveResponse")
    revision = revision_item(course)
    course = copy.deepcopy(course)
    course["properties"]["revisions"]["items"] = copy.deepcopy(revision)
    rs = revision_skill()
    desc_note = "description: required by the contract without a property; declared string|null here."
    enum_note = "nullable enums include null (the contract's type allows null)."
    models = {
        "user.schema.json": ("users", user, "LMS user", enum_note),
        "skill.schema.json": ("skills", skill, "LMS skill", None),
        "course.schema.json": ("courses", course, "LMS course with embedded revisions", f"{desc_note} {enum_note}"),
        "course-revision.schema.json": ("course_revisions", revision, "LMS course revision", f"{desc_note} {enum_note}"),
        "course-progression.schema.json": ("course_progressions", prog, "LMS course progression", enum_note),
        "revision-skill.schema.json": ("revision_skills", rs, "lmsync join: course revision - skill", None),
    }
    out = {}
    for file, (model, item, title, note) in models.items():
        schema = copy.deepcopy(item)
        schema["$defs"] = {"mapped": mapped_def(item, model)}
        out[file] = with_header(schema, file, title, note)
    bulk_item = s["PostLmsCoursesBulkRequestBody"]["properties"]["items"]["items"]
    actions = {
        "upsert-courses-item.schema.json": (bulk_item, "One item of POST /lms/courses/bulk"),
        "enroll.schema.json": (s["PostLmsCourseProgressionsRequestBody"], "POST /lms/course-progressions body"),
        "complete.schema.json": (
            s["PostLmsCourseProgressionsCourseProgressionIdCompleteRequestBody"],
            "POST /lms/course-progressions/{id}/complete body",
        ),
        "deactivate.schema.json": (s["PostLmsCoursesCourseIdDeactivateRequestBody"], "POST /lms/courses/{id}/deactivate body"),
    }
    for file, (schema, title) in actions.items():
        out[file] = with_header(copy.deepcopy(schema), file, title)
    return out


def main(argv: list[str]) -> None:
    contract_path = Path(argv[1]) if len(argv) > 1 else DEFAULT_CONTRACT
    contract = json.loads(contract_path.read_text())
    for file, schema in build(contract).items():
        (ROOT / "schemas" / file).write_text(json.dumps(schema, indent=2) + "\n")
        print("wrote schemas/" + file)


if __name__ == "__main__":
    main(sys.argv)

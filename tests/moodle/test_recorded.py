"""Recorded-response tests: real-shaped Moodle 5.0 answers (escaped slashes, \\u escapes,
omitted optional keys, booleans as 0/1 or true/false, the site course) run through the
repository's mappings with the preview path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.plugins import connectors, get_plugin_manager
from engine.preview import preview_response
from engine.spec import function_set, load_specs

HERE = Path(__file__).parent / "recorded"
EXPECTED = json.loads((HERE / "expected.json").read_text(encoding="utf-8"))
SOURCES = {"users": "core_user_get_users", "courses": "core_course_get_courses", "skills": "core_competency_list_competencies"}


@pytest.fixture(scope="module")
def specs():
    pm = get_plugin_manager()
    return load_specs(connectors(pm)["moodle"].mappings, "moodle", function_set(pm)).specs


@pytest.mark.parametrize("model", sorted(SOURCES))
def test_recorded_response_maps_to_expected(specs, model):
    response = json.loads((HERE / f"{SOURCES[model]}.json").read_text(encoding="utf-8"))
    result = preview_response(specs[model], response, base_url="http://127.0.0.1:8780")
    assert result.errors == []
    keep = set(EXPECTED[model][0])
    assert [{k: v for k, v in r.items() if k in keep} for r in result.records] == EXPECTED[model]


def test_site_course_and_guest_are_skipped(specs):
    users = preview_response(specs["users"], json.loads((HERE / "core_user_get_users.json").read_text()))
    courses = preview_response(specs["courses"], json.loads((HERE / "core_course_get_courses.json").read_text()))
    assert (users.extracted, users.skipped) == (3, 1)
    assert (courses.extracted, courses.skipped) == (3, 1)


def test_revision_text_and_status_from_recorded_courses(specs):
    response = json.loads((HERE / "core_course_get_courses.json").read_text(encoding="utf-8"))
    courses = [c for c in response if c["format"] != "site"]
    result = preview_response(specs["course_revisions"], courses, base_url="http://127.0.0.1:8780")
    assert result.errors == []
    by_id = {r["remote_id"]: r for r in result.records}
    assert by_id["2"]["description"] == "Start speaking – today & tomorrow."
    assert by_id["2"]["status"] == "ACTIVE" and by_id["3"]["status"] == "INACTIVE"
    assert by_id["3"]["description"] == "Plain text summary"
    assert by_id["2"]["remote_url"] == "http://127.0.0.1:8780/course/view.php?id=2"


def test_course_competencies_need_the_parent_course(specs):
    response = json.loads((HERE / "core_competency_list_course_competencies.json").read_text(encoding="utf-8"))
    for rec in response:
        rec["course"] = {"id": 2}
    result = preview_response(specs["revision_skills"], response)
    assert result.errors == []
    assert [r["remote_id"] for r in result.records] == ["2:7"]

"""Canvas passthrough (confined to /api/v1 of the site, token injected and redacted) and scope
testing (missing developer-key scopes and account permissions named), against the simulator."""

from __future__ import annotations

import pytest
from canvas_simenv import canvas_env

from connectors.canvas._passthrough import site_url
from connectors.canvas._scope import scope_name
from connectors.canvas.simulator import ADMIN_TOKEN, RESTRICTED_TOKEN
from engine.errors import ActionInputInvalid
from engine.passthrough import run_passthrough
from engine.scope import run_scope_test

SITE = "https://canvas.example.edu"


@pytest.mark.parametrize("path", [
    "https://evil.example.com/api/v1/users/self", "//evil.example.com/api/v1/users", "/api/v1/../../login",
    "/api/v1/%2e%2e/%2e%2e/login", "/api/v1/%252e%252e/%252e%252e/x", "/login/canvas", "/api/v2/users",
    "/api/v1/users\\..\\x", "/api/v1/users/self#x", "/api/v1/@evil.com", "api/v1/users/self", "/api/v1",
])
def test_paths_outside_the_api_are_refused(path):
    with pytest.raises(ActionInputInvalid, match="passthrough path refused"):
        site_url(SITE, path)


def test_paths_inside_the_api_are_kept():
    assert site_url(SITE, "/api/v1/courses/1/../2/enrollments?state[]=active") == (
        f"{SITE}/api/v1/courses/2/enrollments", [("state[]", "active")])


def test_passthrough_calls_the_site_with_the_token_redacted(tiny):
    out = run_passthrough(tiny.engine, tiny.integration(), {"method": "GET", "path": "/api/v1/users/self",
                                                            "params": {"include": ["uuid"], "access_token": "x"},
                                                            "headers": {"Authorization": "Bearer stolen"}})
    assert out["status"] == 200 and out["data"]["id"] == 1
    assert out["url"].startswith(f"{tiny.base_url}/api/v1/users/self?include%5B%5D=uuid")
    assert any("token parameter was dropped" in w for w in out["warnings"])
    assert any("Authorization was dropped" in w for w in out["warnings"])
    assert ADMIN_TOKEN not in str(out)


def test_the_call_shortcut_fills_an_endpoint_template(tiny):
    out = run_passthrough(tiny.engine, tiny.integration(), {"method": "POST", "call": "GET /api/v1/courses/{course_id}",
                                                            "data": {"course_id": 1, "include": ["syllabus_body"]}})
    assert out["status"] == 200 and out["data"]["id"] == 1 and "syllabus_body" in out["data"]
    with pytest.raises(ActionInputInvalid, match="give course_id"):
        run_passthrough(tiny.engine, tiny.integration(), {"method": "POST", "call": "GET /api/v1/courses/{course_id}", "data": {}})


def test_passthrough_returns_canvas_errors_as_data(tiny):
    out = run_passthrough(tiny.engine, tiny.integration(), {"method": "GET", "path": "/api/v1/courses/999"})
    assert out["status"] == 404
    assert out["data"] == {"errors": [{"message": "The specified resource does not exist."}]}


def test_scope_test_of_an_admin_token_is_all_ok(tiny):
    report = run_scope_test(tiny.engine, tiny.integration(), save=False)
    states = {e.name: e.status for e in report.entries}
    assert states == {m: "OK" for m in ("users", "skills", "courses", "course_revisions", "revision_skills",
                                        "course_progressions", "upsert_course", "deactivate_course", "enroll", "complete")}
    assert report.functions_to_add == []
    assert report.remote_info["user_id"] == 1


def test_scope_test_names_what_a_restricted_token_lacks(tmp_path):
    with canvas_env(tmp_path, token=RESTRICTED_TOKEN) as env:
        report = run_scope_test(env.engine, env.integration(), save=False)
    entries = {e.name: e for e in report.entries}
    assert entries["course_progressions"].status == "FORBIDDEN"
    assert entries["course_progressions"].missing_capabilities == ["view_all_grades"]
    assert entries["users"].status == "DEGRADED" and entries["users"].withheld_fields == ["work_email"]
    assert entries["courses"].status == "DEGRADED" and entries["courses"].withheld_fields == ["origin_id"]
    assert entries["skills"].status == "OK"
    assert entries["enroll"].status == "FORBIDDEN" and entries["enroll"].missing_capabilities == ["add_student_to_course"]
    assert entries["upsert_course"].status == "FORBIDDEN"
    assert entries["upsert_course"].missing_capabilities == ["manage_courses_add", "manage_courses_admin", "manage_sis"]
    assert entries["deactivate_course"].missing_capabilities == ["manage_courses_publish"]
    assert entries["complete"].missing_capabilities == ["remove_student_from_course"]
    assert any("view_all_grades" in step for step in report.checklist)


def test_scope_names_are_developer_key_scopes():
    assert scope_name("GET /api/v1/courses/{course_id}/bulk_user_progress") == "url:GET|/api/v1/courses/:course_id/bulk_user_progress"

"""Scope testing against the simulator's preset tokens: the exact matrix, storage, no side effects."""

from __future__ import annotations

import json

import pytest
from scope_helpers import integration
from simenv import moodle_env

from connectors.moodle.simulator import (ADMIN_TOKEN, EXPIRED_TOKEN, REDUCED_EXCLUDED, REDUCED_TOKEN, RESTRICTED_TOKEN,
                                         tiny_site)
from engine.api import ApiServices
from engine.api._integration_json import integration_json
from engine.errors import AuthenticationFailed
from engine.scope import run_scope_test, scope_needs

MODELS = ["users", "skills", "courses", "course_revisions", "revision_skills", "course_progressions"]
ACTIONS = ["upsert_course", "deactivate_course", "enroll", "complete"]

EXPECTED = {
    ADMIN_TOKEN: {name: ("OK", []) for name in MODELS + ACTIONS},
    REDUCED_TOKEN: {
        "users": ("OK", []),
        "skills": ("MISSING", ["core_competency_list_competencies", "core_competency_list_competency_frameworks"]),
        "courses": ("OK", []),
        "course_revisions": ("OK", []),
        "revision_skills": ("MISSING", ["core_competency_list_course_competencies"]),
        "course_progressions": ("MISSING", ["core_completion_get_course_completion_status"]),
        **{a: ("OK", []) for a in ACTIONS},
    },
    # the restricted user lacks moodle/course:viewhiddencourses, and the tiny site has a hidden
    # course: core_course_get_courses then fails as a whole (errorcoursecontextnotvalid)
    RESTRICTED_TOKEN: {
        "users": ("FORBIDDEN", ["moodle/user:viewdetails"]),
        "skills": ("OK", []),
        "courses": ("FORBIDDEN", ["moodle/course:viewhiddencourses"]),
        "course_revisions": ("FORBIDDEN", ["moodle/course:viewhiddencourses"]),
        "revision_skills": ("FORBIDDEN", ["moodle/course:viewhiddencourses"]),
        "course_progressions": ("FORBIDDEN", ["moodle/course:viewhiddencourses", "moodle/user:viewdetails"]),
        "upsert_course": ("FORBIDDEN", ["moodle/course:update"]),
        "deactivate_course": ("FORBIDDEN", ["moodle/course:update"]),
        "enroll": ("OK", []),
        "complete": ("FORBIDDEN", ["moodle/grade:viewall"]),
    },
}


def _snapshot(site) -> str:
    courses = {c.id: (c.fullname, c.shortname, c.visible, c.timemodified) for c in site.courses.values()}
    enrolments = {cid: sorted(users) for cid, users in site.course_enrolments.items()}
    return json.dumps([courses, enrolments, len(site.cm_completion)], sort_keys=True, default=str)


@pytest.mark.parametrize("token", [ADMIN_TOKEN, REDUCED_TOKEN, RESTRICTED_TOKEN], ids=["admin", "reduced", "restricted"])
def test_matrix(tmp_path, token):
    with moodle_env(tmp_path, token=token) as env:
        before = _snapshot(env.site)
        report = run_scope_test(env.engine, integration(env))
        assert _snapshot(env.site) == before, "a scope probe changed the site"
        got = {e.name: e for e in report.entries}
        assert list(got) == MODELS + ACTIONS
        kinds = {e.name: e.kind for e in report.entries}
        assert {n for n, k in kinds.items() if k == "action"} == set(ACTIONS)
        for name, (status, extra) in EXPECTED[token].items():
            entry = got[name]
            assert entry.status == status, (name, entry)
            if status == "MISSING":
                assert entry.missing_functions == extra
                assert set(extra) <= REDUCED_EXCLUDED
            elif status == "FORBIDDEN":
                assert entry.missing_capabilities == extra and entry.missing_functions == []
            else:
                assert entry.missing_functions == [] and entry.missing_capabilities == []
        wanted = sorted({f for e in report.entries for f in e.missing_functions})
        assert report.functions_to_add == wanted
        text = json.dumps(report.as_dict())
        assert token not in text
        if wanted:
            assert any(", ".join(wanted) in step for step in report.checklist)
        if token == RESTRICTED_TOKEN:
            assert any("moodle/user:viewdetails" in step and "wsrestricted" in step for step in report.checklist)
        if token == ADMIN_TOKEN:
            assert report.checklist[0].startswith("Nothing to add")
            # what cannot be probed without writing is said, not guessed
            assert "cannot be checked" in got["complete"].detail


def test_degraded_fields_when_no_course_is_hidden(tmp_path):
    site = tiny_site()
    site.update_course(3, visible=1)
    with moodle_env(tmp_path, site=site, token=RESTRICTED_TOKEN) as env:
        got = {e.name: e for e in run_scope_test(env.engine, integration(env)).entries}
    for model in ("courses", "course_revisions"):
        assert got[model].status == "DEGRADED"
        assert got[model].withheld_fields == ["idnumber", "timecreated", "timemodified", "visible"]
        assert got[model].missing_capabilities == ["moodle/course:update"]
    assert got["revision_skills"].status == "OK"
    assert got["upsert_course"].status == "FORBIDDEN"


def test_availability_is_stored_and_shown(tmp_path):
    with moodle_env(tmp_path, token=REDUCED_TOKEN) as env:
        run_scope_test(env.engine, integration(env))
        stored = integration(env)
        assert stored.availability["skills"]["status"] == "MISSING"
        assert stored.availability["lms_create_course_progression"]["status"] == "OK"
        shown = integration_json(env.store, stored, ApiServices(force_sync=lambda *a: ("x", False)))
        models = {m["id"]: m for m in shown["read_models"]}
        assert models["lms_skills"]["is_available"] is False and models["lms_skills"]["coverage_status"] == "SUPPORTED"
        assert models["lms_users"]["is_available"] is True
        actions = {a["id"]: a["is_available"] for a in shown["write_actions"]}
        assert actions["lms_create_course_progression"] is True


def test_needs_cover_models_and_actions(admin_env):
    needs = scope_needs(admin_env.engine, "moodle")
    assert needs["course_revisions"] == ["core_course_get_courses"]
    assert "core_course_get_courses" in needs["course_progressions"]  # a dependency's functions count
    assert needs["enroll"] == ["enrol_manual_enrol_users"]


def test_expired_token_fails_without_leaking(tmp_path):
    with moodle_env(tmp_path, token=EXPIRED_TOKEN) as env:
        with pytest.raises(AuthenticationFailed) as info:
            run_scope_test(env.engine, integration(env))
        assert EXPIRED_TOKEN not in str(info.value)
        assert integration(env).availability == {}

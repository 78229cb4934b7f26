"""Per-model tests: a small sample, nothing stored, every call reported, verdicts."""

from __future__ import annotations

import json

import pytest
from scope_helpers import integration

from connectors.moodle.simulator import ADMIN_TOKEN
from engine.errors import LmsyncError
from engine.model_test import run_model_test
from engine.spec import Expr
from engine.spec._model import FieldMap


def test_users_sample_is_reported_and_not_stored(admin_env):
    report = run_model_test(admin_env.engine, integration(admin_env), "users", pages=2)
    assert report.verdict == "passed" and report.error is None
    (page,) = report.pages
    assert page.call == "core_user_get_users" and page.role == "source"
    assert page.params == {"criteria": [{"key": "lastname", "value": "%"}]}
    assert page.records_in_response == 10 and page.mapped == 9 and page.invalid == 0  # guest filtered out
    assert page.records[0]["remote_id"] == "2" and page.records[0]["first_name"] == "Admin"
    assert '"users"' in page.response_excerpt
    assert (report.calls, report.extracted, report.mapped) == (1, 10, 9)
    assert admin_env.rows("users") == []
    assert ADMIN_TOKEN not in json.dumps(report.as_dict())


def test_fan_outs_are_limited_to_the_first_parents(admin_env):
    report = run_model_test(admin_env.engine, integration(admin_env), "course_progressions", parents=1)
    assert report.verdict == "passed"
    enrolled = [p for p in report.pages if p.call == "core_enrol_get_enrolled_users"]
    assert len({p.params["courseid"] for p in enrolled}) == 1
    per_user = [p for p in report.pages if p.call == "core_enrol_get_users_courses"]
    assert len(per_user) == 1
    source = [p for p in report.pages if p.role == "source" and p.mapped]
    assert source and report.mapped == sum(p.mapped for p in source)
    assert admin_env.rows("course_progressions") == []


def test_a_failing_call_fails_the_verdict(admin_env):
    admin_env.control.fail_function("core_course_get_courses", "invalidparameter")
    report = run_model_test(admin_env.engine, integration(admin_env), "course_revisions")
    assert report.verdict == "failed"
    assert "invalidparameter" in report.error and "invalidparameter" in report.pages[0].error


def test_invalid_records_are_listed_per_page(admin_env, monkeypatch):
    spec = admin_env.engine.specset("moodle").specs["users"]
    status = Expr("bogus", "<test>", lambda raw: "BOGUS" if raw["id"] == 5 else "ACTIVE")
    bogus = [FieldMap("status", status) if f.name == "status" else f for f in spec.fields]
    monkeypatch.setattr(spec, "fields", bogus)
    report = run_model_test(admin_env.engine, integration(admin_env), "users")
    assert report.verdict == "failed" and report.invalid == 1 and report.mapped == 8
    assert "status" in report.pages[0].errors[0] and "'5'" in report.pages[0].errors[0]


def test_unknown_model(admin_env):
    with pytest.raises(LmsyncError):
        run_model_test(admin_env.engine, integration(admin_env), "employees")

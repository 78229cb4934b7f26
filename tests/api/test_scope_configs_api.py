"""Scope configs over real HTTP on loopback: the admin routes, disabled fields answered null
(embedded shapes too), a disabled model answered with the model-disabled envelope, and the
integration object's ``scope_config`` and per-model/field settings."""

from __future__ import annotations

import pytest

from engine.api import create_api_key
from engine.ids import random_id
from engine.store.base import Integration

from .conftest import T0, assert_error, response_validator, seed


@pytest.fixture
def scoped(env):
    """A fresh seeded integration and a key limited to it: ``(iid, key)``."""
    iid = "moodle:S" + random_id()[:23]
    env.store.add_integration(Integration(iid, "moodle", "https://lms.example.com", {"token": "x"}, created_at=T0))
    seed(env.store, iid, n_users=6)
    yield iid, create_api_key(env.store, "scoped", [iid])
    env.store.remove_integration(iid)


def _create(env, body):
    with env.client(env.key_all, iid=None) as c:
        return c.post("/v1/scope-configs", json=body)


def _bind(env, iid, config_id, key=None):
    with env.client(key or env.key_all, iid=None) as c:
        return c.put(f"/v1/integrations/{iid}/scope-config", json={"scope_config_id": config_id})


def _name() -> str:
    return "cfg-" + random_id()[:10]


def test_create_list_and_bind(env, scoped):
    iid, key = scoped
    name = _name()
    resp = _create(env, {"name": name, "fields": {"users.work_email": "DISABLED"}, "store_remote_data": False})
    assert resp.status_code == 200, resp.text
    created = resp.json()["data"]
    assert created["name"] == name and created["fields"] == {"users.work_email": "DISABLED"}
    with env.client(env.key_all, iid=None) as c:
        listed = c.get("/v1/scope-configs").json()["data"]["results"]
    assert listed[0]["id"] == "default" and name in [r["name"] for r in listed]
    resp = _bind(env, iid, name)
    assert resp.status_code == 200, resp.text
    assert resp.json()["data"]["scope_config"] == {"id": created["id"], "name": name}
    with env.client(key, iid=iid) as c:
        data = c.get(f"/v1/integrations/{iid}").json()["data"]
    assert data["scope_config"] == {"id": created["id"], "name": name}
    users = next(m for m in data["read_models"] if m["id"] == "lms_users")
    email = next(f for f in users["fields"] if f["id"] == "work_email")
    assert (email["scope_config_setting"], email["is_available"]) == ("DISABLED", False)
    assert users["scope_config_setting"] == "ENABLED"


def test_invalid_config_and_unknown_binding_are_input_invalid(env, scoped):
    iid, key = scoped
    body = assert_error(_create(env, {"name": _name(), "fields": {"users.email": "DISABLED"}}), 400,
                        "PLATFORM.INPUT_INVALID")
    assert "fields.users.email: users has no field 'email'" in body["error"]["message"]
    assert_error(_create(env, {"name": "default"}), 400, "PLATFORM.INPUT_INVALID")
    assert "no scope config 'nope'" in assert_error(_bind(env, iid, "nope"), 400, "PLATFORM.INPUT_INVALID")["error"]["message"]
    assert_error(_bind(env, "moodle:missing", "default"), 404, "PLATFORM.INTEGRATION_NOT_FOUND")
    assert_error(_bind(env, iid, "default", key=key), 403, "PLATFORM.AUTHENTICATION_INVALID")  # not an admin key


def test_disabled_fields_are_answered_null_before_any_resync(env, scoped):
    iid, key = scoped
    name = _name()
    assert _create(env, {"name": name, "fields": {"users.work_email": "DISABLED", "course_revisions.title": "DISABLED"},
                         "store_remote_data": False}).status_code == 200
    with env.client(key, iid=iid) as c:
        before = c.get("/v1/lms/users").json()["data"]["results"]
        assert any(u["work_email"] for u in before)  # so the check below can fail
        assert _bind(env, iid, name).status_code == 200
        users = c.get("/v1/lms/users")
        progressions = c.get("/v1/lms/course-progressions").json()
        courses = c.get("/v1/lms/courses").json()
    with env.client(key, iid=iid) as c:
        email = before[0]["work_email"] or next(u["work_email"] for u in before if u["work_email"])
        body = assert_error(c.get("/v1/lms/users", params={"work_emails": email}), 400, "PLATFORM.INPUT_INVALID")
    assert "work_emails: the users field work_email is disabled" in body["error"]["message"]
    response_validator("/lms/users").validate(users.json())
    results = users.json()["data"]["results"]
    assert results and all(u["work_email"] is None and u["remote_data"] == {} for u in results)
    assert all(u["first_name"] for u in results)
    assert all(p["user"]["work_email"] is None and p["course_revision"]["title"] is None
               for p in progressions["data"]["results"])
    assert all(r["title"] is None for c in courses["data"]["results"] for r in c["revisions"])
    # the shared summaries were not changed: the default config answers them again
    assert _bind(env, iid, "default").status_code == 200
    with env.client(key, iid=iid) as c:
        again = c.get("/v1/lms/course-progressions").json()["data"]["results"]
    assert any(p["user"]["work_email"] for p in again)


def test_a_disabled_model_is_answered_with_model_disabled(env, scoped):
    iid, key = scoped
    name = _name()
    assert _create(env, {"name": name, "models": {"skills": "DISABLED", "revision_skills": "DISABLED"}}).status_code == 200
    assert _bind(env, iid, name).status_code == 200
    with env.client(key, iid=iid) as c:
        body = assert_error(c.get("/v1/lms/skills"), 403, "PLATFORM.INPUT_INVALID")
        courses = c.get("/v1/lms/courses").json()["data"]["results"]
        data = c.get(f"/v1/integrations/{iid}").json()["data"]
    assert body["error"]["message"].startswith("[INTEGRATION.MODEL_DISABLED] The skills model is disabled")
    assert all(r["skill_assignments"] == [] for c in courses for r in c["revisions"])
    skills = next(m for m in data["read_models"] if m["id"] == "lms_skills")
    assert (skills["scope_config_setting"], skills["is_available"]) == ("DISABLED", False)

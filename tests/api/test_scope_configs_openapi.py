"""The served OpenAPI of the scope-config admin and custom-field routes
(``engine.api._scope_configs_openapi``) describes what the server does: real answers validate
against the documented 200 schemas, and the documented request bodies accept what the server
accepts and refuse what it refuses."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator

from engine.api._contract import served_openapi
from engine.ids import random_id
from engine.store.base import Integration

from .conftest import T0

CONFIGS, BIND = "/v1/scope-configs", "/v1/integrations/{integration_id}/scope-config"
FIELDS = "/v1/integrations/{integration_id}/custom-fields"
FIELD = "/v1/integrations/{integration_id}/custom-fields/{custom_field_id}"


def _schema(path: str, method: str, part: str) -> Draft202012Validator:
    """Validator of the served *part* (``request`` body or ``200`` answer) of an operation."""
    doc = served_openapi()
    op = doc["paths"][path][method]
    holder = op["requestBody"] if part == "request" else op["responses"]["200"]
    schema = holder["content"]["application/json"]["schema"]
    return Draft202012Validator({**schema, "components": doc["components"]})


def _ok(resp, path: str, method: str) -> dict:
    assert resp.status_code == 200, resp.text
    _schema(path, method, "200").validate(resp.json())
    return resp.json()["data"]


@pytest.fixture
def bound(env):
    """A fresh integration bound to a new config declaring two custom fields: ``(iid, config)``."""
    iid = "moodle:" + random_id()
    env.store.add_integration(Integration(iid, "moodle", "https://lms.example.com", {"token": "x"}, created_at=T0))
    body = {"name": f"doc-{random_id()[:10]}", "models": {"skills": "OPTIONAL"}, "fields": {"users.work_email": "DISABLED"},
            "actions": {"lms_create_course_progression": "DISABLED"}, "store_remote_data": False,
            "custom_fields": {"users": [{"key": "shirt", "label": "Shirt"}], "courses": [{"key": "level"}]}}
    _schema(CONFIGS, "post", "request").validate(body)
    with env.client(env.key_all, None) as c:
        config = _ok(c.post(CONFIGS, json=body), CONFIGS, "post")
        _ok(c.put(BIND.format(integration_id=iid), json={"scope_config_id": config["name"]}), BIND, "put")
    yield iid, config
    env.store.remove_integration(iid)


def test_scope_config_answers_match_the_document(env, bound):
    iid, config = bound
    assert config["custom_fields"]["users"] == [{"key": "shirt", "label": "Shirt"}]
    with env.client(env.key_all, None) as c:
        listed = _ok(c.get(CONFIGS), CONFIGS, "get")["results"]
        assert config["id"] in {r["id"] for r in listed}
        bind = _ok(c.put(BIND.format(integration_id=iid), json={"scope_config_id": "default"}), BIND, "put")
    assert bind == {"integration_id": iid, "scope_config": {"id": "default", "name": "default"}}


def test_custom_field_answers_match_the_document(env, bound):
    iid, _ = bound
    with env.client(env.key_all, None) as c:
        page = _ok(c.get(FIELDS.format(integration_id=iid), params={"page_size": 1}), FIELDS, "get")
        assert len(page["results"]) == 1 and page["next"]
        rest = _ok(c.get(FIELDS.format(integration_id=iid), params={"cursor": page["next"]}), FIELDS, "get")
        fields = page["results"] + rest["results"]
        assert {(f["model"], f["key"]) for f in fields} == {("lms_users", "shirt"), ("lms_courses", "level")}
        body = {"integration_field_id": None}
        _schema(FIELD, "put", "request").validate(body)
        unmapped = _ok(c.put(FIELD.format(integration_id=iid, custom_field_id=fields[0]["id"]), json=body), FIELD, "put")
    assert unmapped["id"] == fields[0]["id"] and unmapped["integration_field"] is None


@pytest.mark.parametrize("body", [
    {"models": {"skils": "DISABLED"}},
    {"models": {"skills": "OFF"}},
    {"fields": {"users.shoe_size": "DISABLED"}},
    {"actions": {"enrol": "DISABLED"}},
    {"store_remote_data": "no"},
    {"custom_fields": {"course_progressions": [{"key": "a"}]}},
    {"custom_fields": {"users": [{"key": ""}]}},
    {"custom_fields": {"users": [{"key": "a", "labl": "x"}]}},
    {"colour": "blue"},
])
def test_what_the_document_refuses_the_server_refuses(env, body):
    named = {"name": f"bad-{random_id()[:10]}", **body}
    assert not _schema(CONFIGS, "post", "request").is_valid(named)
    with env.client(env.key_all, None) as c:
        resp = c.post(CONFIGS, json=named)
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "PLATFORM.INPUT_INVALID", resp.text


@pytest.mark.parametrize("body", [
    {"models": {"course_revisions": "DISABLED", "users": "OPTIONAL"}},
    {"fields": {"courses.origin_id": "OPTIONAL", "course_revisions.description": "DISABLED"}},
    {"actions": {"enroll": "OPTIONAL", "lms_upsert_courses": "DISABLED"}},
    {"custom_fields": {"skills": [{"key": "k", "label": None}]}},
])
def test_what_the_document_accepts_the_server_accepts(env, body):
    named = {"name": f"ok-{random_id()[:10]}", **body}
    _schema(CONFIGS, "post", "request").validate(named)
    with env.client(env.key_all, None) as c:
        _ok(c.post(CONFIGS, json=named), CONFIGS, "post")

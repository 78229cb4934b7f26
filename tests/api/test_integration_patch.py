"""PATCH /v1/integrations/{id} (admin key) and API-key expiry, over real HTTP on loopback."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from jsonschema import Draft202012Validator, ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from engine.api import create_api_key
from engine.api._contract import served_openapi
from engine.api._keys import parse_key
from engine.ids import record_id
from engine.store.base import Integration

from .conftest import T0, assert_error, mrec, response_validator, write

OLD_TOKEN, NEW_TOKEN = "old-token-0123456789abcdef", "new-token-fedcba9876543210"
MOODLE_SETTINGS = "valid: student_role_id, course_category_id, page_size"


@pytest.fixture
def patched(env, request):
    """A fresh integration of its own with two synced users (ids derived from the integration id)."""
    iid = "moodle:P" + format(abs(hash(request.node.name)), "023d")[:23]
    env.store.add_integration(Integration(iid, "moodle", "https://old.example", {"token": OLD_TOKEN},
                                          settings={"student_role_id": 5}, created_at=T0))
    write(env.store, iid, "users", [mrec(iid, "users", r, {"first_name": r}) for r in ("7", "8")], T0)
    yield iid
    env.store.remove_integration(iid)


def patch_answer_validator() -> Draft202012Validator:
    """The served OpenAPI's 200 schema of the PATCH operation."""
    registry = Registry().with_resource("urn:served", Resource(served_openapi(), DRAFT202012))
    pointer = "/paths/~1v1~1integrations~1{integration_id}/patch/responses/200/content/application~1json/schema"
    return Draft202012Validator({"$ref": f"urn:served#{pointer}"}, registry=registry)


def _user_ids(env, iid: str) -> list[str]:
    with env.client(env.key_all, iid) as c:
        return sorted(u["id"] for u in c.get("/v1/lms/users").json()["data"]["results"])


def test_token_rotation_keeps_the_integration_and_record_ids(env, patched):
    before = _user_ids(env, patched)
    assert before == sorted(record_id(patched, "users", r) for r in ("7", "8"))
    with env.client(env.key_all, None) as c:
        resp = c.patch(f"/v1/integrations/{patched}", json={"credentials": {"token": NEW_TOKEN}})
        assert resp.status_code == 200, resp.text
        body = resp.json()
        get = c.get(f"/v1/integrations/{patched}").json()
    response_validator("/integrations/{integration_id}").validate({"status": "success", "data": body["data"]})
    patch_answer_validator().validate(body)
    with pytest.raises(ValidationError, match="lmsync_scope_test_advised"):
        patch_answer_validator().validate({**body, "data": {k: v for k, v in body["data"].items() if k != "lmsync_scope_test_advised"}})
    assert body["data"]["id"] == patched and body["data"]["lmsync_scope_test_advised"] is True
    assert {k: v for k, v in body["data"].items() if k != "lmsync_scope_test_advised"} == get["data"]
    assert any(f"/v1/integrations/{patched}/scope-test" in w["message"] for w in body["warnings"])
    assert NEW_TOKEN not in resp.text and OLD_TOKEN not in resp.text
    stored = env.store.get_integration(patched)
    assert stored.credentials == {"token": NEW_TOKEN} and stored.base_url == "https://old.example"
    assert _user_ids(env, patched) == before


def test_settings_url_and_enabled(env, patched):
    with env.client(env.key_all, None) as c:
        resp = c.patch(f"/v1/integrations/{patched}", json={"settings": {"page_size": 50, "student_role_id": None}})
        assert resp.status_code == 200, resp.text
        assert resp.json()["data"]["lmsync_scope_test_advised"] is False and resp.json()["warnings"] == []
        assert env.store.get_integration(patched).settings == {"page_size": 50}
        resp = c.patch(f"/v1/integrations/{patched}",
                       json={"url": "https://new.example/moodle/webservice/rest/server.php", "enabled": False})
        assert resp.status_code == 200, resp.text
        assert resp.json()["data"]["status"] == "INACTIVE" and resp.json()["data"]["lmsync_scope_test_advised"] is True
        assert "using the site root https://new.example/moodle" in resp.json()["warnings"][0]["message"]
    stored = env.store.get_integration(patched)
    assert (stored.base_url, stored.enabled, stored.credentials) == ("https://new.example/moodle", False, {"token": OLD_TOKEN})


@pytest.mark.parametrize("body, needle", [
    ({"settings": {"studnt_role_id": 5}}, f"'studnt_role_id' for the moodle connector; did you mean 'student_role_id'? {MOODLE_SETTINGS}"),
    ({"settings": {"page_size": "many"}}, "setting page_size='many'"),
    ({"token": NEW_TOKEN}, "Unknown field 'token' in the request body. Allowed: credentials, base_url, url, settings, enabled."),
    ({"credentials": {"password": "x"}}, "unknown credential 'password' for the moodle connector; valid: token"),
    ({"credentials": {"token": ""}}, "credentials/token"),
    ({"base_url": "ftp://x.example"}, "at base_url:"),
    ({"base_url": "https://a.example", "url": "https://b.example"}, "not both"),
    ({"enabled": "yes"}, "at enabled:"),
    ({}, "should be non-empty"),
])
def test_bad_bodies_are_400_naming_the_field_and_change_nothing(env, patched, body, needle):
    before = env.store.get_integration(patched)
    with env.client(env.key_all, None) as c:
        error = assert_error(c.patch(f"/v1/integrations/{patched}", json=body), 400, "PLATFORM.INPUT_INVALID")
    assert needle in error["error"]["message"]
    if "page_size" in needle:
        assert MOODLE_SETTINGS in error["error"]["message"]
    assert env.store.get_integration(patched) == before


def test_only_an_admin_key_may_patch_and_unknown_is_404(env, patched):
    with env.client(env.key_a, None) as c:  # limited to A: 403 for A and for this one alike
        for iid in ("moodle:AAAAAAAAAAAAAAAAAAAAAAAA", patched):
            error = assert_error(c.patch(f"/v1/integrations/{iid}", json={"enabled": False}), 403,
                                 "PLATFORM.AUTHENTICATION_INVALID")
            assert "admin API key" in error["error"]["message"]
    with env.client(None, None) as c:
        assert_error(c.patch(f"/v1/integrations/{patched}", json={"enabled": False}), 401, "PLATFORM.AUTHENTICATION_INVALID")
    with env.client(env.key_all, None) as c:
        assert_error(c.patch("/v1/integrations/moodle:NoSuchIntegration0000000", json={"enabled": False}),
                     404, "PLATFORM.INTEGRATION_NOT_FOUND")
        wrong = c.put(f"/v1/integrations/{patched}", json={})
        assert_error(wrong, 405, "PLATFORM.INPUT_INVALID")
        assert set(wrong.headers["allow"].replace(" ", "").split(",")) >= {"GET", "DELETE", "PATCH"}
    assert env.store.get_integration(patched).enabled is True


def test_expired_key_gets_the_401_of_an_unknown_key(env):
    soon = datetime.now(timezone.utc) + timedelta(hours=1)
    key = create_api_key(env.store, "expiring", None, expires_at=soon)
    with env.client(key, None) as c:
        assert c.get("/v1/check-api-key").status_code == 200
        env.store.set_api_key_expiry(parse_key(key), datetime.now(timezone.utc) - timedelta(seconds=1))
        expired = assert_error(c.get("/v1/check-api-key"), 401, "PLATFORM.AUTHENTICATION_INVALID")
        patch = assert_error(c.patch("/v1/integrations/moodle:AAAAAAAAAAAAAAAAAAAAAAAA", json={"enabled": True}),
                             401, "PLATFORM.AUTHENTICATION_INVALID")
    with env.client(key[:-4] + "xxxx", None) as c:
        unknown = assert_error(c.get("/v1/check-api-key"), 401, "PLATFORM.AUTHENTICATION_INVALID")
    assert "expired at" in expired["error"]["message"] and expired["error"]["message"] == patch["error"]["message"]
    assert expired["error"]["title"] == unknown["error"]["title"] and "expired" not in unknown["error"]["message"]
    env.store.set_api_key_expiry(parse_key(key), None)
    with env.client(key, None) as c:
        assert c.get("/v1/check-api-key").status_code == 200

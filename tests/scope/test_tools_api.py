"""The tool routes over real HTTP: passthrough, scope test, test-model (served by uvicorn)."""

from __future__ import annotations

import contextlib

import httpx
import pytest
from jsonschema import Draft202012Validator
from simenv import moodle_env
from test_passthrough_moodle import HOSTILE

from connectors.moodle.simulator import ADMIN_TOKEN, REDUCED_TOKEN
from engine.api import ApiServices, create_api_key, create_app, serve_in_thread
from engine.api._contract import body_validator, served_openapi
from engine.cli._tools import tool_services


@contextlib.contextmanager
def api(tmp_path, token):
    with moodle_env(tmp_path, token=token) as env:
        services = ApiServices(force_sync=lambda *a: ("s", False), **tool_services(env.engine))
        key = create_api_key(env.store, "test")
        with serve_in_thread(create_app(env.store, services=services)) as url:
            headers = {"Authorization": f"Bearer {key}", "X-Integration-Id": env.integration_id}
            with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
                yield env, client


def _served_schema(path: str) -> Draft202012Validator:
    doc = served_openapi()
    schema = doc["paths"][path]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    return Draft202012Validator(schema)


@pytest.fixture
def admin_api(tmp_path):
    with api(tmp_path, ADMIN_TOKEN) as pair:
        yield pair


def test_passthrough_site_info_and_error_as_data(admin_api):
    env, client = admin_api
    resp = client.post("/v1/passthrough/moodle/rest", json={
        "method": "POST", "path": "/webservice/rest/server.php", "data": {"wsfunction": "core_webservice_get_site_info"}})
    assert resp.status_code == 200, resp.text
    body_validator("PostPassthroughToolApiPositiveResponse").validate(resp.json())
    data = resp.json()["data"]
    assert data["status"] == 200 and data["data"]["sitename"] and data["url"].endswith("/webservice/rest/server.php")
    error = client.post("/v1/passthrough/moodle/rest", json={"method": "GET", "path": "/webservice/rest/server.php?wsfunction=core_user_get_users"})
    assert error.status_code == 200 and error.json()["data"]["data"]["errorcode"] == "invalidparameter"
    assert "wstoken=%5BREDACTED%5D" in error.json()["data"]["url"]
    for r in (resp, error):
        assert ADMIN_TOKEN not in r.text


def test_passthrough_hostile_paths_send_nothing(admin_api):
    env, client = admin_api
    env.control.reset_calls()
    for path in HOSTILE:
        resp = client.post("/v1/passthrough/moodle/rest", json={"method": "POST", "path": path})
        assert resp.status_code == 400, (path, resp.text)
        assert resp.json()["error"]["code"] == "PLATFORM.INPUT_INVALID"
    assert sum(env.control.calls.values()) == 0


def test_passthrough_other_tool_or_api(admin_api):
    _, client = admin_api
    for url in ("/v1/passthrough/personio/v1", "/v1/passthrough/moodle/v2"):
        resp = client.post(url, json={"method": "GET", "path": "/x"})
        assert resp.status_code == 403 and resp.json()["error"]["message"].startswith("[INTEGRATION.ACTION_NOT_AVAILABLE]")


def test_scope_test_endpoint_stores_availability(tmp_path):
    with api(tmp_path, REDUCED_TOKEN) as (env, client):
        resp = client.post(f"/v1/integrations/{env.integration_id}/scope-test")
        assert resp.status_code == 200, resp.text
        _served_schema("/v1/integrations/{integration_id}/scope-test").validate(resp.json())
        statuses = {e["name"]: e["status"] for e in resp.json()["data"]["entries"]}
        assert statuses["skills"] == "MISSING" and statuses["users"] == "OK"
        assert REDUCED_TOKEN not in resp.text
        shown = client.get(f"/v1/integrations/{env.integration_id}").json()["data"]
        available = {m["id"]: m["is_available"] for m in shown["read_models"]}
        assert available["lms_skills"] is False and available["lms_users"] is True


def test_test_model_endpoint(admin_api):
    env, client = admin_api
    base = f"/v1/integrations/{env.integration_id}/test-model"
    resp = client.post(f"{base}/courses?pages=2&parents=2")
    assert resp.status_code == 200, resp.text
    _served_schema("/v1/integrations/{integration_id}/test-model/{model}").validate(resp.json())
    data = resp.json()["data"]
    assert data["verdict"] == "passed" and data["mapped"] == 4 and data["sample"]["pages"] == 2
    assert ADMIN_TOKEN not in resp.text and env.rows("courses") == []
    assert client.post(f"{base}/employees").status_code == 400
    assert client.post(f"{base}/users?pages=0").status_code == 400
    assert client.post("/v1/integrations/moodle:nope/test-model/users").status_code == 404


def test_routes_without_services_are_not_available(tmp_path):
    with moodle_env(tmp_path) as env:
        key = create_api_key(env.store, "test")
        app = create_app(env.store, services=ApiServices(force_sync=lambda *a: ("s", False)))
        with serve_in_thread(app) as url, httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as c:
            resp = c.post(f"/v1/integrations/{env.integration_id}/scope-test")
            assert resp.status_code == 403 and resp.json()["error"]["message"].startswith("[INTEGRATION.ACTION_NOT_AVAILABLE]")

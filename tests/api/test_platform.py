"""check-api-key, force-sync, integration details / enable / delete, and the served OpenAPI."""

from __future__ import annotations

import pytest

from engine.api import ApiServices, create_app
from engine.api._admin_openapi import ADMIN_OPERATIONS
from engine.api._connect_openapi import CONNECT_OPERATIONS
from engine.api._contract import SERVED_OPERATIONS, served_openapi
from engine.api._fields_openapi import FIELDS_OPERATIONS
from engine.api._scope_configs_openapi import SCOPE_CONFIG_OPERATIONS
from engine.api._tools_openapi import EXTENSION_OPERATIONS
from engine.store.base import Integration

from .conftest import A, T0, assert_error, response_validator


def test_check_api_key(env):
    with env.client(env.key_b, None) as c:
        body = c.get("/v1/check-api-key").json()
    response_validator("/check-api-key").validate(body)
    assert body["data"] == {"environment_id": "lmsync", "customer_id": "lmsync"}


def test_force_sync(env):
    with env.client(env.key_a, A) as c:
        first = c.post("/v1/force-sync", json={"type": "DELTA"})
        default = c.post("/v1/force-sync")
    assert first.status_code == 200
    response_validator("/force-sync", "post").validate(first.json())
    assert first.json()["data"]["type"] == "DELTA"
    assert default.json()["data"]["type"] == "FULL" and default.json()["data"]["already_queued"] is True
    assert env.services.calls[-2:] == [(A, "DELTA"), (A, "FULL")]


@pytest.mark.parametrize("body", [b"\n", b"  ", b"{", b"nope"])
def test_a_body_that_is_there_must_be_json(env, body):
    """No body at all means the defaults; whitespace or garbage is a 400, not a FULL sync."""
    before = len(env.services.calls)
    with env.client(env.key_a, A) as c:
        response = c.post("/v1/force-sync", content=body, headers={"Content-Type": "application/json"})
    assert_error(response, 400, "PLATFORM.INPUT_INVALID")
    assert "not valid JSON" in response.json()["error"]["message"] and len(env.services.calls) == before


def test_get_integration(env):
    with env.client(env.key_a, None) as c:
        body = c.get(f"/v1/integrations/{A}").json()
    response_validator("/integrations/{integration_id}").validate(body)
    data = body["data"]
    assert (data["id"], data["tool"]["id"], data["category"], data["status"]) == (A, "moodle", "LMS", "ACTIVE")
    assert data["created_at"] == "2024-01-01T00:00:00.000Z"
    models = {m["id"]: m for m in data["read_models"]}
    assert models["lms_users"]["is_available"] and models["lms_users"]["coverage_status"] == "SUPPORTED"
    assert models["lms_courses"]["coverage_status"] == "UNKNOWN"
    actions = {a["id"]: a for a in data["write_actions"]}
    assert actions["lms_create_course_progression"]["is_available"] is False


def test_enable_disable_and_delete(env):
    iid = "moodle:DDDDDDDDDDDDDDDDDDDDDDDD"
    env.store.add_integration(Integration(iid, "moodle", "https://x", {"token": "t"}, created_at=T0))
    with env.client(env.key_all, iid) as c:
        resp = c.put(f"/v1/integrations/{iid}/enabled", json={"value": False})
        assert resp.json() == {"status": "success", "data": {}}
        assert c.get(f"/v1/integrations/{iid}").json()["data"]["status"] == "INACTIVE"
        assert_error(c.post("/v1/force-sync"), 400, "PLATFORM.INPUT_INVALID")
        c.put(f"/v1/integrations/{iid}/enabled", json={"value": True})
        assert env.store.get_integration(iid).enabled is True
        resp = c.delete(f"/v1/integrations/{iid}")
        response_validator("/integrations/{integration_id}", "delete").validate(resp.json())
        assert_error(c.get(f"/v1/integrations/{iid}"), 404, "PLATFORM.INTEGRATION_NOT_FOUND")
    assert env.store.get_integration(iid) is None


def test_served_openapi(env):
    with env.client() as c:
        doc = c.get("/v1/openapi.json").json()
    served = {(p, m) for p, ops in doc["paths"].items() for m in ops}
    assert served == ({(f"/v1{p}", m) for p, m in SERVED_OPERATIONS} | set(EXTENSION_OPERATIONS) | set(ADMIN_OPERATIONS)
                      | set(CONNECT_OPERATIONS) | set(FIELDS_OPERATIONS) | set(SCOPE_CONFIG_OPERATIONS))
    assert doc["servers"] == [{"url": "/", "description": "this lmsync server"}]
    assert "GetLmsCoursesPositiveResponse" in doc["components"]["schemas"]


# The served routes that are not the JSON API, each with why the OpenAPI document leaves it out.
_NOT_API = {
    "/console/": "the operator console's HTML pages, forms and assets",
    "/connect/": "the Connect page (HTML) the end user opens from a link",
    "/connect-assets/": "the Connect page's static assets",
    "/assets/tools/": "the tools' SVG logos, linked from the tools answer",
}
_SELF = "/v1/openapi.json"  # the document itself


def test_every_served_route_is_in_the_served_openapi(env):
    """Each (path, method) the app routes under /v1 is an operation of the served document, and
    each operation is routed; any other route is one of the listed non-API prefixes."""
    app = create_app(env.store, services=ApiServices(force_sync=lambda iid, kind: ("s", False)))
    documented = {(p, m.upper()) for p, ops in served_openapi()["paths"].items() for m in ops}
    routed = set()
    for route in app.routes:
        if route.path == _SELF or any(route.path.startswith(prefix) for prefix in _NOT_API):
            continue
        assert route.path.startswith("/v1/"), f"{route.path}: neither under /v1 nor a listed non-API route"
        routed |= {(route.path, m) for m in route.methods or () if m != "HEAD"}
    assert sorted(routed - documented) == [], "routed but not in the served OpenAPI"
    assert sorted(documented - routed) == [], "in the served OpenAPI but not routed"

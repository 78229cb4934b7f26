"""Property-based contract check: schemathesis drives lmsync over HTTP from ``/v1/openapi.json``."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from engine.api._contract import served_openapi

from .conftest import A

pytestmark = pytest.mark.filterwarnings("ignore")


# The document is the one the server serves (test_served_openapi_is_what_we_fuzz checks that);
# it is built in-process because schemathesis' lazy fixture loader breaks on pytest 9.
# Destructive operations are covered by test_platform.py and test_integration_patch.py, not
# fuzzed against shared data; nor is creating scope configs (test_scope_configs_openapi.py: a
# generated name may be taken, and each would add a config to the shared store).
schema = (schemathesis.openapi.from_dict(served_openapi()).exclude(method=["DELETE", "PUT", "PATCH"])
          .exclude(path="/v1/scope-configs", method="POST"))


def test_served_openapi_is_what_we_fuzz(env):
    with env.client() as c:
        assert c.get("/v1/openapi.json").json() == served_openapi()


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms(case, env):
    if case.headers is not None and "X-Integration-Id" in case.headers:
        case.headers["X-Integration-Id"] = A
    if case.query:
        # a cursor is opaque: only one the server issued is valid, so generated ones are dropped
        # (garbage cursors are covered by test_errors_auth.py)
        case.query.pop("cursor", None)
    if isinstance(case.body, dict) and isinstance(case.body.get("scope_config_id"), str):
        # so is a scope config id: only a stored config's is valid, so generated ones become null
        # (unknown ids: test_connect.py and tests/scope/test_connect_scope_config.py)
        case.body["scope_config_id"] = None
    if "integration_id" in (case.path_parameters or {}):
        case.path_parameters["integration_id"] = A
    response = case.call_and_validate(base_url=env.url, headers={"Authorization": f"Bearer {env.key_all}"})
    assert response.status_code < 500

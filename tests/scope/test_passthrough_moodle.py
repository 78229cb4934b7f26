"""Moodle passthrough: token injection, error bodies as data, and no way off the site."""

from __future__ import annotations

import httpx
import pytest
from scope_helpers import integration

from connectors.moodle._passthrough import site_url
from connectors.moodle.simulator import ADMIN_TOKEN
from engine.errors import ActionInputInvalid, ActionNotAvailable
from engine.passthrough import run_passthrough
from engine.plugins import get_plugin_manager
from engine.store.base import Integration
from engine.sync import SyncEngine

HOSTILE = [
    "http://evil.example/webservice/rest/server.php",
    "https://evil.example",
    "//evil.example/x",
    "///evil.example/x",
    "/\\evil.example",
    "\\\\evil.example\\x",
    "/@evil.example",
    "/x@evil.example/",
    "/..",
    "/../x",
    "/webservice/../../x",
    "/%2e%2e/x",
    "/%2E%2E%2Fx",
    "/%252e%252e/x",
    "/%2F%2Fevil.example",
    "/%2f/evil.example",
    "/%5C%5Cevil.example",
    "/%40evil.example",
    "/http:%2F%2Fevil.example",
    "evil.example/x",
    "",
    "javascript:alert(1)",
    "/x#frag",
    "/ x",
    "/%00",
    "/x\r\nHost: evil.example",
    "/%0d%0aHost:%20evil.example",
]


class Recorder:
    """A MockTransport handler that records every request and answers like Moodle."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200, json={"ok": True}, headers={"x-echo": request.url.query.decode()})


@pytest.fixture
def mocked(tmp_path):
    from engine.store.sqlite import SQLiteStore

    store = SQLiteStore(tmp_path / "s.sqlite3")
    store.migrate()
    rec = Recorder()
    engine = SyncEngine(store, get_plugin_manager(), client_factory=lambda: httpx.Client(transport=httpx.MockTransport(rec)))
    target = Integration(id="moodle:Mocked000000000000000000", connector="moodle", base_url="https://lms.example.org/moodle",
                         credentials={"token": ADMIN_TOKEN})
    return engine, target, rec


@pytest.mark.parametrize("path", HOSTILE)
def test_hostile_paths_are_refused_before_sending(mocked, path):
    engine, target, rec = mocked
    for method in ("POST", "GET"):
        with pytest.raises(ActionInputInvalid):
            run_passthrough(engine, target, {"method": method, "path": path})
    assert rec.requests == []


def test_paths_stay_under_the_site_path():
    assert site_url("https://lms.example.org/moodle", "/a/../webservice/rest/server.php")[0] == \
        "https://lms.example.org/moodle/webservice/rest/server.php"
    assert site_url("https://lms.example.org/moodle/", "/webservice/rest/server.php?wsfunction=x")[1] == [("wsfunction", "x")]
    with pytest.raises(ActionInputInvalid):
        site_url("https://lms.example.org/moodle", "/../admin")


def test_caller_cannot_override_auth_or_host(mocked):
    engine, target, rec = mocked
    result = run_passthrough(engine, target, {
        "method": "POST", "path": "/webservice/rest/server.php",
        "headers": {"Host": "evil.example", "Authorization": "Bearer x", "Cookie": "a=b", "X-Custom": "1"},
        "params": {"wstoken": "caller-token"},
        "data": {"wstoken": "caller-token", "wsfunction": "core_webservice_get_site_info"},
    })
    (sent,) = rec.requests
    assert sent.url.host == "lms.example.org" and sent.headers["host"] == "lms.example.org"
    assert "authorization" not in sent.headers and "cookie" not in sent.headers and sent.headers["x-custom"] == "1"
    body = sent.content.decode()
    assert body.count("wstoken=") == 1 and f"wstoken={ADMIN_TOKEN}" in body and "caller-token" not in body
    assert "caller-token" not in str(sent.url)
    assert any("Host" in w for w in result["warnings"]) and any("token" in w for w in result["warnings"])
    assert ADMIN_TOKEN not in str(result)


def test_get_puts_the_token_in_the_query_and_redacts_it(mocked):
    engine, target, rec = mocked
    result = run_passthrough(engine, target, {"method": "GET", "path": "/webservice/rest/server.php",
                                              "params": {"wsfunction": "core_webservice_get_site_info"}})
    assert ADMIN_TOKEN in str(rec.requests[0].url)
    assert "wstoken=[REDACTED]" in result["url"] and ADMIN_TOKEN not in str(result)  # incl. the echoed header


def test_unknown_api_is_not_available(mocked):
    engine, target, rec = mocked
    with pytest.raises(ActionNotAvailable):
        run_passthrough(engine, target, {"method": "POST", "path": "/x", "api": "v2"})
    assert rec.requests == []


def test_site_info_and_nested_params(admin_env):
    target = integration(admin_env)
    info = run_passthrough(admin_env.engine, target, {"method": "POST", "path": "/webservice/rest/server.php",
                                                      "data": {"wsfunction": "core_webservice_get_site_info"}})
    assert info["status"] == 200 and info["data"]["username"] == "admin"
    assert info["url"] == admin_env.base_url + "/webservice/rest/server.php"
    users = run_passthrough(admin_env.engine, target, {"method": "POST", "call": "core_user_get_users",
                                                       "data": {"criteria": [{"key": "id", "value": "5"}]}})
    assert [u["id"] for u in users["data"]["users"]] == [5]
    assert ADMIN_TOKEN not in str(info) + str(users)


def test_moodle_error_comes_back_as_data(admin_env):
    result = run_passthrough(admin_env.engine, integration(admin_env), {"method": "POST", "call": "core_user_get_users"})
    assert result["status"] == 200
    assert result["data"]["errorcode"] == "invalidparameter" and "exception" in result["data"]

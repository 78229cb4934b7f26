"""Every error answer validates against its endpoint's error response in the contract, and no
input gives a 5xx (real HTTP on loopback)."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from engine.api import ApiServices, create_app, serve_in_thread
from engine.api._contract import contract

from .conftest import A

_URI = "urn:test:contract"


def _error_validator(path: str, method: str, status: int) -> Draft202012Validator:
    """The contract's response schema of (*path*, *method*) for *status* ($refs resolved)."""
    responses = contract()["paths"][path][method]["responses"]
    response = responses.get(str(status)) or responses["default"]
    if "$ref" in response:
        response = contract()["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
    schema = response["content"]["application/json"]["schema"]
    registry = Registry().with_resource(_URI, Resource(contract(), DRAFT202012))
    return Draft202012Validator(schema, registry=registry)


def _check(resp: httpx.Response, path: str, method: str, status: int) -> dict:
    assert resp.status_code == status, resp.text
    body = resp.json()
    _error_validator(path, method, status).validate(body)
    return body


DEEP = b"[" * 100_000
POSTS = [("/force-sync", "/v1/force-sync"), ("/lms/course-progressions", "/v1/lms/course-progressions"),
         ("/lms/courses/bulk", "/v1/lms/courses/bulk"),
         ("/lms/courses/{course_id}/deactivate", "/v1/lms/courses/x/deactivate"),
         ("/lms/course-progressions/{course_progression_id}/complete", "/v1/lms/course-progressions/x/complete"),
         ("/passthrough/{tool}/{api}", "/v1/passthrough/moodle/ws")]  # 403 there: not served by env


@pytest.mark.parametrize(("path", "url"), POSTS)
def test_deeply_nested_body_is_400(env, path, url):
    with env.client(env.key_all) as c:
        resp = c.post(url, content=DEEP, headers={"content-type": "application/json"})
    # the env serves no write actions: those answer 403 before reading the body
    _check(resp, path, "post", 400 if path == "/force-sync" else 403)


def test_deeply_nested_body_is_400_where_read(env, odd):
    with _odd_client(env, odd) as c:
        resp = c.post("/v1/passthrough/moodle/ws", content=DEEP, headers={"content-type": "application/json"})
    body = _check(resp, "/passthrough/{tool}/{api}", "post", 400)
    assert "nested too deeply" in body["error"]["message"]


def test_auth_errors_validate(env):
    for path, url in (("/lms/users", "/v1/lms/users"), ("/check-api-key", "/v1/check-api-key")):
        with env.client(None) as c:
            _check(c.get(url), path, "get", 401)
        with env.client("lms_bad_key") as c:
            _check(c.get(url), path, "get", 401)


def test_unknown_integration_and_bad_params_validate(env):
    with env.client(env.key_all, "moodle:nope") as c:
        _check(c.get("/v1/lms/users"), "/lms/users", "get", 404)
    with env.client(env.key_all) as c:
        _check(c.get("/v1/lms/users?page_size=0"), "/lms/users", "get", 400)
        _check(c.get("/v1/lms/users?bogus=1"), "/lms/users", "get", 400)
        body = _check(c.get("/v1/lms/users?updated_after=yesterday"), "/lms/users", "get", 400)
        assert "YYYY-MM-DD" in body["error"]["message"]


@pytest.mark.parametrize("snapshot", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_overflowing_cursor_snapshot_is_400(env, snapshot):
    raw = json.dumps({"after": "abc", "snapshot": snapshot, "q": "x"}).encode()
    token = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    with env.client(env.key_all) as c:
        body = _check(c.get("/v1/lms/users", params={"cursor": token}), "/lms/users", "get", 400)
    assert "cursor" in body["error"]["message"]


def test_unknown_body_field_is_refused_by_name(env):
    with env.client(env.key_all) as c:
        body = _check(c.post("/v1/force-sync", json={"type": "FULL", "foo": 1}), "/force-sync", "post", 400)
    assert "'foo'" in body["error"]["message"]


def test_unknown_route_and_method_carry_a_contract_code(env):
    with env.client(env.key_all) as c:
        _check(c.get("/v1/nothing"), "/check-api-key", "get", 404)
        _check(c.delete("/v1/lms/users"), "/lms/users", "get", 405)


def test_actions_and_tools_unavailable_use_platform_codes(env):
    with env.client(env.key_all) as c:
        body = _check(c.post("/v1/lms/course-progressions", json={"user_id": "x", "course_revision_id": "y"}),
                      "/lms/course-progressions", "post", 403)
        assert body["error"]["message"].startswith("[INTEGRATION.ACTION_NOT_AVAILABLE]")
        _check(c.post("/v1/passthrough/moodle/ws", json={"method": "GET", "path": "/"}),
               "/passthrough/{tool}/{api}", "post", 403)
        _check(c.post("/v1/passthrough/other/ws", json={"method": "GET", "path": "/"}),
               "/passthrough/{tool}/{api}", "post", 403)


@pytest.fixture(scope="module")
def odd(env):
    """A server whose services fail: passthrough echoes, force-sync's broker is down, test-model crashes."""
    def passthrough(integration, request):
        return {"url": "https://lms.example.com/x?wstoken=[REDACTED]", "status": 200, "headers": {}, "data": None}

    def force_sync(iid, kind):
        raise ConnectionRefusedError(111, "Connection refused")

    def test_model(*args):
        raise RuntimeError("boom")

    app = create_app(env.store, services=ApiServices(force_sync=force_sync, passthrough=passthrough, test_model=test_model))
    with serve_in_thread(app) as url:
        yield url


def _odd_client(env, url):
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {env.key_all}", "X-Integration-Id": A})


def test_passthrough_bad_header_name_is_400_and_url_is_encoded(env, odd):
    with _odd_client(env, odd) as c:
        _check(c.post("/v1/passthrough/moodle/ws", json={"method": "GET", "path": "/", "headers": {"": "x"}}),
               "/passthrough/{tool}/{api}", "post", 400)
        ok = c.post("/v1/passthrough/moodle/ws", json={"method": "GET", "path": "/"})
    assert ok.status_code == 200 and "[" not in ok.json()["data"]["url"] and "%5BREDACTED%5D" in ok.json()["data"]["url"]


def test_unreachable_broker_is_503(env, odd):
    with _odd_client(env, odd) as c:
        body = _check(c.post("/v1/force-sync", json={}), "/force-sync", "post", 503)
    assert "LMSYNC_BROKER_URL" in body["error"]["message"]


@pytest.mark.parametrize("pages", ["²", "①", "-1", "0"])
def test_non_ascii_digits_are_400(env, odd, pages):
    with _odd_client(env, odd) as c:
        resp = c.post(f"/v1/integrations/{A}/test-model/users", params={"pages": pages})
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "PLATFORM.INPUT_INVALID"


def test_unexpected_error_is_500_envelope_and_keeps_the_connection(env, odd):
    with _odd_client(env, odd) as c:
        transport_conns = []
        resp = c.post(f"/v1/integrations/{A}/test-model/users", extensions={"trace": lambda n, i: transport_conns.append(n)})
        _check(resp, "/check-api-key", "get", 500)
        assert resp.headers.get("connection", "").lower() != "close"
        again = c.get("/v1/check-api-key")
    assert again.status_code == 200
    assert sum(1 for n in transport_conns if n == "connection.connect_tcp.complete") == 1


def test_corrupt_key_refuses_start_up(tmp_path, monkeypatch):
    from engine.errors import ConfigError
    from engine.store import open_store

    monkeypatch.delenv("LMSYNC_SECRET_KEY", raising=False)
    monkeypatch.setenv("LMSYNC_HOME", str(tmp_path))
    (tmp_path / "secret.key").write_text("not a key\n")
    store = open_store(f"sqlite://{tmp_path / 'k.db'}")
    store.migrate()
    with pytest.raises(ConfigError, match="secret.key"):
        create_app(store, services=ApiServices(force_sync=lambda i, k: ("x", False)))
    store.close()


def test_undecryptable_credentials_are_503(env, odd):
    from engine.secrets import SecretBox, generate_key
    from engine.store.base import Integration

    iid = "moodle:WRONGKEYWRONGKEYWRONGKEY"
    env.store.add_integration(Integration(iid, "moodle", "https://lms.example.com", {"token": "x"}))
    real = env.store._box
    env.store._box = SecretBox(generate_key())  # as if the key file had been replaced
    try:
        with env.client(env.key_all, iid) as c:
            resp = c.get("/v1/lms/users")
    finally:
        env.store._box = real
        env.store.remove_integration(iid)
    body = _check(resp, "/lms/users", "get", 503)
    assert "LMSYNC_SECRET_KEY" in body["error"]["message"]


def test_missing_schema_file_is_named(monkeypatch):
    import schemas._loader as loader
    from engine.errors import ConfigError

    monkeypatch.setattr(loader, "SCHEMA_FILES", (*loader.SCHEMA_FILES, "gone.schema.json"))
    with pytest.raises(ConfigError, match="gone.schema.json"):
        loader.check_schemas()
    with pytest.raises(ConfigError, match="gone.schema.json"):
        create_app(None, services=ApiServices(force_sync=lambda i, k: ("x", False)))


def test_mappings_check_reports_a_broken_schema_file(monkeypatch):
    import schemas._loader as loader
    from engine.cli._mappings import check_paths

    monkeypatch.setattr(loader, "SCHEMA_FILES", (*loader.SCHEMA_FILES, "gone.schema.json"))
    _ok, errors = check_paths(None)
    assert any("gone.schema.json" in e for e in errors)

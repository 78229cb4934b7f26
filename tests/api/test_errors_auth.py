"""Authentication, integration isolation and input errors: always the contract envelope."""

from __future__ import annotations

import httpx
import pytest

from engine.api._keys import hash_key

from .conftest import A, B, assert_error

SCOPED_GETS = ["/v1/lms/users", "/v1/lms/skills", "/v1/lms/courses", "/v1/lms/course-progressions"]


@pytest.mark.parametrize("path", [*SCOPED_GETS, "/v1/check-api-key", f"/v1/integrations/{A}"])
@pytest.mark.parametrize("auth", [None, "Bearer", "Bearer nope", "Basic abc", "Bearer lms_x_y", "Bearer lms_"])
def test_missing_or_bad_key_is_401(env, path, auth):
    headers = {"X-Integration-Id": A, **({"Authorization": auth} if auth else {})}
    resp = httpx.get(env.url + path, headers=headers)
    assert_error(resp, 401, "PLATFORM.AUTHENTICATION_INVALID")


def test_key_with_wrong_secret_is_401(env):
    key_id_part = env.key_a.rsplit("_", 1)[0]
    with env.client(key_id_part + "_wrongsecret") as c:
        assert_error(c.get("/v1/lms/users"), 401, "PLATFORM.AUTHENTICATION_INVALID")


def test_only_hash_is_stored(env):
    key_id = env.key_a.split("_")[1]
    stored = env.store.get_api_key(key_id)
    assert stored.key_hash == hash_key(env.key_a) and env.key_a not in repr(stored)


def _calls(c: httpx.Client, iid: str):
    yield from (c.get(p) for p in SCOPED_GETS)
    yield c.post("/v1/force-sync", json={"type": "DELTA"})
    yield c.get(f"/v1/integrations/{iid}")
    yield c.put(f"/v1/integrations/{iid}/enabled", json={"value": False})
    yield c.delete(f"/v1/integrations/{iid}")


def test_key_for_a_gets_404_for_b_on_every_endpoint(env):
    with env.client(env.key_a, B) as c:
        for resp in _calls(c, B):
            assert_error(resp, 404, "PLATFORM.INTEGRATION_NOT_FOUND")
    assert env.store.get_integration(B).enabled  # nothing happened to B
    assert (B, "DELTA") not in env.services.calls


def test_unknown_integration_is_the_same_404(env):
    with env.client(env.key_all, "moodle:unknown") as c:
        bodies = [assert_error(r, 404, "PLATFORM.INTEGRATION_NOT_FOUND") for r in _calls(c, "moodle:unknown")]
    with env.client(env.key_a, B) as c:
        other = assert_error(c.get("/v1/lms/users"), 404, "PLATFORM.INTEGRATION_NOT_FOUND")
    assert bodies[0]["error"]["title"] == other["error"]["title"]


def test_missing_integration_header_is_400(env):
    with env.client(env.key_all, None) as c:
        assert_error(c.get("/v1/lms/users"), 400, "PLATFORM.INPUT_INVALID")
        assert_error(c.post("/v1/force-sync", json={}), 400, "PLATFORM.INPUT_INVALID")


@pytest.mark.parametrize(
    "params",
    [
        {"page_size": "0"}, {"page_size": "251"}, {"page_size": "abc"}, {"page_size": "-1"}, {"page_size": "1.5"},
        {"updated_after": "yesterday"}, {"updated_after": "2024-13-01T00:00:00Z"}, {"updated_after": "2024-01-01T25:00:00"},
        {"include_deleted": "yes"}, {"ignore_unsupported_filters": "1"},
        {"cursor": "garbage!!"}, {"cursor": "eyJmb28iOjF9"},
        {"bogus": "1"}, {"work_emails": "a@b.c"},  # work_emails is not a courses filter
    ],
)
def test_bad_list_params_are_400(client_a, params):
    body = assert_error(client_a.get("/v1/lms/courses", params=params), 400, "PLATFORM.INPUT_INVALID")
    if "bogus" in params:
        assert "bogus" in body["error"]["message"]


def test_tampered_cursor_is_400(client_a):
    import base64
    import json

    nxt = client_a.get("/v1/lms/users", params={"page_size": 1}).json()["data"]["next"]
    payload = json.loads(base64.urlsafe_b64decode(nxt + "=" * (-len(nxt) % 4)))
    for change in ({"q": "0" * 16}, {"snapshot": "2999-01-01T00:00:00+00:00"}, {"after": "not base58 0OIl"}, {"x": 1}):
        token = base64.urlsafe_b64encode(json.dumps({**payload, **change}).encode()).decode()
        assert_error(client_a.get("/v1/lms/users", params={"cursor": token}), 400, "PLATFORM.INPUT_INVALID")


def test_repeated_param_is_400(env, client_a):
    resp = client_a.get("/v1/lms/users?ids=a&ids=b")
    assert_error(resp, 400, "PLATFORM.INPUT_INVALID")


def test_bodies(env):
    with env.client(env.key_all, A) as c:
        assert_error(c.post("/v1/force-sync", content=b"{not json", headers={"Content-Type": "application/json"}),
                     400, "PLATFORM.INPUT_INVALID")
        assert_error(c.post("/v1/force-sync", json={"type": "SOMETIMES"}), 400, "PLATFORM.INPUT_INVALID")
        assert_error(c.post("/v1/force-sync", json=[1]), 400, "PLATFORM.INPUT_INVALID")
        assert_error(c.post("/v1/force-sync", content=b"type=FULL", headers={"Content-Type": "text/plain"}),
                     415, "PLATFORM.INPUT_INVALID")
        big = b'{"type": "FULL", "pad": "' + b"x" * (1024 * 1024) + b'"}'
        assert_error(c.post("/v1/force-sync", content=big, headers={"Content-Type": "application/json"}),
                     413, "PLATFORM.INPUT_INVALID")

        def chunks():
            yield b'{"pad": "'
            for _ in range(20):
                yield b"x" * 65536
            yield b'"}'

        chunked = c.post("/v1/force-sync", content=chunks(), headers={"Content-Type": "application/json"})
        assert_error(chunked, 413, "PLATFORM.INPUT_INVALID")
        assert_error(c.put(f"/v1/integrations/{A}/enabled", json={}), 400, "PLATFORM.INPUT_INVALID")
        assert_error(c.put(f"/v1/integrations/{A}/enabled", json={"value": "yes"}), 400, "PLATFORM.INPUT_INVALID")
        assert_error(c.put(f"/v1/integrations/{A}/enabled"), 400, "PLATFORM.INPUT_INVALID")


def test_unknown_route_and_method_use_the_envelope(env):
    with env.client(env.key_all) as c:
        assert_error(c.get("/v1/lms/nothing"), 404, "PLATFORM.INPUT_INVALID")
        assert_error(c.delete("/v1/lms/users"), 405, "PLATFORM.INPUT_INVALID")


def test_unexpected_exception_is_a_clean_500(env, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("secret internals /path/to/file.py")

    monkeypatch.setattr(env.store, "query", boom)
    with env.client(env.key_all) as c:
        body = assert_error(c.get("/v1/lms/users"), 500, "PLATFORM.UNKNOWN_ERROR")
    assert "secret internals" not in body["error"]["message"]

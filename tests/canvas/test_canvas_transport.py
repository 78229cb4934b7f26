"""The Canvas transport: request building, list wrapping, error mapping (against the simulator
over real HTTP, and canned answers for what the simulator does not send), throttling retried,
the token never in a URL, an error or a log line."""

from __future__ import annotations

import logging

import httpx
import pytest
from canvas_simenv import canvas_env

from connectors.canvas._errors import retry_after_estimate
from connectors.canvas._transport import build_request, encode_params, parse_response, split_call
from connectors.canvas.simulator import EXPIRED_TOKEN, RESTRICTED_TOKEN, ThrottleConfig
from engine.errors import (AccessDenied, AuthenticationFailed, BadResponse, PaginationError, PermissionMissing,
                           RateLimited, RemoteInputInvalid, RemoteNotFound)
from engine.transport import RetryPolicy

TOKEN = "7~secret+token/with=odd&chars"
SITE = "https://canvas.example.edu"
USERS = "GET /api/v1/accounts/{account_id}/users"


def test_path_parameters_fill_the_template_and_the_rest_is_the_query():
    request = build_request(SITE, TOKEN, USERS, {"account_id": 1, "include": ["email", "uuid"], "sort": "id", "per_page": 100})
    assert request.method == "GET"
    assert request.url.path == "/api/v1/accounts/1/users"
    assert request.url.query.decode() == "include%5B%5D=email&include%5B%5D=uuid&sort=id&per_page=100"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in str(request.url) and b"secret" not in request.content


def test_sis_references_keep_their_colon_and_bodies_use_bracket_syntax():
    request = build_request(SITE, TOKEN, "PUT /api/v1/courses/{course_id}",
                            {"course_id": "sis_course_id:A/B", "course": {"name": "X & Y", "event": "claim"}, "offer": True})
    assert request.url.raw_path == b"/api/v1/courses/sis_course_id:A%2FB"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.content == b"course%5Bname%5D=X+%26+Y&course%5Bevent%5D=claim&offer=true"
    assert encode_params({"state": ["active", "invited"], "skip": None}) == [("state[]", "active"), ("state[]", "invited")]


def test_a_missing_path_parameter_and_a_bad_template_are_named():
    with pytest.raises(ValueError, match="path parameter 'account_id' is missing"):
        build_request(SITE, TOKEN, USERS, {})
    with pytest.raises(ValueError, match="not a Canvas endpoint template"):
        split_call("core_user_get_users")


@pytest.mark.parametrize("url", [
    "https://evil.example.com/api/v1/accounts/1/users?page=2",
    "http://canvas.example.edu/api/v1/accounts/1/users?page=2",      # another scheme
    "https://canvas.example.edu:8443/api/v1/accounts/1/users",        # another port
    "https://canvas.example.edu/login/oauth2/token",                  # outside /api/v1
    "https://user:pw@canvas.example.edu/api/v1/users",
])
def test_next_links_off_the_site_or_the_api_are_never_followed(url):
    with pytest.raises(PaginationError, match="next-page URL"):
        build_request(SITE, TOKEN, USERS, {"__url__": url})


def test_next_links_on_the_site_are_sent_as_given():
    url = "https://canvas.example.edu/api/v1/accounts/1/users?include%5B%5D=email&page=bookmark:WzEwXQ&per_page=100"
    request = build_request(SITE, TOKEN, USERS, {"__url__": url})
    assert str(request.url) == url
    assert request.headers["authorization"] == f"Bearer {TOKEN}"


def _answer(status: int, body: bytes, headers: dict | None = None, ctype: str = "application/json; charset=utf-8"):
    return httpx.Response(status, content=body, headers={"content-type": ctype, **(headers or {})},
                          request=httpx.Request("GET", SITE + "/api/v1/x"))


def test_lists_are_wrapped_with_their_next_link():
    nxt = SITE + "/api/v1/accounts/1/users?page=2&per_page=1"
    out = parse_response(USERS, _answer(200, b'[{"id": 1}]', {"link": f'<{SITE}/x?page=1>; rel="current",<{nxt}>; rel="next"'}))
    assert out == {"items": [{"id": 1}], "next": nxt}
    assert parse_response(USERS, _answer(200, b"[]"))["next"] is None
    assert parse_response(USERS, _answer(200, b'{"id": 3}')) == {"id": 3}


@pytest.mark.parametrize("status, body, headers, error, code", [
    (401, b'{"errors":[{"message":"Invalid access token."}]}', {"www-authenticate": 'Bearer realm="canvas-lms"'},
     AuthenticationFailed, "invalid_token"),
    (401, b'{"status":"unauthorized","errors":[{"message":"user not authorized to perform that action"}]}', {},
     PermissionMissing, "unauthorized"),
    (401, b'{"errors":[{"message":"Insufficient scopes on access token."}]}', {"www-authenticate": 'Bearer realm="canvas-lms"'},
     AccessDenied, "insufficient_scopes"),
    (404, b'{"errors":[{"message":"The specified resource does not exist."}]}', {}, RemoteNotFound, "not_found"),
    (422, b'{"errors":{"name":[{"attribute":"name","type":"too_long","message":"is too long"}]}}', {},
     RemoteInputInvalid, "http422"),
])
def test_error_answers_become_typed_errors(status, body, headers, error, code):
    with pytest.raises(error) as caught:
        parse_response(USERS, _answer(status, body, headers))
    assert caught.value.code == code
    if status == 422:
        assert "name: is too long" in str(caught.value)


def test_throttling_is_rate_limited_with_a_wait_estimate():
    answer = _answer(403, b"403 Forbidden (Rate Limit Exceeded)\n", {"x-rate-limit-remaining": "-30.0"}, "text/plain")
    with pytest.raises(RateLimited) as caught:
        parse_response(USERS, answer)
    assert caught.value.retry_after == pytest.approx(8.0)  # (50 up-front - (-30)) / 10 per second
    assert retry_after_estimate(_answer(403, b"", {"retry-after": "3"})) == 3.0


def test_html_and_garbage_are_bad_responses():
    with pytest.raises(BadResponse, match="HTML page"):
        parse_response(USERS, _answer(200, b"<!DOCTYPE html><html><title>Log In</title></html>", ctype="text/html"))
    with pytest.raises(BadResponse, match="truncated JSON"):
        parse_response(USERS, _answer(200, b'[{"id": 1'))
    with pytest.raises(BadResponse, match="HTML page"):
        parse_response(USERS, _answer(500 - 98, b"<html>proxy</html>", ctype="text/html"))


def test_a_course_without_modules_has_no_progress_instead_of_failing():
    body = b'{"error":{"message":"No progress available because this course is not module based (meaning, it does not have modules and module completion requirements)."}}'
    assert parse_response("GET /api/v1/courses/{course_id}/bulk_user_progress", _answer(400, body)) == {"items": [], "next": None}
    with pytest.raises(RemoteInputInvalid):
        parse_response(USERS, _answer(400, body))


# --- over real HTTP against the simulator --------------------------------------------------
def test_an_expired_token_fails_the_sync_with_authentication_failed(tmp_path, caplog):
    with canvas_env(tmp_path, token=EXPIRED_TOKEN) as env:
        run = env.sync()
    assert run.status == "failed"
    assert "Invalid access token" in run.error and "[invalid_token]" in run.error
    assert EXPIRED_TOKEN not in run.error


def test_a_missing_permission_names_the_endpoint(tmp_path):
    with canvas_env(tmp_path, token=RESTRICTED_TOKEN) as env:
        run = env.sync(models=["courses", "course_progressions"])
        assert run.status == "failed"
        assert "bulk_user_progress" in run.error and "[unauthorized]" in run.error
        with env.engine.transport(env.integration()) as transport:
            with pytest.raises(RemoteNotFound):
                transport.call("GET /api/v1/courses/{course_id}", {"course_id": 999})


def test_field_errors_come_back_as_remote_input_invalid(tiny):
    with tiny.engine.transport(tiny.integration()) as transport:
        with pytest.raises(RemoteInputInvalid) as caught:
            transport.call("PUT /api/v1/courses/{course_id}", {"course_id": 1, "course": {"name": "x" * 300}})
    assert "name: is too long" in str(caught.value)


def test_a_throttled_answer_is_retried_and_the_sync_succeeds(tmp_path):
    policy = RetryPolicy(attempts=30, base_delay=0.01, max_delay=0.05, max_retry_after=0.1)
    with canvas_env(tmp_path, policy=policy) as env:
        # a request costs more than the quota left after it: the next one within ~20 ms is throttled
        env.site.throttle = ThrottleConfig(hwm=60, maximum=200, outflow=3000, up_front_cost=50, base_cost=60)
        run = env.sync(models=["users"])
        assert run.status == "succeeded", run.error
        assert run.stats["users"]["retries"] > 0
        assert len(env.rows("users")) == 10


def test_the_token_never_reaches_logs_or_stored_data(tiny, caplog):
    from connectors.canvas.simulator import ADMIN_TOKEN

    caplog.set_level(logging.DEBUG)
    run = tiny.sync()
    assert run.status == "succeeded"
    assert ADMIN_TOKEN not in caplog.text
    for model in ("users", "course_progressions"):
        for row in tiny.rows(model):
            assert ADMIN_TOKEN not in str(row.remote_data)

"""Generated datasets, fault injection and a real HTTP round trip through run_in_thread."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from connectors.moodle.simulator import (ADMIN_TOKEN, ENDPOINT, FAULT_KINDS, MoodleSite, SimControl, create_app,
                                         run_in_thread, tiny_site)
from connectors.moodle.simulator._site import COMPLETE_STATES


def _fingerprint(site: MoodleSite) -> tuple:
    return (sorted((u.id, u.username, u.email, u.suspended, u.deleted) for u in site.users.values()),
            sorted((c.id, c.shortname, c.visible, c.enablecompletion) for c in site.courses.values()),
            sorted((k, v.state, v.timemodified) for k, v in site.cm_completion.items()),
            sorted(site.course_completions.items()))


def test_generate_is_deterministic_and_varied():
    a = MoodleSite.generate(seed=3, users=120, courses=40, enrolments_per_course=12)
    b = MoodleSite.generate(seed=3, users=120, courses=40, enrolments_per_course=12)
    assert _fingerprint(a) == _fingerprint(b)
    assert _fingerprint(a) != _fingerprint(MoodleSite.generate(seed=4, users=120, courses=40, enrolments_per_course=12))
    courses = [c for c in a.courses.values() if c.id != 1]
    assert any(not c.enablecompletion for c in courses)
    assert any(not a.course_grade_items.get(c.id) for c in courses)
    assert any(not a.course_enrolments.get(c.id) for c in courses)
    assert any(not a.course_competencies.get(c.id) for c in courses)
    assert any(u.deleted for u in a.users.values())
    states = {rec.state for rec in a.cm_completion.values()}
    assert {1, 2, 3} <= states and a.course_completions
    assert any(not a.is_active_in(cid, uid) for cid, per in a.course_enrolments.items() for uid in per)
    assert any(not u.username.isascii() or not (u.firstname + u.lastname).isascii() for u in a.users.values())
    for (cid, uid) in a.course_completions:
        assert all(a.cm_completion[(cm, uid)].state in COMPLETE_STATES for cm in a.courses[cid].criteria_cmids)


def test_tiny_site_stable():
    a, b = tiny_site(), tiny_site()
    assert _fingerprint(a) == _fingerprint(b)
    assert len(a.users) == 11 and sorted(a.courses) == [1, 2, 3, 4, 5]


def _control_app(**kw):
    control = SimControl(**kw)
    return control, create_app(tiny_site(), control)


def _asgi(app, fields: dict) -> tuple[int, dict, bytes]:
    from urllib.parse import urlencode
    out: dict = {}
    body = urlencode(fields).encode()

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
            out["headers"] = {k.decode().lower(): v.decode() for k, v in message["headers"]}
        else:
            out["body"] = message["body"]

    scope = {"type": "http", "method": "POST", "path": ENDPOINT, "query_string": b"",
             "headers": [(b"content-type", b"application/x-www-form-urlencoded")], "client": ("127.0.0.1", 1)}
    asyncio.run(app(scope, receive, send))
    return out["status"], out["headers"], out["body"]


INFO = {"wstoken": ADMIN_TOKEN, "wsfunction": "core_webservice_get_site_info", "moodlewsrestformat": "json"}


@pytest.mark.parametrize("kind, status, ctype", [
    ("http500", 500, "text/html"), ("http503", 503, "text/html"), ("http429", 429, "text/html"),
    ("html", 200, "text/html"), ("errorbody", 200, "application/json"), ("truncated", 200, "application/json"),
])
def test_fault_kinds(kind, status, ctype):
    control, app = _control_app(fault_rate=1.0, fault_kinds=(kind,))
    got_status, headers, body = _asgi(app, INFO)
    assert got_status == status and headers["content-type"].startswith(ctype)
    if kind in ("http503", "http429"):
        assert headers["retry-after"] == "1"
    if kind == "errorbody":
        assert json.loads(body)["errorcode"] == "dmlreadexception"
    if kind == "truncated":
        with pytest.raises(json.JSONDecodeError):
            json.loads(body)
    assert control.calls["core_webservice_get_site_info"] == 1


def test_fault_rng_reproducible_and_counter_reset():
    def run(seed):
        control, app = _control_app(fault_rate=0.5, seed=seed, fault_kinds=("http500", "http503"))
        return [_asgi(app, INFO)[0] for _ in range(12)], control
    first, control = run(7)
    assert first == run(7)[0] and set(first) > {200}
    assert control.calls["core_webservice_get_site_info"] == 12
    control.reset_calls()
    assert not control.calls


def test_fail_function_after_n_calls():
    control, app = _control_app()
    control.fail_function("core_webservice_get_site_info", "dmlreadexception", after_n_calls=2)
    bodies = [json.loads(_asgi(app, INFO)[2]) for _ in range(3)]
    assert "userid" in bodies[0] and "userid" in bodies[1] and bodies[2]["errorcode"] == "dmlreadexception"


def test_unknown_fault_kind_rejected():
    with pytest.raises(ValueError):
        SimControl(fault_kinds=("explode",))
    assert "timeout" in FAULT_KINDS


def test_http_round_trip_get_post_json_body_and_timeout():
    control = SimControl()
    site = tiny_site()
    with run_in_thread(create_app(site, control)) as base:
        url = base + ENDPOINT
        assert site.wwwroot == base
        with httpx.Client(timeout=5) as client:
            info = client.post(url, data=INFO)
            assert info.status_code == 200 and info.headers["content-type"] == "application/json"
            assert info.json()["siteurl"] == base and b"\\/" in info.content
            got = client.get(url, params={**INFO, "wsfunction": "core_user_get_users", "criteria[0][key]": "id",
                                          "criteria[0][value]": "5"}).json()
            assert [u["username"] for u in got["users"]] == ["student01"]
            post_wins = client.post(url + "?wsfunction=nope", data=INFO).json()
            assert post_wins["userid"] == 2
            as_json = client.post(url, params={k: v for k, v in INFO.items() if k != "wsfunction"} | {
                "wsfunction": "core_user_get_users"}, json={"criteria": [{"key": "id", "value": "5"}]}).json()
            assert as_json["errorcode"] == "invalidparameter"
            control.fault_rate, control.fault_kinds, control.timeout_s = 1.0, ("timeout",), 0.5
            with pytest.raises(httpx.ReadTimeout):
                client.post(url, data=INFO, timeout=0.1)
            control.fault_rate = 0.0
            assert client.post(url, data=INFO).status_code == 200

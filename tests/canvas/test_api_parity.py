"""A Canvas and a Moodle integration in one store behind one real lmsync API (loopback HTTP):
every endpoint answers both in the same shape (same envelope, same keys at every level, both
contract-valid), keys are scoped per integration, and a restricted Canvas token is reported
and refused the way a restricted Moodle token is."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from canvas_simenv import CanvasEnv, canvas_env
from jsonschema import Draft202012Validator

from connectors.canvas.simulator import ADMIN_TOKEN, RESTRICTED_TOKEN
from engine.api import create_api_key, serve_in_thread
from engine.api._contract import body_validator, served_openapi
from engine.cli._sync import api_app
from engine.store.base import Integration
from tests.api.conftest import assert_error, response_validator

sys.path.insert(0, str(Path(__file__).parents[1] / "moodle"))
from simenv import MoodleEnv, moodle_env  # noqa: E402

ENDPOINTS = ("/lms/users", "/lms/skills", "/lms/courses", "/lms/course-progressions")
OPAQUE = {"remote_data", "custom_fields", "integration_fields"}  # connector-specific contents by design
RESTRICTED = "canvas:RestrictedIntegration000000000"


@dataclass
class Both:
    """Both envs, the API's URL and keys (all integrations; the Canvas one only)."""

    canvas: CanvasEnv
    moodle: MoodleEnv
    url: str
    key_all: str
    key_canvas: str

    def client(self, iid: str, key: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30,
                            headers={"Authorization": f"Bearer {key or self.key_all}", "X-Integration-Id": iid})


@pytest.fixture
def both(tmp_path, monkeypatch) -> Iterator[Both]:
    monkeypatch.delenv("LMSYNC_BROKER_URL", raising=False)
    with canvas_env(tmp_path) as cenv, moodle_env(tmp_path, store=cenv.store) as menv:
        for env in (cenv, menv):
            run = env.sync()
            assert run.status == "succeeded", run.error
        app = api_app(cenv.store, cenv.engine)
        keys = create_api_key(cenv.store, "all"), create_api_key(cenv.store, "canvas", [cenv.integration_id])
        try:
            with serve_in_thread(app) as url:
                yield Both(cenv, menv, url, *keys)
        finally:
            app.state.services.actions.close()


def shape(value: Any) -> Any:
    """The key structure of a JSON value: objects → their keys with the nested structures,
    lists → the union of their elements' structures, scalars → ``None``."""
    if isinstance(value, dict):
        return {k: (None if k in OPAQUE else shape(v)) for k, v in sorted(value.items())}
    if isinstance(value, list):
        merged: dict = {}
        for item in value:
            s = shape(item)
            if isinstance(s, dict):
                for k, v in s.items():
                    merged[k] = v if merged.get(k) is None else merged[k]
        return [merged] if merged else []
    return None


def differences(a: Any, b: Any, at: str = "") -> list[str]:
    """Where two ``shape`` structures differ (dotted paths), for a readable assertion message."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = [f"{at}.{k}: only in {'the first' if k in a else 'the second'}" for k in sorted(set(a) ^ set(b))]
        return out + [d for k in sorted(set(a) & set(b)) for d in differences(a[k], b[k], f"{at}.{k}")]
    if isinstance(a, list) and isinstance(b, list):  # an empty list on one side says nothing about its items
        return differences(a[0], b[0], at + "[]") if a and b else []
    return [] if a == b or (a in (None, []) and b in (None, [])) else [f"{at}: {a!r} vs {b!r}"]


def _get(c: httpx.Client, path: str) -> dict:
    resp = c.get(f"/v1{path}", params={"page_size": 250})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    response_validator(path).validate(body)
    return body


def _served(path: str) -> Draft202012Validator:
    schema = served_openapi()["paths"][path]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    return Draft202012Validator(schema)


@pytest.mark.parametrize("path", ENDPOINTS)
def test_every_read_endpoint_answers_both_in_the_same_shape(both, path):
    with both.client(both.canvas.integration_id) as c:
        canvas = _get(c, path)
    with both.client(both.moodle.integration_id) as c:
        moodle = _get(c, path)
    assert canvas["data"]["results"] and moodle["data"]["results"]
    assert not differences(shape(canvas), shape(moodle)), differences(shape(canvas), shape(moodle))
    assert ADMIN_TOKEN not in str(canvas)


def test_integration_objects_offer_the_same_models_and_actions(both):
    shown = {}
    with both.client(both.canvas.integration_id) as c:
        for iid in (both.canvas.integration_id, both.moodle.integration_id):
            body = c.get(f"/v1/integrations/{iid}").json()
            response_validator("/integrations/{integration_id}").validate(body)
            shown[body["data"]["tool"]["id"]] = body["data"]
    canvas, moodle = shown["canvas"], shown["moodle"]
    assert {m["id"] for m in canvas["read_models"]} == {m["id"] for m in moodle["read_models"]}
    assert {a["id"] for a in canvas["write_actions"]} == {a["id"] for a in moodle["write_actions"]}
    assert set(canvas) == set(moodle)


def test_tools_answer_both_in_the_same_shape(both):
    answers: dict[str, dict[str, Any]] = {}
    for env in (both.canvas, both.moodle):
        iid = env.integration_id
        with both.client(iid) as c:
            scope = c.post(f"/v1/integrations/{iid}/scope-test")
            model = c.post(f"/v1/integrations/{iid}/test-model/courses?pages=1")
        for resp in (scope, model):
            assert resp.status_code == 200, resp.text
        _served("/v1/integrations/{integration_id}/scope-test").validate(scope.json())
        _served("/v1/integrations/{integration_id}/test-model/{model}").validate(model.json())
        assert model.json()["data"]["verdict"] == "passed"
        answers[iid] = {"scope": set(scope.json()["data"]), "model": set(model.json()["data"]),
                        "entry": set(scope.json()["data"]["entries"][0])}
    assert answers[both.canvas.integration_id] == answers[both.moodle.integration_id]


def test_enroll_answers_both_in_the_same_shape(both):
    with both.client(both.canvas.integration_id) as c:
        canvas = c.post("/v1/lms/course-progressions", json={"user_id": "remote:7", "course_revision_id": "remote:6"}).json()
    with both.client(both.moodle.integration_id) as c:
        moodle = c.post("/v1/lms/course-progressions", json={"user_id": "remote:9", "course_revision_id": "remote:5"}).json()
    for body in (canvas, moodle):
        assert not list(body_validator("PostLmsCourseProgressionsPositiveResponse").iter_errors(body)), body
    assert canvas["data"]["status"] == moodle["data"]["status"] == "ENROLLED"
    assert not differences(shape(canvas), shape(moodle)), differences(shape(canvas), shape(moodle))


def test_a_key_for_canvas_only_never_reaches_moodle(both):
    m = both.moodle.integration_id
    with both.client(m, both.key_canvas) as c:
        for resp in (c.get("/v1/lms/users"), c.get(f"/v1/integrations/{m}"), c.post("/v1/force-sync"),
                     c.post("/v1/lms/courses/remote:2/deactivate"), c.post(f"/v1/integrations/{m}/scope-test"),
                     c.post("/v1/passthrough/moodle/rest", json={"method": "GET", "path": "/webservice/rest/server.php"})):
            assert_error(resp, 404, "PLATFORM.INTEGRATION_NOT_FOUND")
    with both.client(both.canvas.integration_id, both.key_canvas) as c:
        assert len(_get(c, "/lms/users")["data"]["results"]) == 10
    assert both.moodle.site.courses[2].visible == 1  # nothing was written


def test_a_restricted_canvas_token_is_reported_and_refused(both):
    store = both.canvas.store
    store.add_integration(Integration(id=RESTRICTED, connector="canvas", base_url=both.canvas.base_url,
                                      credentials={"token": RESTRICTED_TOKEN}))
    with both.client(RESTRICTED) as c:
        resp = c.post(f"/v1/integrations/{RESTRICTED}/scope-test")
        assert resp.status_code == 200, resp.text
        entries = {e["name"]: e for e in resp.json()["data"]["entries"]}
        assert entries["course_progressions"]["status"] == "FORBIDDEN"
        assert entries["users"]["status"] == "DEGRADED" and entries["enroll"]["status"] == "FORBIDDEN"
        shown = c.get(f"/v1/integrations/{RESTRICTED}").json()["data"]
        available = {m["id"]: m["is_available"] for m in shown["read_models"]}
        assert available["lms_course_progressions"] is False and available["lms_users"] is True
        actions = {a["id"]: a["is_available"] for a in shown["write_actions"]}
        assert actions["lms_create_course_progression"] is False
        refused = c.post("/v1/lms/course-progressions", json={"user_id": "remote:7", "course_revision_id": "remote:6"})
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["message"].startswith("[INTEGRATION.PERMISSION_MISSING]")
        for r in (resp, refused):
            assert RESTRICTED_TOKEN not in r.text
    assert not [e for e in both.canvas.site.enrollments.values() if e.course_id == 6]

"""One Canvas integration (the tiny simulator site) served by the real lmsync API over loopback
HTTP, wired as ``lmsync serve`` wires it (``engine.cli._sync.api_app``: in-process sync queue,
write actions, passthrough, scope test, test-model): every endpoint the Moodle integration has,
each answer checked against the contract's schemas as the Moodle API tests check them."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import httpx
import jsonschema
import pytest
from canvas_simenv import CanvasEnv, canvas_env
from jsonschema import Draft202012Validator

from connectors.canvas.simulator import ADMIN_TOKEN
from engine.api import create_api_key, serve_in_thread
from engine.api._contract import body_validator, contract, served_openapi
from engine.cli._sync import api_app
from engine.ids import random_id
from engine.store.base import WebhookEndpoint
from engine.webhooks import new_secret, verify
from schemas._loader import load_schema, validator_for
from tests.api.conftest import assert_error, response_validator
from tests.webhook_receiver import Receiver

ENDPOINTS = {
    "/lms/users": "user.schema.json",
    "/lms/skills": "skill.schema.json",
    "/lms/courses": "course.schema.json",
    "/lms/course-progressions": "course-progression.schema.json",
}
LIVE = {"/lms/users": 10, "/lms/skills": 3, "/lms/courses": 5, "/lms/course-progressions": 13}  # the tiny site
ITEM = {"origin_id": "ext/sql-101", "course": {"type": "EXTERNAL", "title": "Intro to SQL", "course_url": "https://content.example/sql",
                                                "description": "Learn <SELECT>.", "languages": ["de-DE"]}}


@dataclass
class Api:
    """The Canvas env plus the served API's URL and a key."""

    env: CanvasEnv
    url: str
    key: str
    app: Any

    def client(self, iid: str | None = "") -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.key}"}
        if iid is not None:
            headers["X-Integration-Id"] = iid or self.env.integration_id
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


@pytest.fixture
def api(tmp_path, monkeypatch) -> Iterator[Api]:
    monkeypatch.delenv("LMSYNC_BROKER_URL", raising=False)  # the in-process sync queue
    with canvas_env(tmp_path) as env:
        app = api_app(env.store, env.engine)
        key = create_api_key(env.store, "canvas-test")
        try:
            with serve_in_thread(app) as url:
                yield Api(env, url, key, app)
        finally:
            app.state.services.actions.close()


@pytest.fixture
def synced(api) -> Api:
    run = api.env.sync()
    assert run.status == "succeeded", run.error
    return api


def _ok(resp: httpx.Response, path: str, method: str = "get") -> dict:
    assert resp.status_code == 200, resp.text
    body = resp.json()
    response_validator(path, method).validate(body)
    assert ADMIN_TOKEN not in resp.text
    return body


def _valid(component: str, body: dict) -> dict:
    errors = list(body_validator(component).iter_errors(body))
    assert not errors, errors[0]
    return body


def _nullable(node):
    """OpenAPI 3.0 ``nullable: true`` → JSON Schema ``type: [t, "null"]`` (as tests/scale/test_webhooks.py)."""
    if isinstance(node, dict):
        node = {k: _nullable(v) for k, v in node.items()}
        if node.pop("nullable", False) and isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
        return node
    return [_nullable(v) for v in node] if isinstance(node, list) else node


def _served(path: str) -> Draft202012Validator:
    schema = served_openapi()["paths"][path]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    return Draft202012Validator(schema)


def _all_pages(c: httpx.Client, path: str, **params) -> tuple[list[dict], int]:
    out, cursor, pages = [], None, 0
    while True:
        body = _ok(c.get(f"/v1{path}", params={**params, **({"cursor": cursor} if cursor else {})}), path)
        pages += 1
        out += body["data"]["results"]
        cursor = body["data"]["next"]
        if cursor is None:
            return out, pages


def _wait_run(api: Api, run_id: str, timeout: float = 60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        run = api.env.store.get_run(run_id)
        if run is not None and run.status not in ("running", "queued"):
            return run
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not finish in {timeout} s")


def _poll_task(c: httpx.Client, task_id: str) -> dict:
    for _ in range(600):
        body = c.get(f"/v1/lms/courses/bulk/{task_id}").json()
        if body["data"]["status"] != "PENDING":
            return body
        time.sleep(0.05)
    raise AssertionError("task did not finish")


# --- platform ------------------------------------------------------------------------------
def test_check_api_key_and_integration_object(synced):
    with synced.client(None) as c:
        body = _ok(c.get("/v1/check-api-key"), "/check-api-key")
        assert body["data"] == {"environment_id": "lmsync", "customer_id": "lmsync"}
        body = _ok(c.get(f"/v1/integrations/{synced.env.integration_id}"), "/integrations/{integration_id}")
    data = body["data"]
    assert (data["id"], data["tool"]["id"], data["category"], data["status"]) == (synced.env.integration_id, "canvas", "LMS", "ACTIVE")
    models = {m["id"]: m for m in data["read_models"]}
    assert set(models) >= {"lms_users", "lms_skills", "lms_courses", "lms_course_revisions", "lms_course_progressions"}
    assert {a["id"] for a in data["write_actions"]} >= {"lms_create_course_progression"}
    assert ADMIN_TOKEN not in json.dumps(body)


# --- reads ---------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ENDPOINTS)
def test_every_list_endpoint_is_contract_shaped(synced, path):
    ours = load_schema(ENDPOINTS[path])
    check = validator_for(ours["$id"])
    with synced.client() as c:
        body = _ok(c.get(f"/v1{path}", params={"page_size": 250}), path)
    results = body["data"]["results"]
    assert len(results) == LIVE[path] and body["data"]["next"] is None
    for item in results:
        check.validate(item)
        assert set(item) == set(ours["properties"])
        assert item["changed_at"].endswith("Z") and len(item["changed_at"]) == 24
        assert item["remote_deleted_at"] is None and item["remote_data"]


def test_records_carry_the_canvas_values(synced):
    env = synced.env
    with synced.client() as c:
        [user] = _ok(c.get("/v1/lms/users", params={"remote_ids": "3"}), "/lms/users")["data"]["results"]
        [course] = _ok(c.get("/v1/lms/courses", params={"ids": env.rid("courses", 1)}), "/lms/courses")["data"]["results"]
        [prog] = _ok(c.get("/v1/lms/course-progressions", params={"remote_ids": "1:2"}), "/lms/course-progressions")["data"]["results"]
    assert (user["id"], user["first_name"], user["last_name"], user["work_email"], user["status"]) == (
        env.rid("users", 3), "Jürgen", "Müller", "juergen.mueller@example.com", "ACTIVE")
    assert user["remote_created_at"].startswith("2025-01-01T00:00:00")
    assert course["origin_id"] == "CRS-ENG101"
    [rev] = course["revisions"]
    assert (rev["remote_id"], rev["title"], rev["status"], rev["course_id"]) == ("1", "English for Beginners", "ACTIVE", course["id"])
    assert rev["remote_url"] == f"{env.base_url}/courses/1"
    assert sorted(a["skill"]["name"] for a in rev["skill_assignments"]) == ["Reading", "Écriture"]
    assert prog["status"] == "IN_PROGRESS" and prog["user"]["id"] == env.rid("users", 4)
    assert prog["course_revision"]["id"] == env.rid("course_revisions", 1)


def test_filters_ids_remote_ids_emails_and_references(synced):
    env = synced.env
    with synced.client() as c:
        got = _ok(c.get("/v1/lms/users", params={"ids": f"{env.rid('users', 1)},{env.rid('users', 6)}"}), "/lms/users")
        assert sorted(u["remote_id"] for u in got["data"]["results"]) == ["1", "6"]
        got = _ok(c.get("/v1/lms/users", params={"work_emails": "JUERGEN.MUELLER@example.com"}), "/lms/users")
        assert [u["remote_id"] for u in got["data"]["results"]] == ["3"]
        got = _ok(c.get("/v1/lms/skills", params={"remote_ids": "2,3"}), "/lms/skills")
        assert sorted(s["name"] for s in got["data"]["results"]) == ["Problem solving", "Écriture"]
        got = _ok(c.get("/v1/lms/course-progressions", params={"course_ids": env.rid("courses", 5)}), "/lms/course-progressions")
        assert sorted(p["remote_id"] for p in got["data"]["results"]) == ["5:15", "5:16", "5:17"]
        got = _ok(c.get("/v1/lms/course-progressions", params={"user_ids": env.rid("users", 4)}), "/lms/course-progressions")
        assert {p["user"]["id"] for p in got["data"]["results"]} == {env.rid("users", 4)}
        assert_error(c.get("/v1/lms/users", params={"nope": "1"}), 400, "PLATFORM.INPUT_INVALID")


def test_updated_after_sees_only_what_a_resync_changed(synced):
    env = synced.env
    with synced.client() as c:
        everything, _ = _all_pages(c, "/lms/users", updated_after="2000-01-01")
        assert len(everything) == 10
        time.sleep(0.01)
        cut = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:23] + "Z"  # after the first sync
        assert all(u["changed_at"] < cut for u in everything)
        time.sleep(0.01)
        env.site.users[7].logins[0].workflow_state = "suspended"
        env.site.courses[2].name = "Business, renamed"
        assert env.sync("DELTA").status == "succeeded"
        users, _ = _all_pages(c, "/lms/users", updated_after=cut)
        assert [(u["remote_id"], u["status"]) for u in users] == [("7", "INACTIVE")]
        courses, _ = _all_pages(c, "/lms/courses", updated_after=cut)  # a changed revision changes its course
        assert [(x["remote_id"], x["revisions"][0]["title"]) for x in courses] == [("2", "Business, renamed")]
        assert _all_pages(c, "/lms/skills", updated_after=cut)[0] == []


@pytest.mark.parametrize("path", ENDPOINTS)
def test_cursor_pagination_walks_every_record_once(synced, path):
    with synced.client() as c:
        whole = _ok(c.get(f"/v1{path}", params={"page_size": 250}), path)["data"]["results"]
        paged, pages = _all_pages(c, path, page_size=2)
        assert [r["id"] for r in paged] == [r["id"] for r in whole]
        assert pages == -(-LIVE[path] // 2)
        assert_error(c.get(f"/v1{path}", params={"cursor": "garbage"}), 400, "PLATFORM.INPUT_INVALID")


def test_deleted_records_are_listed_with_include_deleted(synced):
    env = synced.env
    env.site.courses[6].workflow_state = "deleted"
    assert env.sync().status == "succeeded"
    with synced.client() as c:
        live = _ok(c.get("/v1/lms/courses"), "/lms/courses")["data"]["results"]
        every = _ok(c.get("/v1/lms/courses", params={"include_deleted": "true"}), "/lms/courses")["data"]["results"]
    assert "6" not in {x["remote_id"] for x in live}
    [gone] = [x for x in every if x["remote_id"] == "6"]
    assert gone["remote_deleted_at"] is not None


# --- write actions -------------------------------------------------------------------------
def test_bulk_upsert_creates_then_updates_over_http(synced):
    env = synced.env
    with synced.client() as c:
        resp = c.post("/v1/lms/courses/bulk", json={"items": [ITEM]})
        task_id = _valid("PostLmsCoursesBulkPositiveResponse", resp.json())["data"]["task_id"]
        body = _valid("GetLmsCoursesBulkTaskIdPositiveResponse", _poll_task(c, task_id))
        assert body["data"]["status"] == "COMPLETED", body
        [result] = body["data"]["data"]
        assert result["status"] == "SUCCEEDED", result
        cid = result["data"]["id"]
        [course] = _ok(c.get("/v1/lms/courses", params={"ids": cid}), "/lms/courses")["data"]["results"]
        assert course["origin_id"] == "ext/sql-101" and course["revisions"][0]["title"] == "Intro to SQL"
        again = c.post("/v1/lms/courses/bulk", json={"items": [{**ITEM, "course": {**ITEM["course"], "title": "SQL, revised"}}]})
        body = _poll_task(c, again.json()["data"]["task_id"])
        assert body["data"]["data"][0]["data"]["id"] == cid  # updated, not duplicated
        [course] = c.get("/v1/lms/courses", params={"ids": cid}).json()["data"]["results"]
        assert course["revisions"][0]["title"] == "SQL, revised"
    assert len([x for x in env.site.courses.values() if x.sis_course_id == "ext/sql-101"]) == 1


def test_deactivate_enroll_and_complete_over_http(synced):
    env = synced.env
    with synced.client() as c:
        body = _valid("PostLmsCoursesCourseIdDeactivatePositiveResponse",
                      c.post(f"/v1/lms/courses/{env.rid('courses', 1)}/deactivate").json())
        assert body["data"]["revisions"][0]["status"] == "INACTIVE" and env.site.courses[1].workflow_state == "claimed"
        listed = c.get("/v1/lms/courses", params={"remote_ids": "1"}).json()["data"]["results"]
        assert listed[0]["revisions"][0]["status"] == "INACTIVE"
        unknown = c.post("/v1/lms/courses/remote:999/deactivate")
        assert unknown.status_code == 404 and unknown.json()["error"]["message"].startswith("[REMOTE.INPUT_INVALID]")

        resp = c.post("/v1/lms/course-progressions", json={"user_id": env.rid("users", 7), "course_revision_id": "remote:6"})
        body = _valid("PostLmsCourseProgressionsPositiveResponse", resp.json())
        [enrollment] = [e for e in env.site.enrollments.values() if e.course_id == 6]
        assert body["data"]["remote_id"] == f"6:{enrollment.id}" and body["data"]["status"] == "ENROLLED"
        listed = c.get("/v1/lms/course-progressions", params={"ids": body["data"]["id"]}).json()["data"]["results"]
        assert listed[0]["status"] == "ENROLLED"

        pid = env.rid("course_progressions", "1:3")
        resp = c.post(f"/v1/lms/course-progressions/{pid}/complete", json={})
        body = _valid("PostLmsCourseProgressionsCourseProgressionIdCompletePositiveResponse", resp.json())
        assert body["data"]["id"] == pid and body["data"]["status"] == "COMPLETED"
        assert env.site.enrollments[3].workflow_state == "completed"
        scored = c.post("/v1/lms/course-progressions/remote:1:2/complete", json={"score": 80})
        assert scored.status_code in (400, 403) and "score" in scored.json()["error"]["message"]
        assert env.site.enrollments[2].workflow_state == "active"  # nothing written
        assert c.post("/v1/lms/course-progressions", json={"user_id": 5}).status_code == 400


# --- tools ---------------------------------------------------------------------------------
def test_passthrough_over_http(synced):
    with synced.client() as c:
        resp = c.post("/v1/passthrough/canvas/rest", json={"method": "GET", "path": "/api/v1/users/self"})
        data = _valid("PostPassthroughToolApiPositiveResponse", resp.json())["data"]
        assert data["status"] == 200 and data["data"]["id"] == 1
        missing = c.post("/v1/passthrough/canvas/rest", json={"method": "GET", "path": "/api/v1/courses/999"})
        assert missing.status_code == 200 and missing.json()["data"]["status"] == 404  # Canvas's error as data
        before = sum(synced.env.app.calls.values())
        hostile = c.post("/v1/passthrough/canvas/rest", json={"method": "GET", "path": "https://evil.example.com/api/v1/users/self"})
        assert_error(hostile, 400, "PLATFORM.INPUT_INVALID")
        assert sum(synced.env.app.calls.values()) == before  # nothing was sent
        other = c.post("/v1/passthrough/moodle/rest", json={"method": "GET", "path": "/x"})
        assert other.status_code == 403
        for r in (resp, missing, hostile):
            assert ADMIN_TOKEN not in r.text


def test_scope_test_and_test_model_over_http(synced):
    iid = synced.env.integration_id
    with synced.client() as c:
        resp = c.post(f"/v1/integrations/{iid}/scope-test")
        assert resp.status_code == 200, resp.text
        _served("/v1/integrations/{integration_id}/scope-test").validate(resp.json())
        states = {e["name"]: e["status"] for e in resp.json()["data"]["entries"]}
        assert states == {m: "OK" for m in ("users", "skills", "courses", "course_revisions", "revision_skills",
                                            "course_progressions", "upsert_course", "deactivate_course", "enroll", "complete")}
        base = f"/v1/integrations/{iid}/test-model"
        resp = c.post(f"{base}/courses?pages=1")
        assert resp.status_code == 200, resp.text
        _served("/v1/integrations/{integration_id}/test-model/{model}").validate(resp.json())
        data = resp.json()["data"]
        assert data["verdict"] == "passed" and data["mapped"] == 5
        assert c.post(f"{base}/employees").status_code == 400
        assert ADMIN_TOKEN not in resp.text


def test_test_model_writes_nothing(api):
    with api.client() as c:
        resp = c.post(f"/v1/integrations/{api.env.integration_id}/test-model/users?pages=1")
    assert resp.status_code == 200 and resp.json()["data"]["verdict"] == "passed", resp.text
    assert api.env.rows("users") == []


# --- force sync and webhooks ---------------------------------------------------------------
def test_force_sync_runs_the_sync_and_delivers_signed_webhooks(api):
    env = api.env
    secret = new_secret()
    with Receiver() as receiver:
        env.store.add_webhook(WebhookEndpoint(id="wh_" + random_id(), url=receiver.url, secret=secret))
        with api.client() as c:
            resp = c.post("/v1/force-sync", json={"type": "FULL"})
            body = _ok(resp, "/force-sync", "post")
            assert body["data"]["type"] == "FULL" and body["data"]["already_queued"] is False
            run = _wait_run(api, body["data"]["sync_id"])
            assert run.status == "succeeded", run.error
            assert len(_all_pages(c, "/lms/users")[0]) == 10
        deadline = time.time() + 20
        while time.time() < deadline and len(receiver.requests) < 2:
            time.sleep(0.05)
    events = {}
    for headers, raw in receiver.requests:
        assert verify(secret, raw, headers["X-Lmsync-Timestamp"], headers["X-Lmsync-Signature"])
        event = json.loads(raw)
        events[event["type"]] = event
        assert ADMIN_TOKEN.encode() not in raw
    assert set(events) == {"data-changed", "sync-finished"}
    for name, event in (("DataChangedWebhookPayload", "data-changed"), ("SyncFinishedWebhookPayload", "sync-finished")):
        jsonschema.validate(events[event], _nullable(contract()["components"]["schemas"][name]))
    finished = events["sync-finished"]["data"]
    assert finished["sync_id"] == run.id and finished["sync_state"] == "SUCCEEDED"
    assert finished["integration_id"] == env.integration_id and finished["integration_tool"] == "canvas"
    assert {m["name"] for m in events["data-changed"]["data"]["changed_models"]} == {
        "lms_users", "lms_skills", "lms_courses", "lms_course_revisions", "lms_course_progressions",
        "lms_join_revisions_skills"}

"""Write actions over real HTTP (uvicorn on loopback) against the Moodle simulator, checked
against the contract's response schemas and through the read endpoints."""

from __future__ import annotations

import time

import httpx
import pytest
from action_helpers import item

from engine.api import ApiServices, create_api_key, create_app, serve_in_thread
from engine.api._contract import body_validator
from engine.store.base import Integration

OTHER = "moodle:OtherIntegration0000000000"


def _valid(component: str, body: dict) -> dict:
    errors = list(body_validator(component).iter_errors(body))
    assert not errors, errors[0]
    return body


@pytest.fixture
def api(menv):
    menv.store.add_integration(Integration(OTHER, "moodle", menv.base_url, {"token": "0" * 32}))
    services = ApiServices(force_sync=lambda iid, kind: ("s1", False), actions=menv.actions)
    keys = {"all": create_api_key(menv.store, "all"), "other": create_api_key(menv.store, "other", [OTHER])}
    with serve_in_thread(create_app(menv.store, services=services)) as url:
        def client(key: str = "all", iid: str = menv.integration_id) -> httpx.Client:
            return httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {keys[key]}", "X-Integration-Id": iid})
        menv.client = client
        yield menv


def _poll(c: httpx.Client, task_id: str) -> dict:
    for _ in range(300):
        body = c.get(f"/v1/lms/courses/bulk/{task_id}").json()
        if body["data"]["status"] != "PENDING":
            return body
        time.sleep(0.05)
    raise AssertionError("task did not finish")


def test_bulk_upsert_task_and_read(api):
    with api.client() as c:
        resp = c.post("/v1/lms/courses/bulk", json={"items": [item("h-1", "Hello", duration=5), item("h-2")]})
        assert resp.status_code == 200
        task_id = _valid("PostLmsCoursesBulkPositiveResponse", resp.json())["data"]["task_id"]
        body = _valid("GetLmsCoursesBulkTaskIdPositiveResponse", _poll(c, task_id))
        assert body["data"]["status"] == "COMPLETED" and body["data"]["completed_at"]
        ids = [r["data"]["id"] for r in body["data"]["data"]]
        assert [r["status"] for r in body["data"]["data"]] == ["SUCCEEDED", "SUCCEEDED"]
        assert any("h-1: duration" in w["message"] for w in body["warnings"])
        courses = c.get("/v1/lms/courses", params={"ids": ",".join(ids)}).json()["data"]["results"]
        assert sorted(x["origin_id"] for x in courses) == ["h-1", "h-2"]
        assert {x["revisions"][0]["title"] for x in courses} == {"Hello", "Course"}
        assert c.get("/v1/lms/courses/bulk/NoSuchTask").status_code == 404
    with api.client(iid=OTHER) as c:  # another integration never sees the task
        assert c.get(f"/v1/lms/courses/bulk/{task_id}").status_code == 404


def test_deactivate_over_http(api):
    cid = api.rid("courses", 3)
    with api.client() as c:
        body = _valid("PostLmsCoursesCourseIdDeactivatePositiveResponse", c.post(f"/v1/lms/courses/{cid}/deactivate").json())
        assert body["data"]["id"] == cid and body["warnings"] == []
        assert body["data"]["revisions"][0]["status"] == "INACTIVE"
        resp = c.post("/v1/lms/courses/remote:2/deactivate", json={})
        assert resp.status_code == 200 and resp.json()["data"]["revisions"][0]["status"] == "INACTIVE"
        listed = c.get("/v1/lms/courses", params={"remote_ids": "2"}).json()["data"]["results"]
        assert listed[0]["revisions"][0]["status"] == "INACTIVE"
        missing = c.post("/v1/lms/courses/NoSuchCourse/deactivate")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "PLATFORM.INPUT_INVALID"
        unknown = c.post("/v1/lms/courses/remote:999/deactivate")
        assert unknown.status_code == 404 and unknown.json()["error"]["message"].startswith("[REMOTE.INPUT_INVALID]")
        assert "invalidrecord" in unknown.json()["error"]["message"]


def test_enroll_and_complete_over_http(api):
    with api.client() as c:
        resp = c.post("/v1/lms/course-progressions", json={"user_id": api.rid("users", 9), "course_revision_id": "remote:5"})
        body = _valid("PostLmsCourseProgressionsPositiveResponse", resp.json())
        assert body["data"]["remote_id"] == "5:9" and body["data"]["status"] == "ENROLLED"
        assert body["data"]["user"]["first_name"] == "Wei" and body["data"]["course_revision"]["title"] == "Empty Course"
        listed = c.get("/v1/lms/course-progressions", params={"ids": body["data"]["id"]}).json()["data"]["results"]
        assert listed[0]["status"] == "ENROLLED"

        pid = api.rid("course_progressions", "2:9")
        resp = c.post(f"/v1/lms/course-progressions/{pid}/complete", json={"completed_at": "2024-04-15", "score": 93})
        body = _valid("PostLmsCourseProgressionsCourseProgressionIdCompletePositiveResponse", resp.json())
        assert body["data"]["id"] == pid and body["data"]["status"] == "IN_PROGRESS"
        assert any("cron" in w["message"] for w in body["warnings"])
        assert api.site.grades[(api.site.cms[3].gradeitemid, 9)].rawgrade == 93.0

        bad = c.post("/v1/lms/course-progressions/remote:5:9/complete", json={"score": 10})
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "PLATFORM.INPUT_INVALID"
        invalid = c.post("/v1/lms/course-progressions", json={"user_id": 5})
        assert invalid.status_code == 400


def test_errors_over_http(api):
    api.site.manual_instance(4).status = 1
    api.site.touch()
    with api.client() as c:
        resp = c.post("/v1/lms/course-progressions", json={"user_id": "remote:9", "course_revision_id": "remote:4"})
        assert resp.status_code == 400 and resp.json()["error"]["message"].startswith("[REMOTE.INPUT_INVALID]")
        assert "wsnoinstance" in resp.json()["error"]["message"]
    with api.client("other") as c:  # a key limited to another integration: 404 like the read side
        resp = c.post("/v1/lms/courses/remote:2/deactivate")
        assert resp.status_code == 404 and resp.json()["error"]["code"] == "PLATFORM.INTEGRATION_NOT_FOUND"
        resp = c.post("/v1/lms/courses/bulk", json={"items": [item("x")]})
        assert resp.status_code == 404
    assert api.site.courses[2].visible == 1 and not [x for x in api.site.courses.values() if x.idnumber == "x"]
    with api.client("other", iid=OTHER) as c:  # that integration's token is invalid in Moodle
        resp = c.post("/v1/lms/courses/remote:2/deactivate")
        assert resp.status_code == 403 and resp.json()["error"]["message"].startswith("[INTEGRATION.AUTHENTICATION_INVALID]")


def test_without_action_service(menv):
    app = create_app(menv.store, services=ApiServices(force_sync=lambda iid, kind: ("s", False)))
    key = create_api_key(menv.store, "k")
    with serve_in_thread(app) as url, httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}", "X-Integration-Id": menv.integration_id}) as c:
        resp = c.post("/v1/lms/courses/remote:2/deactivate")
        assert resp.status_code == 403 and resp.json()["error"]["message"].startswith("[INTEGRATION.ACTION_NOT_AVAILABLE]")
        allow = c.request("PUT", "/v1/lms/course-progressions").headers["allow"]
        assert set(allow.split(", ")) == {"GET", "HEAD", "POST"}

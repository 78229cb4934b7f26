"""Writes: create/update/delete courses, enroll, conclude/delete/inactivate, reactivate, and their 4xx."""

from __future__ import annotations

import httpx

from connectors.canvas.simulator import RESTRICTED_TOKEN, TEACHER_TOKEN
from connectors.canvas.simulator._routes_enrollments import _ERRORS

UNAUTHORIZED = {"status": "unauthorized", "errors": [{"message": "user not authorized to perform that action"}]}


def test_create_course_with_sis_id_and_offer(http, site):
    response = http.post("/api/v1/accounts/2/courses", data={
        "course[name]": "Deutsch für Anfänger", "course[course_code]": "DEU100",
        "course[sis_course_id]": "CRS-DEU100",
        "course[start_at]": "2025-09-01T08:00:00Z", "course[end_at]": "2025-12-20T00:00:00+01:00", "offer": "true"})
    assert response.status_code == 200
    course = response.json()
    assert (course["name"], course["course_code"], course["sis_course_id"], course["account_id"]) == (
        "Deutsch für Anfänger", "DEU100", "CRS-DEU100", 2)
    assert course["workflow_state"] == "available"
    assert course["start_at"] == "2025-09-01T08:00:00Z" and course["end_at"] == "2025-12-19T23:00:00Z"
    assert http.get("/api/v1/courses/sis_course_id:CRS-DEU100").json()["id"] == course["id"]
    assert site.courses[course["id"]].workflow_state == "available"
    assert "enrollments" not in course and course["allow_wiki_comments"] is False and course["blueprint"] is False


def test_create_course_defaults_to_unpublished_and_unnamed(http):
    course = http.post("/api/v1/accounts/1/courses", data={}).json()
    assert (course["name"], course["course_code"], course["workflow_state"]) == ("Unnamed Course", "Unnamed",
                                                                                 "unpublished")


def test_duplicate_sis_id_is_a_400_with_field_errors(http):
    response = http.post("/api/v1/accounts/1/courses",
                         data={"course[name]": "Dup", "course[sis_course_id]": "CRS-ENG101"})
    assert response.status_code == 400
    assert response.json() == {"errors": {"sis_source_id": [{
        "attribute": "sis_source_id", "type": 'SIS ID "CRS-ENG101" is already in use',
        "message": 'SIS ID "CRS-ENG101" is already in use'}]}}


def test_bad_dates_are_400s(http):
    response = http.post("/api/v1/accounts/1/courses", data={
        "course[name]": "Backwards", "course[start_at]": "2025-09-01T00:00:00Z",
        "course[end_at]": "2025-08-01T00:00:00Z"})
    assert response.status_code == 400
    assert response.json()["errors"]["conclude_at"][0]["message"] == "End date cannot be before start date"
    response = http.post("/api/v1/accounts/1/courses", data={"course[start_at]": "next tuesday"})
    assert response.status_code == 400 and response.json()["errors"]["start_at"][0]["type"] == "invalid"
    response = http.put("/api/v1/courses/1", data={"course[name]": "x" * 256})
    assert response.json()["errors"]["name"][0]["type"] == "too_long"


def test_create_course_needs_manage_permission(base):
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {RESTRICTED_TOKEN}"}) as rita:
        response = rita.post("/api/v1/accounts/1/courses", data={"course[name]": "Nope"})
    assert response.status_code == 401 and response.json() == UNAUTHORIZED


def test_update_course_attributes_and_events(http, site):
    updated = http.put("/api/v1/courses/2", data={"course[name]": "Business Basics II", "course[event]": "offer"})
    assert updated.status_code == 200
    assert (updated.json()["name"], updated.json()["workflow_state"]) == ("Business Basics II", "available")
    assert http.put("/api/v1/courses/2", json={"course": {"event": "claim"}}).json()["workflow_state"] == "unpublished"
    concluded = http.put("/api/v1/courses/1", data={"course[event]": "conclude"}).json()
    assert concluded["workflow_state"] == "completed"
    assert {e.workflow_state for e in site.enrollments_of_course(1)} == {"completed", "inactive", "deleted"}
    assert http.put("/api/v1/courses/6", data={"course[event]": "delete"}).json()["workflow_state"] == "deleted"
    assert http.get("/api/v1/courses/6").status_code == 404
    assert http.put("/api/v1/courses/6", data={"course[event]": "undelete"}).json()["workflow_state"] == "unpublished"


def test_update_course_rejects_unknown_events_and_missing_rights(http, base):
    response = http.put("/api/v1/courses/1", data={"course[event]": "explode"})
    assert response.status_code == 400 and "event" in response.json()["errors"]
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {RESTRICTED_TOKEN}"}) as rita:
        assert rita.put("/api/v1/courses/1", data={"course[name]": "Hijack"}).status_code == 401
    assert http.put("/api/v1/courses/999", data={"course[name]": "x"}).status_code == 404


def test_sis_id_is_ignored_without_manage_sis(http, site):
    site.tokens[next(t for t in site.tokens if site.tokens[t].permissions is None)].permissions = frozenset(
        {"manage_courses_add", "manage_courses_admin", "read_sis"})
    course = http.post("/api/v1/accounts/1/courses", data={"course[name]": "No SIS", "course[sis_course_id]": "X1"})
    assert course.status_code == 200 and course.json()["sis_course_id"] is None


def test_delete_course_endpoint(http):
    assert http.delete("/api/v1/courses/6", params={"event": "delete"}).json() == {"delete": True}
    assert http.delete("/api/v1/courses/5", params={"event": "conclude"}).json() == {"conclude": True}
    assert http.get("/api/v1/courses/5").json()["workflow_state"] == "completed"
    assert http.delete("/api/v1/courses/1").status_code == 400


def test_enroll_a_student_active(http, site):
    response = http.post("/api/v1/courses/6/enrollments", data={
        "enrollment[user_id]": "3", "enrollment[type]": "StudentEnrollment", "enrollment[enrollment_state]": "active"})
    assert response.status_code == 200
    enrollment = response.json()
    assert (enrollment["course_id"], enrollment["user_id"], enrollment["enrollment_state"], enrollment["role_id"]) == (
        6, 3, "active", 3)
    listed = http.get("/api/v1/courses/6/enrollments").json()
    assert [e["id"] for e in listed] == [enrollment["id"]]


def test_enroll_by_sis_id_and_role_id_defaults_to_invited(http):
    enrollment = http.post("/api/v1/courses/6/enrollments", json={
        "enrollment": {"user_id": "sis_user_id:S05", "role_id": 4}}).json()
    assert (enrollment["user_id"], enrollment["type"], enrollment["enrollment_state"]) == (7, "TeacherEnrollment",
                                                                                          "invited")


def test_enrolling_again_updates_the_existing_enrollment(http, site):
    before = len(site.enrollments)
    again = http.post("/api/v1/courses/1/enrollments", data={
        "enrollment[user_id]": "6", "enrollment[type]": "StudentEnrollment", "enrollment[enrollment_state]": "active"})
    assert again.json()["id"] == 4 and again.json()["enrollment_state"] == "active"
    assert len(site.enrollments) == before


def test_enroll_errors(http):
    def post(**fields):
        return http.post("/api/v1/courses/1/enrollments", data={f"enrollment[{k}]": v for k, v in fields.items()})
    response = http.post("/api/v1/courses/1/enrollments", data={})
    assert (response.status_code, response.json()) == (400, {"message": _ERRORS["missing_parameters"]})
    response = post(type="StudentEnrollment")
    assert (response.status_code, response.json()) == (400, {"message": _ERRORS["missing_user_id"]})
    response = post(user_id="3", type="WizardEnrollment")
    assert (response.status_code, response.json()) == (400, {"message": _ERRORS["bad_type"]})
    response = post(user_id="3", role_id="99")
    assert response.json() == {"message": _ERRORS["bad_role"]}
    assert post(user_id="999", type="StudentEnrollment").status_code == 404
    assert post(user_id="9", type="StudentEnrollment").status_code == 404          # deleted user
    response = http.post("/api/v1/courses/3/enrollments", data={"enrollment[user_id]": "4",
                                                                "enrollment[type]": "StudentEnrollment"})
    assert (response.status_code, response.json()) == (400, {"message": _ERRORS["concluded_course"]})
    assert http.post("/api/v1/courses/4/enrollments", data={"enrollment[user_id]": "4"}).status_code == 404


def test_teacher_may_enroll_students_but_not_teachers(base):
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TEACHER_TOKEN}"}) as tara:
        ok = tara.post("/api/v1/courses/1/enrollments", data={"enrollment[user_id]": "7",
                                                                "enrollment[type]": "StudentEnrollment"})
        assert ok.status_code == 200
        nope = tara.post("/api/v1/courses/1/enrollments", data={"enrollment[user_id]": "7",
                                                                  "enrollment[type]": "TeacherEnrollment"})
        assert nope.status_code == 401


def test_delete_enrollment_tasks(http, site):
    concluded = http.delete("/api/v1/courses/1/enrollments/2", params={"task": "conclude"}).json()
    assert concluded["enrollment_state"] == "completed" and concluded["completed_at"] == "2025-06-15T00:00:00Z"
    assert http.delete("/api/v1/courses/1/enrollments/2", params={"task": "conclude"}).status_code == 400
    assert http.delete("/api/v1/courses/1/enrollments/3", params={"task": "inactivate"}).json()[
        "enrollment_state"] == "inactive"
    assert http.delete("/api/v1/courses/1/enrollments/5", params={"task": "deactivate"}).json()[
        "enrollment_state"] == "inactive"
    assert http.delete("/api/v1/courses/1/enrollments/1", params={"task": "delete"}).json()[
        "enrollment_state"] == "deleted"
    assert http.delete("/api/v1/courses/1/enrollments/1", params={"task": "delete"}).status_code == 404
    assert http.delete("/api/v1/courses/1/enrollments/8").json()["enrollment_state"] == "completed"  # default task
    assert http.delete("/api/v1/courses/2/enrollments/1").status_code == 404       # another course's enrollment
    remaining = http.get("/api/v1/courses/1/enrollments").json()
    assert [e["id"] for e in remaining] == []


def test_reactivate_enrollment(http):
    assert http.put("/api/v1/courses/1/enrollments/4/reactivate").json()["enrollment_state"] == "active"
    assert http.put("/api/v1/courses/1/enrollments/4/reactivate").status_code == 400


def test_restricted_token_cannot_unenroll(base):
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {RESTRICTED_TOKEN}"}) as rita:
        response = rita.delete("/api/v1/courses/1/enrollments/2", params={"task": "delete"})
    assert response.status_code == 401 and response.json() == UNAUTHORIZED

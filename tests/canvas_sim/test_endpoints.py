"""The shape of each read endpoint and who may call it."""

from __future__ import annotations

import httpx
import pytest

from connectors.canvas.simulator import RESTRICTED_TOKEN, STUDENT_TOKEN, TEACHER_TOKEN
from connectors.canvas.simulator._json import NOT_MODULE_BASED


def as_token(base: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def test_users_self_and_show(http):
    me = http.get("/api/v1/users/self").json()
    assert me["id"] == 1 and me["login_id"] == "admin" and me["email"] == "admin@example.com"
    jurgen = http.get("/api/v1/users/3").json()
    assert {k: jurgen[k] for k in ("name", "sortable_name", "short_name", "sis_user_id", "integration_id",
                                   "login_id", "locale", "time_zone")} == {
        "name": "Jürgen Müller", "sortable_name": "Müller, Jürgen", "short_name": "Jürgen", "sis_user_id": "S01",
        "integration_id": "INT-S01", "login_id": "juergen", "locale": "de", "time_zone": "Europe/Berlin"}


def test_account_users_fields_depend_on_includes_and_permissions(http, base):
    admin = http.get("/api/v1/accounts/1/users", params={"include[]": ["email", "last_login"], "per_page": 100})
    jurgen = next(u for u in admin.json() if u["id"] == 3)
    assert jurgen == {"id": 3, "name": "Jürgen Müller", "created_at": "2025-01-01T00:00:00Z",
                      "sortable_name": "Müller, Jürgen", "short_name": "Jürgen", "sis_user_id": "S01",
                      "integration_id": "INT-S01", "sis_import_id": None, "login_id": "juergen",
                      "email": "juergen.mueller@example.com", "last_login": "2025-04-01T00:00:00Z"}
    with as_token(base, RESTRICTED_TOKEN) as rita:
        restricted = rita.get("/api/v1/accounts/1/users", params={"include[]": "email", "per_page": 100}).json()
    jurgen = next(u for u in restricted if u["id"] == 3)
    assert set(jurgen) == {"id", "name", "created_at", "sortable_name", "short_name"}


def test_account_users_deleted_search_and_sub_account(http):
    ids = [u["id"] for u in http.get("/api/v1/accounts/1/users", params={"per_page": 100}).json()]
    assert 9 not in ids and 6 in ids                          # deleted left out, suspended listed
    with_deleted = http.get("/api/v1/accounts/1/users", params={"per_page": 100, "include_deleted_users": "true"})
    assert 9 in [u["id"] for u in with_deleted.json()]
    found = http.get("/api/v1/accounts/1/users", params={"search_term": "müll"}).json()
    assert [u["id"] for u in found] == [3]
    short = http.get("/api/v1/accounts/1/users", params={"search_term": "mü"})
    assert short.status_code == 400 and "too short" in short.json()["errors"][0]["message"]
    sub = http.get("/api/v1/accounts/2/users", params={"per_page": 100}).json()
    assert sorted(u["id"] for u in sub) == [2, 3, 4, 5, 6, 7, 8, 10, 11]
    teachers = http.get("/api/v1/accounts/1/users", params={"enrollment_type": "teacher"}).json()
    assert [u["id"] for u in teachers] == [8]


def test_suspended_login_is_visible_in_logins(http):
    logins = http.get("/api/v1/users/6/logins").json()
    assert [(x["unique_id"], x["workflow_state"]) for x in logins] == [("ngozi", "suspended")]


def test_accounts_and_permissions(http, base):
    accounts = http.get("/api/v1/accounts").json()
    assert [(a["id"], a["parent_account_id"]) for a in accounts] == [(1, None), (2, 1)]
    perms = http.get("/api/v1/accounts/self/permissions",
                     params=[("permissions[]", "manage_courses_add"), ("permissions[]", "nonsense")]).json()
    assert perms == {"manage_courses_add": True, "nonsense": False}
    with as_token(base, RESTRICTED_TOKEN) as rita:
        perms = rita.get("/api/v1/accounts/1/permissions",
                         params=[("permissions[]", "read_roster"), ("permissions[]", "read_sis"),
                                 ("permissions[]", "manage_courses_add")]).json()
    assert perms == {"read_roster": True, "read_sis": False, "manage_courses_add": False}
    with as_token(base, STUDENT_TOKEN) as student:
        assert student.get("/api/v1/accounts/1/permissions").status_code == 401


def test_course_shape_and_workflow_states(http):
    course = http.get("/api/v1/courses/1").json()
    for key in ("id", "name", "course_code", "workflow_state", "account_id", "root_account_id", "enrollment_term_id",
                "start_at", "end_at", "created_at", "sis_course_id", "integration_id", "uuid", "time_zone"):
        assert key in course, key
    assert (course["sis_course_id"], course["workflow_state"]) == ("CRS-ENG101", "available")
    states = {c["id"]: c["workflow_state"] for c in
              http.get("/api/v1/accounts/1/courses", params={"state[]": "all", "per_page": 50}).json()}
    assert states == {1: "available", 2: "unpublished", 3: "completed", 4: "deleted", 5: "available",
                      6: "available"}


def test_account_courses_filters(http):
    def ids(**params):
        found = http.get("/api/v1/accounts/1/courses", params={"per_page": 50, **params}).json()
        return sorted(c["id"] for c in found)
    assert ids() == [1, 2, 3, 5, 6]
    assert ids(**{"state[]": ["created", "claimed"]}) == [2]
    assert ids(published="true") == [1, 5, 6]
    assert ids(completed="true") == [3]
    assert ids(with_enrollments="false") == [6]
    assert ids(search_term="business") == [2, 3]
    assert sorted(c["id"] for c in http.get("/api/v1/accounts/2/courses").json()) == [1, 5]


def test_course_includes(http):
    course = http.get("/api/v1/courses/1", params=[("include[]", "teachers"), ("include[]", "concluded"),
                                                   ("include[]", "account_name")]).json()
    assert [t["display_name"] for t in course["teachers"]] == ["Tara"]
    assert course["concluded"] is False and course["account_name"] == "Languages"


def test_course_enrollments_shape_and_filters(http):
    rows = http.get("/api/v1/courses/1/enrollments", params={"per_page": 100}).json()
    first = rows[0]
    assert first["user"] == {"id": 3, "name": "Jürgen Müller", "created_at": "2025-01-01T00:00:00Z",
                             "sortable_name": "Müller, Jürgen", "short_name": "Jürgen", "sis_user_id": "S01",
                             "integration_id": "INT-S01", "sis_import_id": None, "login_id": "juergen"}
    assert (first["type"], first["role"], first["role_id"], first["enrollment_state"]) == (
        "StudentEnrollment", "StudentEnrollment", 3, "active")
    assert first["grades"]["current_score"] == 91.5 and first["sis_course_id"] == "CRS-ENG101"

    def states(**params):
        got = http.get("/api/v1/courses/1/enrollments", params={"per_page": 100, **params}).json()
        return sorted((e["user_id"], e["enrollment_state"]) for e in got)
    assert states() == [(3, "active"), (4, "active"), (5, "active"), (8, "active"), (10, "invited")]
    assert states(**{"state[]": ["completed", "inactive", "deleted"]}) == [(6, "inactive"), (9, "deleted"),
                                                                          (11, "completed")]
    assert states(**{"state[]": "current_and_concluded", "type[]": "StudentEnrollment"}) == [
        (3, "active"), (4, "active"), (5, "active"), (11, "completed")]
    assert states(**{"type[]": "TeacherEnrollment"}) == [(8, "active")]
    assert states(user_id="sis_user_id:S02") == [(4, "active")]


def test_user_enrollments_and_student_visibility(http, base):
    own = http.get("/api/v1/users/3/enrollments", params={"state[]": ["active", "completed"]}).json()
    assert sorted(e["course_id"] for e in own) == [1, 2, 3]      # course 4 is deleted
    with as_token(base, STUDENT_TOKEN) as student:
        mine = student.get("/api/v1/users/self/enrollments").json()
        assert sorted(e["course_id"] for e in mine) == [1, 2]
        roster = student.get("/api/v1/courses/1/enrollments", params={"per_page": 100}).json()
        grades = {e["user_id"]: "grades" in e for e in roster if e["type"] == "StudentEnrollment"}
        assert grades == {3: True, 4: False, 5: False, 10: False}   # only the caller's own grades
        assert student.get("/api/v1/courses/5/enrollments").status_code == 401
        assert student.get("/api/v1/users/4").status_code == 401


def test_bulk_user_progress(http, base):
    rows = http.get("/api/v1/courses/1/bulk_user_progress", params={"per_page": 100}).json()
    by_id = {r["id"]: r["progress"] for r in rows}
    assert sorted(by_id) == [3, 4, 5, 6, 10, 11]
    assert by_id[3] == {"requirement_count": 4, "requirement_completed_count": 4, "next_requirement_url": None,
                        "completed_at": "2025-03-12T00:00:00Z"}
    assert by_id[4]["requirement_completed_count"] == 2
    assert by_id[4]["next_requirement_url"] == f"{base}/courses/1/modules/items/1003"
    assert by_id[5] == {"requirement_count": 4, "requirement_completed_count": 0, "next_requirement_url": None,
                        "completed_at": None}                      # never started: no progression yet
    assert set(rows[0]) == {"id", "display_name", "avatar_image_url", "html_url", "pronouns", "progress"}
    not_module = http.get("/api/v1/courses/5/bulk_user_progress")
    assert not_module.status_code == 400 and not_module.json() == {"error": {"message": NOT_MODULE_BASED}}
    paged = http.get("/api/v1/courses/1/bulk_user_progress", params={"per_page": 1, "page": 2})
    assert len(paged.json()) == 1 and 'rel="last"' in paged.headers["link"]
    with as_token(base, RESTRICTED_TOKEN) as rita:
        assert rita.get("/api/v1/courses/1/bulk_user_progress").status_code == 401
    with as_token(base, TEACHER_TOKEN) as tara:
        assert tara.get("/api/v1/courses/1/bulk_user_progress").status_code == 200


def test_single_user_progress(http, base):
    assert http.get("/api/v1/courses/2/users/3/progress").json()["requirement_completed_count"] == 1
    assert http.get("/api/v1/courses/5/users/4/progress").json() == {"error": {"message": NOT_MODULE_BASED}}
    with as_token(base, STUDENT_TOKEN) as student:
        assert student.get("/api/v1/courses/1/users/self/progress").json()["completed_at"] == "2025-03-12T00:00:00Z"
        assert student.get("/api/v1/courses/1/users/4/progress").status_code == 401


def test_outcome_groups_and_links(http):
    groups = http.get("/api/v1/accounts/1/outcome_groups").json()
    assert [(g["id"], g["title"], (g["parent_outcome_group"] or {}).get("id")) for g in groups] == [
        (1, "Tiny Canvas", None), (9, "Language Skills", 1), (10, "Digital Skills", 1)]
    assert groups[1]["outcomes_url"] == "/api/v1/accounts/1/outcome_groups/9/outcomes"
    links = http.get("/api/v1/accounts/1/outcome_groups/9/outcomes", params={"outcome_style": "full"}).json()
    assert [link["outcome"]["title"] for link in links] == ["Reading comprehension", "Écriture"]
    writing = links[1]["outcome"]
    assert writing["calculation_method"] == "decaying_average" and writing["calculation_int"] == 65
    abbrev = http.get("/api/v1/accounts/1/outcome_groups/9/outcomes").json()[0]["outcome"]
    assert "ratings" not in abbrev and abbrev["vendor_guid"] == "LANG-R"
    course_links = http.get("/api/v1/courses/1/outcome_group_links").json()
    assert [(x["context_type"], x["context_id"], x["outcome"]["id"]) for x in course_links] == [
        ("Course", 1, 1), ("Course", 1, 2)]
    assert course_links[0]["outcome"]["context_type"] == "Account"
    assert http.get("/api/v1/courses/2/outcome_group_links").json() == []
    subgroups = http.get("/api/v1/accounts/1/outcome_groups/1/subgroups").json()
    assert [g["title"] for g in subgroups] == ["Language Skills", "Digital Skills"]
    assert http.get("/api/v1/outcomes/2").json()["ratings"][0]["points"] == 5.0
    assert http.get("/api/v1/courses/1/outcome_groups/9").status_code == 404   # not the course's group


def test_root_outcome_group_redirects(http, base):
    response = http.get("/api/v1/courses/1/root_outcome_group")
    assert response.status_code == 302
    assert response.headers["location"] == f"{base}/api/v1/courses/1/outcome_groups/3"
    assert http.get(response.headers["location"]).json()["title"] == "English for Beginners"


@pytest.mark.parametrize("path", ["/api/v1/accounts/1/outcome_groups", "/api/v1/accounts/1/users",
                                  "/api/v1/courses/1/bulk_user_progress"])
def test_student_token_cannot_read_account_data(base, path):
    with as_token(base, STUDENT_TOKEN) as student:
        assert student.get(path).status_code == 401


def test_student_reads_own_course_and_its_outcomes(base):
    with as_token(base, STUDENT_TOKEN) as student:
        course = student.get("/api/v1/courses/1").json()
        assert course["enrollments"] == [{"type": "student", "role": "StudentEnrollment", "role_id": 3, "user_id": 3,
                                          "enrollment_state": "active", "limit_privileges_to_course_section": False}]
        assert "sis_course_id" not in course
        assert len(student.get("/api/v1/courses/1/outcome_group_links").json()) == 2
        assert student.get("/api/v1/courses/5").status_code == 401


def test_enrollment_by_id_in_an_account(http, base):
    assert http.get("/api/v1/accounts/1/enrollments/7").json()["enrollment_state"] == "deleted"
    assert http.get("/api/v1/accounts/1/enrollments/999").status_code == 404
    assert http.get("/api/v1/accounts/1/enrollments").status_code == 404      # no account-wide list in Canvas
    with as_token(base, STUDENT_TOKEN) as student:
        assert student.get("/api/v1/accounts/1/enrollments/1").json()["user_id"] == 3
        assert student.get("/api/v1/accounts/1/enrollments/2").status_code == 401


def test_profile_account_and_course_permissions(http, base):
    profile = http.get("/api/v1/users/3/profile").json()
    assert (profile["primary_email"], profile["login_id"], profile["sis_user_id"]) == (
        "juergen.mueller@example.com", "juergen", "S01")
    account = http.get("/api/v1/accounts/2").json()
    assert (account["name"], account["parent_account_id"], account["root_account_id"], account["sis_account_id"]) == (
        "Languages", 1, 1, "ACC-LANG")
    with as_token(base, TEACHER_TOKEN) as tara:
        perms = tara.get("/api/v1/courses/1/permissions",
                         params=[("permissions[]", "view_all_grades"), ("permissions[]", "manage_courses_admin")])
        assert perms.json() == {"view_all_grades": True, "manage_courses_admin": False}
        assert tara.get("/api/v1/courses/6/permissions").status_code == 401      # not her course

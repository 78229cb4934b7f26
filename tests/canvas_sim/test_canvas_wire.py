"""Wire details: string ids, include[]/state[] arrays, times, JSON escaping, parameter parsing."""

from __future__ import annotations

import pytest

from connectors.canvas.simulator._wire import parse_nested, stringify_ids, to_query

STRING_IDS = {"Accept": "application/json+canvas-string-ids"}


def test_string_ids_header_turns_every_id_into_a_string(http):
    course = http.get("/api/v1/courses/1", headers=STRING_IDS).json()
    assert course["id"] == "1" and course["account_id"] == "2" and course["root_account_id"] == "1"
    assert course["enrollment_term_id"] == "2"
    assert course["storage_quota_mb"] == 500                      # not an id: stays a number
    enrollment = http.get("/api/v1/courses/1/enrollments", headers=STRING_IDS).json()[0]
    assert enrollment["user"]["id"] == "3" and enrollment["course_section_id"] == "1"
    assert enrollment["sis_user_id"] == "S01"                     # already a string
    assert enrollment["role_id"] == "3"
    plain = http.get("/api/v1/courses/1").json()
    assert plain["id"] == 1 and plain["account_id"] == 2


def test_stringify_ids_handles_nested_lists_and_id_lists():
    value = {"id": 1, "x_ids": [1, 2], "items": [{"user_id": 5, "count": 3}], "flag": True, "other_id": None}
    assert stringify_ids(value) == {"id": "1", "x_ids": ["1", "2"], "items": [{"user_id": "5", "count": 3}],
                                    "flag": True, "other_id": None}


def test_times_are_utc_iso8601_with_z(http):
    course = http.get("/api/v1/courses/1").json()
    assert course["created_at"] == "2025-01-02T00:00:00Z"
    assert course["start_at"] == "2025-02-05T00:00:00Z" and course["end_at"] == "2025-08-24T00:00:00Z"


def test_html_is_escaped_like_rails_and_non_ascii_is_raw_utf8(http):
    response = http.get("/api/v1/courses/1", params={"include[]": "syllabus_body"})
    raw = response.content
    assert b"\\u003cp\\u003eStart" in raw and b"\\u0026amp;" in raw
    assert "«Bonjour»".encode() in raw
    assert response.json()["syllabus_body"].startswith("<p>Start <strong>speaking</strong>")


def test_include_accepts_array_and_scalar_forms(http):
    assert "syllabus_body" not in http.get("/api/v1/courses/1").json()
    assert "syllabus_body" in http.get("/api/v1/courses/1", params={"include": "syllabus_body"}).json()
    both = http.get("/api/v1/courses/1", params=[("include[]", "term"), ("include[]", "total_students")]).json()
    assert both["term"]["name"] == "Spring 2025" and both["total_students"] == 4


def test_state_accepts_array_and_scalar_forms(http):
    array = http.get("/api/v1/accounts/1/courses", params=[("state[]", "deleted"), ("state[]", "completed")]).json()
    assert sorted(c["id"] for c in array) == [3, 4]
    scalar = http.get("/api/v1/accounts/1/courses", params={"state": "deleted"}).json()
    assert [c["id"] for c in scalar] == [4] and scalar[0]["workflow_state"] == "deleted"


@pytest.mark.parametrize("query, expected", [
    ("a=1&a=2", {"a": "2"}),
    ("include[]=email&include[]=uuid", {"include": ["email", "uuid"]}),
    ("course[name]=X&course[sis_course_id]=Y", {"course": {"name": "X", "sis_course_id": "Y"}}),
    ("a[b][]=1&a[b][]=2", {"a": {"b": ["1", "2"]}}),
    ("x[][id]=1&x[][id]=2", {"x": [{"id": "1"}, {"id": "2"}]}),
    ("q=caf%C3%A9+au+lait", {"q": "café au lait"}),
])
def test_parse_nested_follows_rack(query, expected):
    assert parse_nested(query) == expected


def test_to_query_sorts_and_escapes_like_activesupport():
    assert to_query({"type": ["StudentEnrollment"], "include": ["email", "uuid"], "search_term": "a b&c"}) == (
        "include%5B%5D=email&include%5B%5D=uuid&search_term=a+b%26c&type%5B%5D=StudentEnrollment")


def test_json_body_and_form_body_are_both_params(http):
    created = http.post("/api/v1/accounts/1/courses", json={"course": {"name": "JSON course"}, "offer": True})
    assert created.status_code == 200 and created.json()["workflow_state"] == "available"
    formed = http.post("/api/v1/accounts/1/courses", data={"course[name]": "Form course"})
    assert formed.json()["name"] == "Form course" and formed.json()["workflow_state"] == "unpublished"

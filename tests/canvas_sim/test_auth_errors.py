"""Authentication and error answers (AuthenticationMethods, ApplicationController#render_*)."""

from __future__ import annotations

import httpx

from connectors.canvas.simulator import EXPIRED_TOKEN, RESTRICTED_TOKEN, STUDENT_TOKEN

NOT_FOUND = {"errors": [{"message": "The specified resource does not exist."}]}
UNAUTHORIZED = {"status": "unauthorized", "errors": [{"message": "user not authorized to perform that action"}]}


def test_bearer_header_and_access_token_param_both_authenticate(base, http):
    assert http.get("/api/v1/users/self").json()["id"] == 1
    response = httpx.get(f"{base}/api/v1/users/self", params={"access_token": STUDENT_TOKEN})
    assert response.status_code == 200 and response.json()["name"] == "Jürgen Müller"


def test_invalid_token_answers_401_with_www_authenticate(base):
    response = httpx.get(f"{base}/api/v1/users/self", headers={"Authorization": "Bearer 1~nope"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="canvas-lms"'
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.json() == {"errors": [{"message": "Invalid access token."}]}


def test_expired_token_is_an_invalid_token(base):
    response = httpx.get(f"{base}/api/v1/users/self", headers={"Authorization": f"Bearer {EXPIRED_TOKEN}"})
    assert response.status_code == 401 and response.json() == {"errors": [{"message": "Invalid access token."}]}


def test_no_credentials_answers_unauthenticated(base):
    response = httpx.get(f"{base}/api/v1/accounts/self/users")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="canvas-lms"'
    assert response.json() == {"status": "unauthenticated", "errors": [{"message": "user authorization required"}]}


def test_missing_permission_answers_401_unauthorized_without_www_authenticate(base):
    response = httpx.get(f"{base}/api/v1/accounts/1/courses", headers={"Authorization": f"Bearer {STUDENT_TOKEN}"})
    assert response.status_code == 401 and response.json() == UNAUTHORIZED
    assert "www-authenticate" not in response.headers
    response = httpx.post(f"{base}/api/v1/accounts/1/courses", data={"course[name]": "X"},
                          headers={"Authorization": f"Bearer {RESTRICTED_TOKEN}"})
    assert response.status_code == 401 and response.json() == UNAUTHORIZED


def test_unknown_records_and_routes_answer_404(http):
    for path in ("/api/v1/courses/999", "/api/v1/courses/sis_course_id:NOPE", "/api/v1/users/999",
                 "/api/v1/accounts/77/users", "/api/v1/nothing/here", "/api/v1/courses/1/enrollments/999"):
        method = "DELETE" if path.endswith("/999") and "enrollments" in path else "GET"
        response = http.request(method, path)
        assert (response.status_code, response.json()) == (404, NOT_FOUND), path


def test_wrong_method_on_a_known_path_is_a_routing_404(http):
    response = http.patch("/api/v1/courses/1")
    assert response.status_code == 404 and response.json() == NOT_FOUND


def test_deleted_course_is_not_found(http):
    assert http.get("/api/v1/courses/4").status_code == 404
    assert http.get("/api/v1/courses/sis_course_id:CRS-DEL100").status_code == 404


def test_routing_precedes_authentication(base):
    response = httpx.get(f"{base}/api/v1/nothing", headers={"Authorization": "Bearer bad"})
    assert response.status_code == 404


def test_sis_and_self_references(http):
    assert http.get("/api/v1/courses/sis_course_id:CRS-ENG101").json()["id"] == 1
    assert http.get("/api/v1/users/sis_user_id:S02").json()["id"] == 4
    assert http.get("/api/v1/users/sis_login_id:juergen").json()["id"] == 3
    assert http.get("/api/v1/accounts/sis_account_id:ACC-LANG").json()["id"] == 2
    assert http.get("/api/v1/accounts/self").json()["id"] == 1
    hexed = "CRS-FRA300".encode().hex()
    assert http.get(f"/api/v1/courses/hex:sis_course_id:{hexed}").json()["id"] == 5

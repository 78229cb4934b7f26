"""A real Canvas client library (canvasapi) against the simulator, when it is installed."""

from __future__ import annotations

import warnings

import pytest

from connectors.canvas.simulator import ADMIN_TOKEN, RESTRICTED_TOKEN

canvasapi = pytest.importorskip("canvasapi")
from canvasapi import Canvas  # noqa: E402
from canvasapi.exceptions import Forbidden, InvalidAccessToken, ResourceDoesNotExist, Unauthorized  # noqa: E402


@pytest.fixture
def canvas(base):
    warnings.filterwarnings("ignore", message="Canvas may respond unexpectedly")
    return Canvas(base, ADMIN_TOKEN)


def test_paginated_lists_follow_next_links(canvas):
    account = canvas.get_account(1)
    assert len(list(account.get_users(per_page=3))) == 10
    assert [c.id for c in account.get_courses(per_page=2)] == [2, 3, 6, 1, 5]
    assert [e.id for e in canvas.get_course(1).get_enrollments(per_page=2)] == [1, 2, 3, 5, 8]


def test_writes_round_trip(canvas):
    account = canvas.get_account(1)
    course = account.create_course(course={"name": "Neu", "sis_course_id": "NEU-1"}, offer=True)
    assert (course.sis_course_id, course.workflow_state) == ("NEU-1", "available")
    enrollment = course.enroll_user(3, enrollment={"type": "StudentEnrollment", "enrollment_state": "active"})
    assert enrollment.enrollment_state == "active"
    assert enrollment.deactivate("conclude").enrollment_state == "completed"
    course.update(course={"event": "conclude"})
    assert canvas.get_course(course.id).workflow_state == "completed"


def test_outcomes(canvas):
    account = canvas.get_account(1)
    assert [g.title for g in account.get_outcome_groups_in_context()] == ["Tiny Canvas", "Language Skills",
                                                                          "Digital Skills"]
    assert account.get_root_outcome_group().id == 1
    links = canvas.get_course(1).get_all_outcome_links_in_context()
    assert [link.outcome["title"] for link in links] == ["Reading comprehension", "Écriture"]


def test_errors_map_to_the_library_exceptions(canvas, base, site):
    with pytest.raises(InvalidAccessToken):
        Canvas(base, "1~bad").get_current_user()
    with pytest.raises(Unauthorized):
        Canvas(base, RESTRICTED_TOKEN).get_account(1).create_course(course={"name": "x"})
    with pytest.raises(ResourceDoesNotExist):
        canvas.get_course(999)
    site.throttle.hwm = 0.0
    with pytest.raises(Forbidden, match="Rate Limit Exceeded"):
        canvas.get_current_user()

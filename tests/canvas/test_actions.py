"""Canvas write actions through the engine's ActionService, against the simulator over HTTP."""

from __future__ import annotations

import pytest
from canvas_simenv import canvas_env

from connectors.canvas.simulator import RESTRICTED_TOKEN
from engine.actions import ActionService
from engine.errors import ActionInputInvalid, ActionNotAvailable, PermissionMissing

ITEM = {"origin_id": "ext/sql-101", "course": {"type": "EXTERNAL", "title": "Intro to SQL", "course_url": "https://content.example/sql",
                                                "description": "Learn <SELECT>.", "languages": ["de-DE"], "duration": 90}}


@pytest.fixture
def service(tiny):
    svc = ActionService(tiny.engine)
    yield svc
    svc.close()


def _sis(site, origin):
    return [c for c in site.courses.values() if c.sis_course_id == origin]


def test_upsert_creates_then_updates_one_course(tiny, service):
    task = service.run_upsert(tiny.integration_id, [ITEM])
    assert task.status == "COMPLETED", task.error
    assert task.results[0]["status"] == "SUCCEEDED", task.results
    [course] = _sis(tiny.site, "ext/sql-101")
    assert (course.name, course.course_code, course.workflow_state, course.locale) == ("Intro to SQL", "ext/sql-101", "available", "de")
    assert "&lt;SELECT&gt;" in course.syllabus_body and 'href="https://content.example/sql"' in course.syllabus_body
    assert any("duration" in w for w in task.warnings)
    assert task.results[0]["data"]["id"] == tiny.rid("courses", course.id)
    stored = tiny.by_remote("courses")[str(course.id)]
    assert stored.fields["origin_id"] == "ext/sql-101"
    assert tiny.by_remote("course_revisions")[str(course.id)].fields["title"] == "Intro to SQL"

    again = service.run_upsert(tiny.integration_id, [{**ITEM, "course": {**ITEM["course"], "title": "SQL, revised"}}])
    assert again.results[0]["status"] == "SUCCEEDED", again.results
    assert [c.id for c in _sis(tiny.site, "ext/sql-101")] == [course.id]  # updated, not duplicated
    assert course.name == "SQL, revised"
    assert tiny.by_remote("course_revisions")[str(course.id)].fields["title"] == "SQL, revised"


def test_upsert_without_manage_sis_creates_nothing(tmp_path):
    with canvas_env(tmp_path, token=RESTRICTED_TOKEN) as env:
        svc = ActionService(env.engine)
        try:
            task = svc.run_upsert(env.integration_id, [ITEM])
        finally:
            svc.close()
        assert task.results[0]["status"] == "FAILED"
        assert "manage_sis" in task.results[0]["error"]["message"]
        assert _sis(env.site, "ext/sql-101") == []
        assert len(env.site.courses) == 6


def test_deactivate_unpublishes_and_keeps_enrollments(tiny, service):
    tiny.sync()
    before = {e.id: e.workflow_state for e in tiny.site.enrollments.values() if e.course_id == 1}
    result = service.deactivate_course(tiny.integration_id, tiny.rid("courses", 1))
    assert tiny.site.courses[1].workflow_state == "claimed"
    assert {e.id: e.workflow_state for e in tiny.site.enrollments.values() if e.course_id == 1} == before
    assert tiny.by_remote("course_revisions")["1"].fields["status"] == "INACTIVE"
    assert result.record.remote_id == "1"


def test_enroll_makes_an_active_student_enrollment(tiny, service):
    tiny.sync()
    result = service.enroll(tiny.integration_id, {"user_id": tiny.rid("users", 7), "course_revision_id": "remote:6"})
    [enrollment] = [e for e in tiny.site.enrollments.values() if e.course_id == 6]
    assert (enrollment.user_id, enrollment.type, enrollment.workflow_state) == (7, "StudentEnrollment", "active")
    assert result.record.remote_id == f"6:{enrollment.id}"
    assert result.record.fields["status"] == "ENROLLED"
    assert result.record.fields["user_id"] == tiny.rid("users", 7)
    # enrolling again re-uses the enrollment
    again = service.enroll(tiny.integration_id, {"user_id": "remote:7", "course_revision_id": "remote:6"})
    assert again.record.remote_id == result.record.remote_id
    assert len([e for e in tiny.site.enrollments.values() if e.course_id == 6]) == 1


def test_complete_concludes_the_enrollment(tiny, service):
    tiny.sync()
    result = service.complete(tiny.integration_id, tiny.rid("course_progressions", "1:3"), {"completed_at": "2025-05-01T00:00:00Z"})
    assert tiny.site.enrollments[3].workflow_state == "completed"
    assert result.record.fields["status"] == "COMPLETED"
    assert result.record.fields["completed_at"] == "2025-06-15T00:00:00Z"  # Canvas stamps its own time
    assert any("completed_at" in w for w in result.warnings)
    again = service.complete(tiny.integration_id, "remote:1:3", {})
    assert any("already concluded" in w for w in again.warnings)


def test_complete_with_a_score_is_not_available_and_writes_nothing(tiny, service):
    with pytest.raises(ActionNotAvailable, match="course score"):
        service.complete(tiny.integration_id, "remote:1:3", {"score": 80})
    assert tiny.site.enrollments[3].workflow_state == "active"


def test_malformed_remote_ids_are_input_errors(tiny, service):
    with pytest.raises(ActionInputInvalid, match="<course id>:<enrollment id>"):
        service.complete(tiny.integration_id, "remote:17", {})
    with pytest.raises(ActionInputInvalid, match="not a Canvas id"):
        service.enroll(tiny.integration_id, {"user_id": "remote:abc", "course_revision_id": "remote:1"})


def test_enroll_without_permission_is_permission_missing(tmp_path):
    with canvas_env(tmp_path, token=RESTRICTED_TOKEN) as env:
        svc = ActionService(env.engine)
        try:
            with pytest.raises(PermissionMissing):
                svc.enroll(env.integration_id, {"user_id": "remote:7", "course_revision_id": "remote:6"})
        finally:
            svc.close()
        assert not [e for e in env.site.enrollments.values() if e.course_id == 6]

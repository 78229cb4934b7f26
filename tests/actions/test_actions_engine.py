"""Write actions through the engine (ActionService) against the Moodle simulator:
action → Moodle state → the stored (unified) records."""

from __future__ import annotations

import contextlib
import threading
from datetime import timedelta

import pytest
from action_helpers import item
from simenv import moodle_env

from connectors.moodle import _upsert
from connectors.moodle.simulator import RESTRICTED_TOKEN
from engine.actions import ActionService, error_code
from engine.errors import (
    ActionInputInvalid,
    ActionNotAvailable,
    ActionRecordNotFound,
    AuthenticationFailed,
    BadResponse,
    LmsyncError,
    PermissionMissing,
    RateLimited,
    RemoteError,
    RemoteInputInvalid,
    RemoteNotFound,
    RemoteTimeout,
)
from engine.store.base import ActionTask, Integration
from engine.sync import now_utc


def _courses_with_idnumber(site, origin):
    return [c for c in site.courses.values() if c.idnumber == origin]


# --- deactivate -------------------------------------------------------------------------------

def test_deactivate_hides_course_and_keeps_progress(menv):
    before = {r.remote_id: r.fields["status"] for r in menv.rows("course_progressions") if r.remote_id.startswith("2:")}
    result = menv.actions.deactivate_course(menv.integration_id, menv.rid("courses", 2))
    assert result.model == "courses" and result.record.remote_id == "2" and result.warnings == []
    assert menv.site.courses[2].visible == 0
    assert menv.by_remote("course_revisions")["2"].fields["status"] == "INACTIVE"
    assert menv.by_remote("course_revisions")["4"].fields["status"] == "ACTIVE"
    after = {r.remote_id: r.fields["status"] for r in menv.rows("course_progressions") if r.remote_id.startswith("2:")}
    assert after == before and len(after) == 6


def test_deactivate_remote_ids_and_unknown_ids(menv):
    assert menv.actions.deactivate_course(menv.integration_id, "remote:4").record.id == menv.rid("courses", 4)
    assert menv.site.courses[4].visible == 0
    with pytest.raises(ActionRecordNotFound):
        menv.actions.deactivate_course(menv.integration_id, "NoSuchCourseId1234567890")
    with pytest.raises(RemoteNotFound) as exc:
        menv.actions.deactivate_course(menv.integration_id, "remote:999")
    assert exc.value.code.startswith("invalidrecord") and error_code(exc.value) == "REMOTE.INPUT_INVALID"
    for bad in ("remote:abc", "remote:", "remote:1"):
        with pytest.raises(ActionInputInvalid):
            menv.actions.deactivate_course(menv.integration_id, bad)


# --- upsert ------------------------------------------------------------------------------------

def test_upsert_creates_then_updates_one_course(menv):
    first = menv.actions.run_upsert(menv.integration_id, [item("ext-1", "Intro", description="Line 1\nLine <2>",
                                                              thumbnail_url="https://x/t.png", duration=30,
                                                              languages=["en-US", "de-DE"])])
    assert first.status == "COMPLETED" and first.results[0]["status"] == "SUCCEEDED"
    cid = first.results[0]["data"]["id"]
    [course] = _courses_with_idnumber(menv.site, "ext-1")
    assert course.fullname == "Intro" and course.lang == "en" and course.category == 1
    assert 'href="https://content.example/ext-1"' in course.summary and "Line &lt;2&gt;" in course.summary
    warnings = " | ".join(first.warnings)
    assert "thumbnail_url" in warnings and "duration" in warnings and "de-DE" in warnings
    stored = menv.store.get_many(menv.integration_id, "courses", [cid])[cid]
    assert stored.remote_id == str(course.id) and stored.fields["origin_id"] == "ext-1"
    rev = menv.by_remote("course_revisions")[str(course.id)]
    assert rev.fields["title"] == "Intro" and "https://content.example/ext-1" in rev.fields["description"]

    second = menv.actions.run_upsert(menv.integration_id, [item("ext-1", "Intro v2")])
    assert second.results == [{"origin_id": "ext-1", "status": "SUCCEEDED", "data": {"id": cid}}]
    assert len(_courses_with_idnumber(menv.site, "ext-1")) == 1 and course.fullname == "Intro v2"
    assert menv.by_remote("course_revisions")[str(course.id)].fields["title"] == "Intro v2"


def test_upsert_language_pack_missing_is_a_warning(menv):
    task = menv.actions.run_upsert(menv.integration_id, [item("ext-de", languages=["de-DE"])])
    assert task.results[0]["status"] == "SUCCEEDED"
    assert _courses_with_idnumber(menv.site, "ext-de")[0].lang == ""
    assert any("'de'" in w and "language" in w for w in task.warnings)


def test_upsert_shortname_held_by_another_course(menv):
    menv.site.add_course("Someone else's", "ext-2", 1)
    task = menv.actions.run_upsert(menv.integration_id, [item("ext-2")])
    assert task.results[0]["status"] == "SUCCEEDED"
    [course] = _courses_with_idnumber(menv.site, "ext-2")
    assert course.shortname == _upsert.shortnames("ext-2")[1]


@pytest.mark.parametrize("process_lock", [True, False], ids=["serialised", "moodle-race"])
def test_concurrent_upserts_of_one_origin_make_one_course(menv, monkeypatch, process_lock):
    if not process_lock:  # every thread misses the course at first and creates: Moodle's taken-errors must resolve it
        monkeypatch.setattr(_upsert, "origin_lock", lambda iid, origin: contextlib.nullcontext())
        seen, real_find = threading.local(), _upsert._find

        def first_miss(transport, origin):
            if not getattr(seen, "once", False):
                seen.once = True
                return None
            return real_find(transport, origin)

        monkeypatch.setattr(_upsert, "_find", first_miss)
    results, barrier = [], threading.Barrier(6)

    def worker(n: int) -> None:
        barrier.wait()
        results.append(menv.actions.run_upsert(menv.integration_id, [item("same", f"Title {n}")]))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(_courses_with_idnumber(menv.site, "same")) == 1
    assert {r.results[0]["status"] for r in results} == {"SUCCEEDED"}
    assert len({r.results[0]["data"]["id"] for r in results}) == 1
    if not process_lock:
        assert menv.control.calls["core_course_create_courses"] == 6


def test_moodle_error_mid_bulk_gives_per_item_results(menv):
    menv.control.fail_function("core_course_create_courses", "invalidparameter", after_n_calls=1)
    task = menv.actions.run_upsert(menv.integration_id, [item("b-1"), item("b-2"), {"origin_id": "b-3"}])
    assert task.status == "COMPLETED"
    ok, failed, invalid = task.results
    assert ok["status"] == "SUCCEEDED" and _courses_with_idnumber(menv.site, "b-1")
    assert failed["status"] == "FAILED" and failed["error"]["code"] == "REMOTE.INPUT_INVALID"
    assert "invalidparameter" in failed["error"]["message"] and failed["error"]["log_url"] is None
    assert invalid["error"]["code"] == "PLATFORM.INPUT_INVALID"
    assert not _courses_with_idnumber(menv.site, "b-2")
    assert menv.store.get_task(task.id) == task


def test_submitted_upsert_runs_in_background(menv):
    task = menv.actions.submit_upsert(menv.integration_id, [item("bg-1")])
    assert task.status == "PENDING" and menv.store.get_task(task.id).status in ("PENDING", "COMPLETED")
    assert menv.actions.wait(task.id, timeout=30)
    done = menv.actions.get_task(menv.integration_id, task.id)
    assert done.status == "COMPLETED" and done.completed_at is not None
    assert menv.actions.get_task("moodle:OtherIntegration0000000000", task.id) is None
    assert menv.store.find_by_remote_id(menv.integration_id, "courses", str(_courses_with_idnumber(menv.site, "bg-1")[0].id))


def test_stale_pending_task_is_reported_timed_out(menv):
    task = ActionTask("T" * 24, menv.integration_id, "upsert_courses", "PENDING", now_utc() - timedelta(hours=2))
    menv.store.put_task(task)
    seen = menv.actions.get_task(menv.integration_id, task.id)
    assert seen.status == "FAILED" and seen.error["code"] == "PLATFORM.TASK_TIMED_OUT"


# --- enroll ------------------------------------------------------------------------------------

def test_enroll_twice_is_one_enrolment(menv):
    for _ in range(2):
        result = menv.actions.enroll(menv.integration_id, {"user_id": "remote:9", "course_revision_id": "remote:5"})
        assert result.record.remote_id == "5:9" and result.record.fields["status"] == "ENROLLED"
    assert len(menv.site.course_enrolments[5][9]) == 1 and menv.site.course_roles[5][9] == {5}
    rows = [r for r in menv.rows("course_progressions") if r.remote_id == "5:9"]
    assert len(rows) == 1 and rows[0].fields["user_id"] == menv.rid("users", 9)


def test_enroll_with_lmsync_ids_and_role_setting(menv):
    integration = menv.store.get_integration(menv.integration_id)
    integration.settings = {"student_role_id": 4}
    menv.store.update_integration(integration)
    body = {"user_id": menv.rid("users", 8), "course_revision_id": menv.rid("course_revisions", 5)}
    assert menv.actions.enroll(menv.integration_id, body).record.id == menv.rid("course_progressions", "5:8")
    assert menv.site.course_roles[5][8] == {4}


def test_enroll_errors(menv):
    menv.site.manual_instance(4).status = 1  # disable the manual enrolment method
    menv.site.touch()
    with pytest.raises(RemoteInputInvalid) as exc:
        menv.actions.enroll(menv.integration_id, {"user_id": "remote:9", "course_revision_id": "remote:4"})
    assert exc.value.code == "wsnoinstance" and "Manual enrolments" in str(exc.value)
    with pytest.raises(RemoteNotFound):
        menv.actions.enroll(menv.integration_id, {"user_id": "remote:424242", "course_revision_id": "remote:5"})
    with pytest.raises(ActionRecordNotFound):
        menv.actions.enroll(menv.integration_id, {"user_id": "NoSuchUser", "course_revision_id": "remote:5"})
    with pytest.raises(ActionInputInvalid):
        menv.actions.enroll(menv.integration_id, {"user_id": "remote:9"})
    assert 9 not in menv.site.course_enrolments.get(4, {})


# --- complete ----------------------------------------------------------------------------------

def test_complete_without_score_overrides_tracked_activities(menv):
    result = menv.actions.complete(menv.integration_id, menv.rid("course_progressions", "2:9"), {"completed_at": "2024-04-15"})
    for cmid in (2, 3, 4):
        rec = menv.site.activity_state(cmid, 9)
        assert rec.state == 1 and rec.overrideby == 2
    assert menv.site.activity_state(1, 9) is None  # the untracked forum
    assert not any(menv.site.grades.get((menv.site.cms[c].gradeitemid, 9)) for c in (3, 4))
    assert result.record.fields["status"] == "IN_PROGRESS"
    assert any("cron" in w for w in result.warnings) and any("completed_at" in w for w in result.warnings)
    menv.site.run_cron()
    progression = menv.engine.refresh(menv.store.get_integration(menv.integration_id), "course_progressions", ["2:9"],
                                      {"courses": [{"id": 2}], "users": [{"id": 9}]})
    assert progression[0].fields["status"] == "COMPLETED"


def test_complete_with_score_grades_every_graded_activity(menv):
    result = menv.actions.complete(menv.integration_id, "remote:2:6", {"score": 80})
    for cmid in (3, 4):
        grade = menv.site.grades[(menv.site.cms[cmid].gradeitemid, 6)]
        assert grade.rawgrade == 80.0
        assert menv.site.activity_state(cmid, 6).state == 1  # the override survives the grade
    assert result.record.remote_id == "2:6"


def test_score_without_grade_items_writes_nothing(menv):
    menv.actions.enroll(menv.integration_id, {"user_id": "remote:9", "course_revision_id": "remote:5"})
    rev, completions, grades = menv.site.rev, dict(menv.site.cm_completion), dict(menv.site.grades)
    with pytest.raises(ActionInputInvalid, match="grade item"):
        menv.actions.complete(menv.integration_id, "remote:5:9", {"score": 50})
    assert menv.site.rev == rev and menv.site.cm_completion == completions and menv.site.grades == grades
    assert menv.control.calls["core_completion_override_activity_completion_status"] == 0
    assert menv.control.calls["core_grades_update_grades"] == 0


def test_complete_input_errors(menv):
    with pytest.raises(ActionRecordNotFound):
        menv.actions.complete(menv.integration_id, "NoSuchProgression")
    with pytest.raises(ActionInputInvalid):
        menv.actions.complete(menv.integration_id, "remote:2:9", {"score": 101})
    with pytest.raises(ActionInputInvalid, match="completion"):  # BUS400: completion disabled
        menv.actions.complete(menv.integration_id, "remote:4:5")


# --- permissions, availability, error codes ---------------------------------------------------

def test_missing_capability_is_permission_missing(tmp_path):
    with moodle_env(tmp_path, token=RESTRICTED_TOKEN) as env:
        actions = ActionService(env.engine)
        with pytest.raises(PermissionMissing) as exc:
            actions.deactivate_course(env.integration_id, "remote:2")
        assert error_code(exc.value) == "INTEGRATION.PERMISSION_MISSING" and "nopermissions" in str(exc.value)
        with pytest.raises(PermissionMissing):
            actions.complete(env.integration_id, "remote:2:9")
        assert env.site.courses[2].visible == 1 and env.site.activity_state(2, 9) is None
        actions.close()


def test_connector_without_actions(menv):
    menv.store.add_integration(Integration("other:X", "other", "https://x.example", {"token": "t"}))
    with pytest.raises(ActionNotAvailable) as exc:
        menv.actions.deactivate_course("other:X", "remote:1")
    assert error_code(exc.value) == "INTEGRATION.ACTION_NOT_AVAILABLE"


@pytest.mark.parametrize("exc, code", [
    (AuthenticationFailed("x", code="invalidtoken"), "INTEGRATION.AUTHENTICATION_INVALID"),
    (PermissionMissing("x", code="nopermissions"), "INTEGRATION.PERMISSION_MISSING"),
    (RemoteInputInvalid("x", code="invalidparameter"), "REMOTE.INPUT_INVALID"),
    (RemoteNotFound("x", code="invalidrecord"), "REMOTE.INPUT_INVALID"),
    (RateLimited("x"), "REMOTE.RATE_LIMIT_EXCEEDED"),
    (RemoteTimeout("x"), "REMOTE.SERVICE_UNAVAILABLE"),
    (BadResponse("x"), "REMOTE.SERVICE_UNAVAILABLE"),
    (RemoteError("x", code=None), "REMOTE.UNKNOWN_HTTP_ERROR"),
    (ActionInputInvalid("x"), "PLATFORM.INPUT_INVALID"),
    (ActionNotAvailable("x"), "INTEGRATION.ACTION_NOT_AVAILABLE"),
    (LmsyncError("x"), "PLATFORM.UNKNOWN_ERROR"),
    (ValueError("x"), "PLATFORM.UNKNOWN_ERROR"),
])
def test_error_codes(exc, code):
    assert error_code(exc) == code


def test_disabled_integration_refuses(menv):
    integration = menv.store.get_integration(menv.integration_id)
    integration.enabled = False
    menv.store.update_integration(integration)
    with pytest.raises(LmsyncError) as exc:
        ActionService(menv.engine).deactivate_course(menv.integration_id, "remote:2")
    assert error_code(exc.value) == "INTEGRATION.INACTIVE" and menv.site.courses[2].visible == 1


def test_tasks_are_stored_and_removed_with_their_integration(menv):
    task = menv.actions.run_upsert(menv.integration_id, [item("t-1")])
    again = menv.store.get_task(task.id)
    assert again == task and again.created_at.tzinfo is not None and again.results[0]["origin_id"] == "t-1"
    assert menv.store.remove_integration(menv.integration_id)
    assert menv.store.get_task(task.id) is None

"""Syncing the Moodle simulator: changes, deletions, cron, paging boundaries, tokens."""

from __future__ import annotations

from connectors.moodle.simulator import REDUCED_TOKEN, RESTRICTED_TOKEN, MoodleSite

from simenv import moodle_env


def test_cron_turns_complete_pass_and_complete_fail_into_completed(tiny):
    tiny.sync()
    before = tiny.by_remote("course_progressions")
    assert before["2:7"].fields["status"] == "IN_PROGRESS"  # complete-fail, not yet aggregated
    assert before["2:8"].fields["status"] == "IN_PROGRESS"  # complete-pass, not yet aggregated
    tiny.site.run_cron()
    run = tiny.sync()
    after = tiny.by_remote("course_progressions")
    for key in ("2:7", "2:8"):
        assert after[key].fields["status"] == "COMPLETED"
        assert after[key].fields["completed_at"] is not None
        assert after[key].changed_at > before[key].changed_at
    assert run.stats["course_progressions"]["updated"] == 2
    assert after["2:5"].changed_at == before["2:5"].changed_at


def test_resync_with_nothing_changed_writes_nothing(tiny):
    tiny.sync()
    first = {m: {r.id: r.changed_at for r in tiny.rows(m)} for m in ("users", "course_progressions")}
    run = tiny.sync()
    for stats in run.stats.values():
        assert stats["created"] == stats["updated"] == stats["deleted"] == stats["invalid"] == 0
    assert {m: {r.id: r.changed_at for r in tiny.rows(m)} for m in first} == first


def test_deleted_user_and_unenrolment_become_remote_deleted_and_come_back(tiny):
    tiny.sync()
    tiny.site.delete_user(9)
    tiny.site.unenrol(4, 6)
    tiny.sync()
    users = tiny.by_remote("users", include_deleted=True)
    progress = tiny.by_remote("course_progressions", include_deleted=True)
    assert users["9"].remote_deleted_at is not None
    assert progress["4:6"].remote_deleted_at is not None
    assert "9" not in tiny.by_remote("users")
    tiny.site.enrol(4, 6, 5)
    tiny.sync()
    assert tiny.by_remote("course_progressions")["4:6"].remote_deleted_at is None


def test_ids_are_stable_and_refs_resolve(tiny):
    tiny.sync()
    users = tiny.by_remote("users")
    assert users["5"].id == tiny.rid("users", 5)
    p = tiny.by_remote("course_progressions")["2:5"]
    assert p.fields["user_id"] == users["5"].id
    assert p.fields["course_revision_id"] == tiny.rid("course_revisions", 2)
    assert set(p.remote_data) == {"core_enrol_get_enrolled_users", "core_enrol_get_users_courses", "core_completion_get_course_completion_status"}


def test_page_boundary_exactly_at_the_page_size(tmp_path):
    site = MoodleSite.generate(seed=3, users=1005, courses=1, enrolments_per_course=1000, hidden_course_rate=0,
                               suspended_enrolment_rate=0, deleted_users=0, frameworks=1, competencies_per_framework=2)
    with moodle_env(tmp_path, site) as env:
        course_ids = [c for c in site.courses if c != 1]
        assert len(course_ids) == 1
        enrolled = len(site.enrolled_users(course_ids[0])) if hasattr(site, "enrolled_users") else 1000
        run = env.sync(models=["users", "courses", "course_progressions"])
        assert run.status == "succeeded", run.error
        assert run.stats["course_progressions"]["created"] == enrolled == 1000
        # a full page of 1000 then an empty one, plus one (empty) suspended page
        assert env.control.calls["core_enrol_get_enrolled_users"] == 3


def test_reduced_service_token_fails_the_run_clearly_and_keeps_data(tmp_path):
    with moodle_env(tmp_path, token=REDUCED_TOKEN) as env:
        run = env.sync()
        assert run.status == "failed"
        assert "accessexception" in run.error
        assert REDUCED_TOKEN not in run.error


def test_restricted_token_fails_clearly_on_hidden_courses(tmp_path):
    # Moodle's core_course_get_courses fails as a whole when one course context cannot be
    # validated (a hidden course without moodle/course:viewhiddencourses): the run fails and
    # names the course and the reason, and nothing stored is touched.
    with moodle_env(tmp_path, token=RESTRICTED_TOKEN) as env:
        run = env.sync(models=["courses", "course_revisions"])
        assert run.status == "failed"
        assert "errorcoursecontextnotvalid" in run.error and "course id:3" in run.error
        assert RESTRICTED_TOKEN not in run.error
        assert env.rows("courses") == []

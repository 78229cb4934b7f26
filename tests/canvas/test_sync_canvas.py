"""A full sync of the tiny Canvas simulator site over real HTTP: exact records, call counts by
formula, paging through Link headers, deletions by absence."""

from __future__ import annotations

from canvas_simenv import canvas_env

from connectors.canvas.simulator import tiny_canvas_site

# (status, enrolled_at, completed_at) of every student enrollment "<course>:<enrollment>"
EXPECTED_PROGRESSIONS = {
    "1:1": ("COMPLETED", "2025-01-21T00:00:00Z", "2025-03-12T00:00:00Z"),  # active, 4/4 modules
    "1:2": ("IN_PROGRESS", "2025-01-21T00:00:00Z", None),                  # active, 2/4
    "1:3": ("ENROLLED", "2025-01-21T00:00:00Z", None),                     # active, 0/4
    "1:4": ("DROPPED", "2025-01-21T00:00:00Z", None),                      # inactive
    "1:5": ("ENROLLED", "2025-01-22T00:00:00Z", None),                     # invited
    "1:6": ("COMPLETED", "2025-01-21T00:00:00Z", "2025-03-12T00:00:00Z"),  # concluded enrollment
    "2:9": ("IN_PROGRESS", "2025-01-21T00:00:00Z", None),                  # active, 1/2
    "2:10": ("ENROLLED", "2025-01-21T00:00:00Z", None),                    # invited
    "3:12": ("COMPLETED", "2025-01-01T00:00:00Z", "2025-03-02T00:00:00Z"),
    "3:13": ("COMPLETED", "2025-01-01T00:00:00Z", "2025-03-02T00:00:00Z"),
    "5:15": ("ENROLLED", "2025-01-21T00:00:00Z", None),                    # not module based
    "5:16": ("ENROLLED", "2025-01-21T00:00:00Z", None),
    "5:17": ("DROPPED", "2025-01-21T00:00:00Z", None),                     # rejected invitation
}


def test_tiny_site_records(tiny):
    run = tiny.sync()
    assert run.status == "succeeded", run.error
    assert run.warnings == []
    users = tiny.by_remote("users")
    assert sorted(users, key=int) == [str(i) for i in (1, 2, 3, 4, 5, 6, 7, 8, 10, 11)]  # 9 is deleted
    assert {k: u.fields["status"] for k, u in users.items() if u.fields["status"] != "ACTIVE"} == {"6": "INACTIVE"}
    jurgen = users["3"].fields
    assert (jurgen["first_name"], jurgen["last_name"], jurgen["work_email"], jurgen["remote_created_at"]) == (
        "Jürgen", "Müller", "juergen.mueller@example.com", "2025-01-01T00:00:00Z")
    assert users["7"].fields["work_email"] is None
    skills = tiny.by_remote("skills")
    assert {k: s.fields["name"] for k, s in skills.items()} == {"1": "Reading", "2": "Écriture", "3": "Problem solving"}
    courses = tiny.by_remote("courses")
    assert {k: c.fields["origin_id"] for k, c in courses.items()} == {
        "1": "CRS-ENG101", "2": "CRS-BUS220", "3": None, "5": "CRS-FRA300", "6": "CRS-EMPTY"}  # 4 is deleted
    revisions = tiny.by_remote("course_revisions")
    assert {k: r.fields["status"] for k, r in revisions.items()} == {
        "1": "ACTIVE", "2": "INACTIVE", "3": "INACTIVE", "5": "ACTIVE", "6": "ACTIVE"}
    eng = revisions["1"].fields
    assert eng["title"] == "English for Beginners"
    assert eng["description"] == "Start speaking – today & tomorrow. «Bonjour», “hello”."
    assert eng["remote_url"] == f"{tiny.base_url}/courses/1"
    assert eng["course_id"] == tiny.rid("courses", 1)
    joins = tiny.by_remote("revision_skills")
    assert sorted(joins) == ["1:1", "1:2", "5:2"]
    assert joins["5:2"].fields == {"course_revision_id": tiny.rid("course_revisions", 5), "skill_id": tiny.rid("skills", 2)}
    progressions = tiny.by_remote("course_progressions")
    got = {k: (p.fields["status"], p.fields["enrolled_at"], p.fields["completed_at"]) for k, p in progressions.items()}
    assert got == EXPECTED_PROGRESSIONS
    assert progressions["1:2"].fields["user_id"] == tiny.rid("users", 4)
    assert progressions["1:2"].fields["course_revision_id"] == tiny.rid("course_revisions", 1)


def test_call_counts_follow_the_formula(tiny):
    run = tiny.sync()
    calls = {m: s["calls"] for m, s in run.stats.items()}
    users, courses = 10, 5
    # users: ⌈U/P⌉ pages + one logins call per user; skills, courses: one page each;
    # revision_skills: one page per course; progressions: per course one page of enrollments
    # and one of bulk progress.
    assert calls == {"users": 1 + users, "skills": 1, "courses": 1, "course_revisions": 0,
                     "revision_skills": courses, "course_progressions": 2 * courses}
    hits = tiny.app.calls
    assert hits[("GET", "/api/v1/courses/{course_id}/bulk_user_progress")] == courses
    assert hits[("GET", "/api/v1/users/{user_id}/logins")] == users


def test_small_pages_follow_link_headers(tmp_path):
    with canvas_env(tmp_path, settings={"per_page": 2}) as env:
        run = env.sync()
        assert run.status == "succeeded", run.error
        calls = {m: s["calls"] for m, s in run.stats.items()}
        # users ⌈10/2⌉ = 5 pages + 10 logins; skills ⌈3/2⌉ = 2; courses ⌈5/2⌉ = 3; revision skills:
        # course 1 has 2 links (1 page), the others ≤ 1 (1 page each); enrollments of course 1:
        # 6 students (3 pages), of 2: 2 (1), of 3: 2 (1), of 5: 3 (2), of 6: 0 (1); bulk progress
        # of course 1: 5 current students (3 pages), of 2: 2 (1), 3, 5, 6: 1 each.
        assert calls == {"users": 15, "skills": 2, "courses": 3, "course_revisions": 0, "revision_skills": 5,
                         "course_progressions": 8 + 7}
        assert len(env.rows("users")) == 10
        assert {k: p.fields["status"] for k, p in env.by_remote("course_progressions").items()} == {
            k: v[0] for k, v in EXPECTED_PROGRESSIONS.items()}


def test_resync_unchanged_writes_nothing(tiny):
    assert tiny.sync().status == "succeeded"
    for kind in ("FULL", "DELTA"):
        run = tiny.sync(kind)
        assert run.status == "succeeded", run.error
        assert all(s["created"] == 0 and s["updated"] == 0 and s["deleted"] == 0 for s in run.stats.values()), run.stats


def test_deleted_records_become_remote_deleted(tiny):
    assert tiny.sync().status == "succeeded"
    tiny.site.courses[6].workflow_state = "deleted"
    tiny.site.enrollments[16].workflow_state = "deleted"
    tiny.site.users[7].logins[0].workflow_state = "suspended"
    run = tiny.sync()
    assert run.status == "succeeded", run.error
    courses = tiny.by_remote("courses", include_deleted=True)
    assert courses["6"].remote_deleted_at is not None and courses["1"].remote_deleted_at is None
    assert tiny.by_remote("course_progressions", include_deleted=True)["5:16"].remote_deleted_at is not None
    assert tiny.by_remote("users")["7"].fields["status"] == "INACTIVE"


def test_progress_changes_are_picked_up(tiny):
    assert tiny.sync().status == "succeeded"
    tiny.site.set_progress(1, 5, 1)  # José starts ENG101
    tiny.site.enrollments[2].workflow_state = "completed"
    tiny.site.enrollments[2].completed_at = tiny_canvas_site().now()
    assert tiny.sync().status == "succeeded"
    progressions = tiny.by_remote("course_progressions")
    assert progressions["1:3"].fields["status"] == "IN_PROGRESS"
    assert progressions["1:2"].fields["status"] == "COMPLETED"
    assert progressions["1:2"].fields["completed_at"] == "2025-06-15T00:00:00Z"


def test_the_demo_site_of_a_generated_site_syncs(tmp_path):
    from engine.plugins import get_plugin_manager

    pm = get_plugin_manager()
    with pm.hook.lmsync_demo_site(connector="canvas", port=0) as demo:
        assert demo.connector == "canvas"
        from engine.store.base import Integration
        from engine.store.sqlite import SQLiteStore
        from engine.sync import SyncEngine

        store = SQLiteStore(tmp_path / "demo.sqlite3")
        store.migrate()
        store.add_integration(Integration(id="canvas:Demo0000000000000000000", connector="canvas", base_url=demo.base_url,
                                          credentials=demo.credentials))
        run = SyncEngine(store).sync("canvas:Demo0000000000000000000", "FULL")
        assert run.status == "succeeded", run.error
        assert run.stats["users"]["created"] > 150 and run.stats["course_progressions"]["created"] > 100


def test_without_login_status_users_cost_one_call_per_page(tmp_path):
    with canvas_env(tmp_path, settings={"login_status": False, "per_page": 4}) as env:
        run = env.sync(models=["users"])
        assert run.status == "succeeded", run.error
        assert run.stats["users"]["calls"] == 3  # ⌈10 / 4⌉
        assert {u.fields["status"] for u in env.rows("users")} == {None}
        assert env.app.calls[("GET", "/api/v1/users/{user_id}/logins")] == 0

"""A Canvas DELTA run never leaves a different store than a FULL run would: random changes to a
generated site between a FULL and a DELTA (small pages, so every stream pages through Link
headers); afterwards the store equals a fresh FULL of the final site (as
tests/moodle/test_delta_property.py for Moodle). Removals (deleted users, courses, enrollments)
are applied only by a FULL (docs/canvas.md) and are not generated here."""

from __future__ import annotations

from canvas_simenv import canvas_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.canvas.simulator import ADMIN_TOKEN, CanvasSite
from engine.store.base import Integration
from tests.synced_env import readable

FRESH = "canvas:FreshFullIntegration0000000"
SETTINGS = {"per_page": 5}

CHANGE = st.one_of(
    st.tuples(st.just("rename_user"), st.integers(0, 10_000), st.text("abcxyzé", min_size=1, max_size=6)),
    st.tuples(st.just("suspend_user"), st.integers(0, 10_000), st.booleans()),
    st.tuples(st.just("new_user"), st.integers(0, 10_000), st.just("")),
    st.tuples(st.just("rename_course"), st.integers(0, 10_000), st.text("ABCdef", min_size=1, max_size=6)),
    st.tuples(st.just("publish_course"), st.integers(0, 10_000), st.booleans()),
    st.tuples(st.just("enroll"), st.integers(0, 10_000), st.integers(0, 10_000)),
    st.tuples(st.just("enrollment_state"), st.integers(0, 10_000), st.sampled_from(["active", "inactive", "completed", "invited"])),
    st.tuples(st.just("progress"), st.integers(0, 10_000), st.integers(0, 8)),
)


def _apply(site: CanvasSite, change: tuple) -> None:
    kind, a, b = change
    users = sorted(u for u, user in site.users.items() if u > 3 and user.workflow_state != "deleted")
    courses = sorted(c for c, course in site.courses.items() if course.workflow_state != "deleted")
    students = sorted(e for e, x in site.enrollments.items()
                      if x.type == "StudentEnrollment" and x.workflow_state != "deleted" and x.course_id in courses)
    if kind == "rename_user":
        user = site.users[users[a % len(users)]]
        user.name, user.sortable_name = f"{b} Renamed", f"Renamed, {b}"
    elif kind == "suspend_user":
        for login in site.users[users[a % len(users)]].logins:
            login.workflow_state = "suspended" if b else "active"
    elif kind == "new_user":
        uid = max(site.users) + 1
        site.add_user(f"New User{uid}", f"User{uid}, New", login_id=f"new{uid}", email=f"new{uid}@example.org")
    elif kind == "rename_course":
        site.courses[courses[a % len(courses)]].name = f"Course {b}"
    elif kind == "publish_course":
        course = site.courses[courses[a % len(courses)]]
        if course.workflow_state in ("available", "claimed"):
            course.workflow_state = "available" if b else "claimed"
    elif kind == "enroll":
        site.enroll(courses[a % len(courses)], users[b % len(users)])
    elif kind == "enrollment_state" and students:
        enrollment = site.enrollments[students[a % len(students)]]
        enrollment.workflow_state = b
        enrollment.completed_at = site.now() if b == "completed" else None
        enrollment.updated_at = site.now()
    elif kind == "progress" and students:
        enrollment = site.enrollments[students[a % len(students)]]
        total = site.courses[enrollment.course_id].requirement_count
        done = min(b, total)
        site.set_progress(enrollment.course_id, enrollment.user_id, done, site.now() if total and done == total else None)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.lists(CHANGE, min_size=1, max_size=6))
def test_full_then_delta_equals_a_fresh_full(tmp_path_factory, changes):
    site = CanvasSite.generate(seed=3, users=25, courses=4, enrolments_per_course=8)
    with canvas_env(tmp_path_factory.mktemp("delta"), site=site, settings=SETTINGS) as env:
        assert env.sync("FULL").status == "succeeded"
        before = readable(env.store, env.integration_id)
        for change in changes:
            _apply(site, change)
        delta = env.sync("DELTA")
        assert delta.status == "succeeded", delta.error
        env.store.add_integration(Integration(id=FRESH, connector="canvas", base_url=env.base_url,
                                              credentials={"token": ADMIN_TOKEN}, settings=dict(SETTINGS)))
        fresh = env.engine.sync(FRESH, "FULL")
        assert fresh.status == "succeeded", fresh.error
        assert readable(env.store, env.integration_id) == readable(env.store, FRESH)
        assert before["users"]  # the site had data to change

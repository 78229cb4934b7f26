"""`CanvasSite.generate`: deterministic, sized as asked, with the edge cases a sync meets."""

from __future__ import annotations

from collections import Counter

from connectors.canvas.simulator import ADMIN_TOKEN, CanvasSite, tiny_canvas_site


def _fingerprint(site: CanvasSite) -> tuple:
    return (tuple((u.id, u.name, u.workflow_state) for u in site.users.values()),
            tuple((c.id, c.name, c.workflow_state, c.sis_course_id) for c in site.courses.values()),
            tuple((e.id, e.user_id, e.course_id, e.workflow_state) for e in site.enrollments.values()))


def test_same_seed_same_site_other_seed_other_site():
    assert _fingerprint(CanvasSite.generate(seed=7, users=50, courses=5)) == _fingerprint(
        CanvasSite.generate(seed=7, users=50, courses=5))
    assert _fingerprint(CanvasSite.generate(seed=7, users=50, courses=5)) != _fingerprint(
        CanvasSite.generate(seed=8, users=50, courses=5))


def test_sizes_and_mixed_states():
    site = CanvasSite.generate(seed=1, users=400, courses=40, enrolments_per_course=25)
    assert len(site.users) == 403                               # + admin, restricted, teacher
    assert len(site.courses) == 40
    students = [e for e in site.enrollments.values() if e.type == "StudentEnrollment"]
    assert len(students) == 40 * 25
    assert sum(e.type == "TeacherEnrollment" for e in site.enrollments.values()) == 40
    states = Counter(e.workflow_state for e in students)
    assert {"active", "invited", "inactive", "completed", "deleted"} <= set(states)
    assert {c.workflow_state for c in site.courses.values()} >= {"available", "claimed", "completed"}
    assert any(u.deleted for u in site.users.values())
    assert any(login.workflow_state == "suspended" for u in site.users.values() for login in u.logins)
    assert any(not any(link.context_type == "Course" and link.context_id == c.id for link in site.links.values())
               for c in site.courses.values())
    assert ADMIN_TOKEN in site.tokens


def test_tiny_site_is_stable():
    site = tiny_canvas_site()
    assert [u.name for u in site.users.values()][:3] == ["Admin User", "Rita Restricted", "Jürgen Müller"]
    assert [c.course_code for c in site.courses.values()] == ["ENG101", "BUS220", "BUS400", "DEL100", "FRA300",
                                                             "EMPTY1"]
    assert len(site.enrollments) == 19 and len(site.outcomes) == 4 and len(site.links) == 7

"""A DELTA run never leaves a different store than a FULL run would: random changes to the site
between a FULL and a DELTA, on both routes; afterwards the store equals a fresh FULL of the final
site, for every change kind a DELTA sees (README: "What a DELTA sees"). Removals (unenrolment,
deleted users and courses) are applied only by a FULL and are not generated here."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from simenv import moodle_env

from connectors.moodle.simulator import ADMIN_TOKEN, MoodleSite
from connectors.moodle.simulator._reportbuilder import SYNC_FILTERS, SYNC_SORTING, add_participants_report
from engine.store.base import Integration
from tests.synced_env import readable

FRESH = "moodle:FreshFullIntegration0000000"

def _changes(*kinds: str):
    table = {
        "rename_user": st.tuples(st.just("rename_user"), st.integers(0, 10_000), st.text("abcxyzé", min_size=1, max_size=6)),
        "suspend_user": st.tuples(st.just("suspend_user"), st.integers(0, 10_000), st.booleans()),
        "new_user": st.tuples(st.just("new_user"), st.integers(0, 10_000), st.just("")),
        "rename_course": st.tuples(st.just("rename_course"), st.integers(0, 10_000), st.text("ABCdef", min_size=1, max_size=6)),
        "enrol": st.tuples(st.just("enrol"), st.integers(0, 10_000), st.integers(0, 10_000)),
        "suspend_enrolment": st.tuples(st.just("suspend_enrolment"), st.integers(0, 10_000), st.booleans()),
        "complete_activity": st.tuples(st.just("complete_activity"), st.integers(0, 10_000), st.integers(1, 3)),
        "cron": st.tuples(st.just("cron"), st.just(0), st.just(0)),
    }
    return st.one_of(*(table[k] for k in kinds))


# what a DELTA sees, per route (README, "What a DELTA sees"): the report route's delta reads
# every enrolment's state; with report_delta_filters only the rows completed, started or
# enrolled since the last sync (date filters), so suspensions and reactivations are FULL-only
# there; the standard route skips per-user progress (delta.skip), so progress, completion and
# reactivation are FULL-only there
SEEN = {
    "report": _changes("rename_user", "suspend_user", "new_user", "rename_course", "enrol", "suspend_enrolment",
                       "complete_activity", "cron"),
    "report-filters": _changes("rename_user", "suspend_user", "new_user", "rename_course", "enrol",
                               "complete_activity", "cron"),
    "standard": _changes("rename_user", "suspend_user", "new_user", "rename_course", "enrol", "suspend_enrolment"),
}


def _apply(site: MoodleSite, change: tuple, route_sees_reactivation: bool = True) -> None:
    kind, a, b = change
    users = sorted(u for u, user in site.users.items() if u > 2 and not user.deleted)
    courses = sorted(c for c in site.courses if c != 1)
    pairs = sorted((c, u) for c in courses for u in site.course_enrolments.get(c, {}))
    if kind == "rename_user":
        site.update_user(users[a % len(users)], firstname=b)
    elif kind == "suspend_user":
        site.suspend_user(users[a % len(users)], b)
    elif kind == "new_user":
        uid = max(site.users) + 1
        site.add_user(f"new{uid}", "New", f"User{uid}", f"new{uid}@example.org")
    elif kind == "rename_course":
        site.update_course(courses[a % len(courses)], fullname=f"Course {b}")
    elif kind == "enrol" and (course := courses[a % len(courses)], user := users[b % len(users)])[1] \
            not in site.course_enrolments.get(course, {}):
        site.enrol(course, user)  # a new enrolment (re-enrolling a suspended one is a reactivation)
    elif kind == "suspend_enrolment" and pairs:
        course, user = pairs[a % len(pairs)]
        if b or not route_sees_reactivation:
            site.set_enrolment_status(course, user, True)
        else:
            site.set_enrolment_status(course, user, False)
    elif kind == "complete_activity" and pairs:
        course, user = pairs[a % len(pairs)]
        cmids = [cm for sec in site.courses[course].sections for cm in sec.cmids if site.cms[cm].completion]
        if cmids:
            site.set_activity_state(cmids[a % len(cmids)], user, b)
    elif kind == "cron":
        site.run_cron()


@pytest.mark.parametrize("route", ["standard", "report", "report-filters"])
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_full_then_delta_equals_a_fresh_full(tmp_path_factory, route, data):
    changes = data.draw(st.lists(SEEN[route], min_size=1, max_size=6))
    site = MoodleSite.generate(seed=3, users=25, courses=4, enrolments_per_course=8)
    extra = {}
    if route.startswith("report"):
        extra = {"enrolment_report_id": add_participants_report(site, sorting=SYNC_SORTING, filters=SYNC_FILTERS).id,
                 "report_delta_filters": route == "report-filters"}
    with moodle_env(tmp_path_factory.mktemp("delta"), site=site) as env:
        env.store.update_integration(Integration(id=env.integration_id, connector="moodle", base_url=env.base_url,
                                                 credentials={"token": ADMIN_TOKEN}, settings=extra))
        assert env.sync("FULL").status == "succeeded"
        for change in changes:
            _apply(site, change, route_sees_reactivation=route == "report")
        delta = env.sync("DELTA")
        assert delta.status == "succeeded", delta.error
        env.store.add_integration(Integration(id=FRESH, connector="moodle", base_url=env.base_url,
                                              credentials={"token": ADMIN_TOKEN}, settings=extra))
        assert env.engine.sync(FRESH, "FULL").status == "succeeded"
        assert readable(env.store, env.integration_id) == readable(env.store, FRESH)


def test_a_standard_delta_costs_a_fraction_and_leaves_progress_to_the_full(tmp_path):
    site = MoodleSite.generate(seed=5, users=120, courses=6, enrolments_per_course=25)
    with moodle_env(tmp_path, site=site) as env:
        full = env.sync("FULL")
        assert full.status == "succeeded"
        course, user = next((c, u) for c in sorted(site.course_enrolments) if c != 1 for u in sorted(site.course_enrolments[c])
                            if site.is_active_in(c, u))
        cmids = [cm for sec in site.courses[course].sections for cm in sec.cmids if site.cms[cm].completion]
        for cm in cmids:
            site.set_activity_state(cm, user, 1)
        site.run_cron()
        key = f"{course}:{user}"
        before = env.by_remote("course_progressions")[key].fields["status"]
        delta = env.sync("DELTA")
        assert delta.status == "succeeded"
        calls = lambda run: sum(s["calls"] for s in run.stats.values())  # noqa: E731
        assert calls(delta) * 5 <= calls(full), (calls(delta), calls(full))
        assert delta.stats["course_progressions"]["updated"] == 0  # progress is not read by a DELTA
        assert env.by_remote("course_progressions")[key].fields["status"] == before
        assert env.sync("FULL").stats["course_progressions"]["updated"] >= 1  # the next FULL sees it
        assert env.by_remote("course_progressions")[key].fields["status"] != before

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
from connectors.moodle.simulator._reportbuilder import add_participants_report
from engine.models import MODELS
from engine.store.base import Integration, Query

FRESH = "moodle:FreshFullIntegration0000000"

CHANGE = st.one_of(
    st.tuples(st.just("rename_user"), st.integers(0, 10_000), st.text("abcxyzé", min_size=1, max_size=6)),
    st.tuples(st.just("suspend_user"), st.integers(0, 10_000), st.booleans()),
    st.tuples(st.just("new_user"), st.integers(0, 10_000), st.just("")),
    st.tuples(st.just("rename_course"), st.integers(0, 10_000), st.text("ABCdef", min_size=1, max_size=6)),
    st.tuples(st.just("enrol"), st.integers(0, 10_000), st.integers(0, 10_000)),
    st.tuples(st.just("suspend_enrolment"), st.integers(0, 10_000), st.booleans()),
    st.tuples(st.just("complete_activity"), st.integers(0, 10_000), st.integers(1, 3)),
    st.tuples(st.just("cron"), st.just(0), st.just(0)),
)


def _apply(site: MoodleSite, change: tuple) -> None:
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
    elif kind == "enrol":
        site.enrol(courses[a % len(courses)], users[b % len(users)])
    elif kind == "suspend_enrolment" and pairs:
        course, user = pairs[a % len(pairs)]
        site.set_enrolment_status(course, user, b)
    elif kind == "complete_activity" and pairs:
        course, user = pairs[a % len(pairs)]
        cmids = [cm for sec in site.courses[course].sections for cm in sec.cmids if site.cms[cm].completion]
        if cmids:
            site.set_activity_state(cmids[a % len(cmids)], user, b)
    elif kind == "cron":
        site.run_cron()


def _readable(env, iid: str) -> dict:
    """Every model as ``{remote_id: fields}`` with ids resolved to remote ids (ids differ per integration)."""
    back, out = {}, {}
    rows = {m: env.store.query(Query(integration_id=iid, model=m, limit=100_000, include_deleted=True)) for m in MODELS}
    for model, records in rows.items():
        back.update({r.id: f"{model}:{r.remote_id}" for r in records})
    for model, info in MODELS.items():
        out[model] = {r.remote_id: {**{k: back.get(v, v) if k in info.refs else v for k, v in r.fields.items()},
                                    "deleted": r.remote_deleted_at is not None}
                      for r in rows[model]}
    return out


@pytest.mark.parametrize("route", ["standard", "report"])
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.lists(CHANGE, min_size=1, max_size=6))
def test_full_then_delta_equals_a_fresh_full(tmp_path_factory, route, changes):
    site = MoodleSite.generate(seed=3, users=25, courses=4, enrolments_per_course=8)
    extra = {}
    if route == "report":
        extra = {"enrolment_report_id": add_participants_report(site, sorting=("course:courseshortnamewithlink", "user:username")).id}
    with moodle_env(tmp_path_factory.mktemp("delta"), site=site) as env:
        env.store.update_integration(Integration(id=env.integration_id, connector="moodle", base_url=env.base_url,
                                                 credentials={"token": ADMIN_TOKEN}, settings=extra))
        assert env.sync("FULL").status == "succeeded"
        for change in changes:
            _apply(site, change)
        delta = env.sync("DELTA")
        assert delta.status == "succeeded", delta.error
        env.store.add_integration(Integration(id=FRESH, connector="moodle", base_url=env.base_url,
                                              credentials={"token": ADMIN_TOKEN}, settings=extra))
        assert env.engine.sync(FRESH, "FULL").status == "succeeded"
        assert _readable(env, env.integration_id) == _readable(env, FRESH)

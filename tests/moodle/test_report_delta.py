"""A report-route DELTA with ``report_delta_filters``: three narrowed reads of the report (rows
completed, started or enrolled since the last sync, through the report's date filters) instead
of the whole report; what it sees, what it leaves to the next FULL, and the filter values it
leaves behind (none)."""

from __future__ import annotations

import json

import pytest
from simenv import moodle_env

from connectors.moodle._report_functions import moodle_date_filter
from connectors.moodle.simulator import ADMIN_TOKEN, MoodleSite
from connectors.moodle.simulator._reportbuilder import SYNC_FILTERS, SYNC_SORTING, add_participants_report
from engine.store.base import Integration, Query

IID = "moodle:ReportDeltaIntegration0000000"


@pytest.fixture
def env(tmp_path):
    site = MoodleSite.generate(seed=11, users=80, courses=5, enrolments_per_course=20)
    with moodle_env(tmp_path, site=site) as env:
        yield env


def _integration(env, **settings) -> tuple[str, object]:
    report = add_participants_report(env.site, sorting=SYNC_SORTING, filters=SYNC_FILTERS)
    env.store.add_integration(Integration(
        id=IID, connector="moodle", base_url=env.base_url, credentials={"token": ADMIN_TOKEN},
        settings={"enrolment_report_id": report.id, "report_page_size": 100, "report_delta_filters": True, **settings}))
    return IID, report


def _progressions(env) -> dict:
    return {r.remote_id: r.fields for r in env.store.query(Query(integration_id=IID, model="course_progressions", limit=10_000))}


def _pairs(env) -> list[tuple[int, int]]:
    """Active, not completed (course, user) pairs."""
    site = env.site
    return [(c, u) for c in sorted(site.course_enrolments) if c != 1 for u in sorted(site.course_enrolments[c])
            if site.is_active_in(c, u) and (c, u) not in site.course_completions]


def _pick(env) -> tuple[int, int]:
    return _pairs(env)[0]


def _complete(env, course: int, user: int) -> None:
    site = env.site
    for cm in [cm for sec in site.courses[course].sections for cm in sec.cmids if site.cms[cm].completion]:
        site.set_activity_state(cm, user, 1)
    site.run_cron()


def test_a_narrowed_delta_sees_completions_and_new_enrolments_in_seven_calls(env):
    iid, report = _integration(env)
    cost = env.site.php_cost
    cost.reset()
    full = env.engine.sync(iid, "FULL")
    assert full.status == "succeeded", full.error
    done, suspended = _pairs(env)[0], _pairs(env)[-1]
    _complete(env, *done)
    course = sorted(c for c in env.site.courses if c != 1)[0]
    newcomer = next(u for u in sorted(env.site.users) if u > 2 and u not in env.site.course_enrolments[course])
    env.site.enrol(course, newcomer)
    env.site.set_enrolment_status(*suspended, True)
    before = _progressions(env)

    cost.reset()
    delta = env.engine.sync(iid, "DELTA")
    assert delta.status == "succeeded", delta.error
    stats = delta.stats["course_progressions"]
    # 3 × (set_filters + one page) + the final filters_reset, whatever the report's size
    assert stats["calls"] == 7, stats
    assert cost.calls["core_reportbuilder_set_filters"] == 3 and cost.calls["core_reportbuilder_filters_reset"] == 1
    # the reads returned the changed rows, not the whole report
    after = _progressions(env)
    changed = {k for k in after if after[k] != before.get(k)}
    assert stats["created"] + stats["updated"] == len(changed), (stats, changed)
    assert stats["unchanged"] <= 3 and len(changed) * 3 < full.stats["course_progressions"]["created"]
    assert after[f"{done[0]}:{done[1]}"]["status"] == "COMPLETED" != before[f"{done[0]}:{done[1]}"]["status"]
    assert f"{course}:{newcomer}" in after and f"{course}:{newcomer}" not in before
    # a suspension carries no change time: the next FULL sees it
    key = f"{suspended[0]}:{suspended[1]}"
    assert after[key] == before[key] and before[key]["status"] != "DROPPED"
    assert stats["deleted"] == 0
    assert report.user_filters.get(2) is None  # the sync user's filter values are cleared again
    assert env.engine.sync(iid, "FULL").status == "succeeded"
    assert _progressions(env)[key]["status"] == "DROPPED"


def test_a_new_method_of_a_stored_enrolment_waits_for_the_full(env):
    """The enrolment-created read sees only the new method's rows of a stored (user, course):
    merged alone they would give another enrolled_at than a FULL, so the delta leaves it."""
    iid, _ = _integration(env)
    assert env.engine.sync(iid, "FULL").status == "succeeded"
    course, user = _pick(env)
    before = _progressions(env)[f"{course}:{user}"]
    env.site.enrol(course, user, instance=env.site.add_enrol_instance(course, "self"))
    delta = env.engine.sync(iid, "DELTA")
    assert delta.status == "succeeded" and delta.stats["course_progressions"]["updated"] == 0
    assert _progressions(env)[f"{course}:{user}"] == before
    assert not [w for w in delta.warnings if "repeated a remote id" in w]


def test_without_the_setting_a_delta_reads_the_whole_report(env):
    iid, _ = _integration(env, report_delta_filters=False)
    full = env.engine.sync(iid, "FULL")
    suspended = _pick(env)
    env.site.set_enrolment_status(*suspended, True)
    delta = env.engine.sync(iid, "DELTA")
    assert delta.stats["course_progressions"]["calls"] == full.stats["course_progressions"]["calls"]
    assert _progressions(env)[f"{suspended[0]}:{suspended[1]}"]["status"] == "DROPPED"


def test_a_first_delta_without_an_earlier_success_reads_everything(env):
    iid, _ = _integration(env)
    delta = env.engine.sync(iid, "DELTA")
    assert delta.status == "succeeded", delta.error
    assert len(_progressions(env)) == sum(1 for c, us in env.site.course_enrolments.items() if c != 1 for _ in us)


@pytest.mark.parametrize(("since", "overlap", "start"), [(1_800_000_000, 3600, 1_799_996_400), (1_800_000_000, 0, 1_800_000_000),
                                                         (100, 3600, 1), (None, 3600, 1)])
def test_the_filter_values_start_an_overlap_before_the_last_sync(since, overlap, start):
    values = json.loads(moodle_date_filter("enrolment:timecreated", since, overlap))
    assert values == {"enrolment:timecreated_operator": 3, "enrolment:timecreated_from": start, "enrolment:timecreated_to": 0}

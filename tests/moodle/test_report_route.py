"""The report route: course_progressions from one report-builder report, chosen by the setting
``enrolment_report_id`` (a spec variant with ``when``), gives the standard route's records in a
handful of calls, plus what only the report has (enrolled_at, the course's completion time)."""

from __future__ import annotations

from datetime import datetime, timezone

import httpx
import pytest
from simenv import moodle_env

from connectors.moodle.simulator import ADMIN_TOKEN, MoodleSite
from connectors.moodle.simulator._reportbuilder import add_participants_report
from engine.store.base import Integration, Query

REPORT_IID = "moodle:ReportRouteIntegration000000"
SORTING = ("course:courseshortnamewithlink", "user:username")


def _report_integration(env, report_id: int, **settings) -> str:
    env.store.add_integration(Integration(id=REPORT_IID, connector="moodle", base_url=env.base_url, credentials={"token": ADMIN_TOKEN},
                                          settings={"enrolment_report_id": report_id, "report_page_size": 100, **settings}))
    return REPORT_IID


def _progressions(env, iid: str) -> dict:
    rows = env.store.query(Query(integration_id=iid, model="course_progressions", limit=10_000))
    users = {r.id: r.remote_id for r in env.store.query(Query(integration_id=iid, model="users", limit=10_000))}
    return {r.remote_id: {**r.fields, "user": users.get(r.fields["user_id"])} for r in rows}


def _minute(iso: str) -> int:
    return int(datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.000Z").replace(tzinfo=timezone.utc).timestamp()) // 60


@pytest.fixture
def generated(tmp_path):
    site = MoodleSite.generate(seed=7, users=120, courses=8, enrolments_per_course=30)
    with moodle_env(tmp_path, site=site) as env:
        yield env


def test_both_routes_give_the_same_progressions(generated):
    env = generated
    report = add_participants_report(env.site, sorting=SORTING)
    standard = env.sync()
    assert standard.status == "succeeded", standard.error
    run = env.engine.sync(_report_integration(env, report.id), "FULL")
    assert run.status == "succeeded", run.error
    a, b = _progressions(env, env.integration_id), _progressions(env, REPORT_IID)
    assert len(a) > 200 and a.keys() == b.keys()
    assert {k: (v["status"], v["user"]) for k, v in a.items()} == {k: (v["status"], v["user"]) for k, v in b.items()}
    for key, rec in b.items():
        assert rec["enrolled_at"] is not None, key  # only the report has the enrolment start
        course, user = map(int, key.split(":"))
        done = env.site.course_completions.get((course, user))
        if rec["status"] == "COMPLETED" and done is not None:
            assert _minute(rec["completed_at"]) == done // 60  # the course's own completion time, to the minute
    # 1 reset + ceil(rows / 100) pages, instead of per-course, per-user and per-pair calls
    assert run.stats["course_progressions"]["calls"] <= 1 + len(b) // 100 + 2
    assert standard.stats["course_progressions"]["calls"] > 5 * run.stats["course_progressions"]["calls"]


def test_without_the_setting_the_standard_route_is_used(tiny):
    add_participants_report(tiny.site, sorting=SORTING)
    run = tiny.sync(models=["course_progressions"])
    assert run.status == "succeeded"
    called = set(tiny.site.php_cost.by_function)
    assert "core_enrol_get_users_courses" in called
    assert not {f for f in called if f.startswith("core_reportbuilder_")}


def test_an_unsorted_report_fails_the_read_and_keeps_what_is_stored(generated):
    env = generated
    sorted_report = add_participants_report(env.site, sorting=SORTING)
    iid = _report_integration(env, sorted_report.id)
    assert env.engine.sync(iid, "FULL").status == "succeeded"
    before = _progressions(env, iid)
    sorted_report.configure(env.site, sorting=())  # an admin turns sorting off: rows shuffle between calls
    run = env.engine.sync(iid, "FULL")
    assert run.status == "failed" and "not adjacent" in run.error
    assert _progressions(env, iid) == before


def test_filter_values_left_by_someone_are_reset_before_the_read(generated):
    env = generated
    report = add_participants_report(env.site, sorting=SORTING, filters=("completion:timecompleted",))
    iid = _report_integration(env, report.id)
    assert env.engine.sync(iid, "FULL").status == "succeeded"
    count = len(_progressions(env, iid))
    # the sync user's own filter values persist per report: narrow it to nothing, then sync again
    def call(function, **params):
        answer = httpx.post(f"{env.base_url}/webservice/rest/server.php", data={
            "wstoken": ADMIN_TOKEN, "wsfunction": function, "moodlewsrestformat": "json", **params})
        answer.raise_for_status()
        return answer.json()

    call("core_reportbuilder_set_filters", reportid=report.id,
         values='{"completion:timecompleted_operator":3,"completion:timecompleted_from":4102444800,"completion:timecompleted_to":0}')
    narrowed = call("core_reportbuilder_retrieve_report", reportid=report.id, perpage=0)
    assert narrowed["data"]["rows"] == []  # what a read without the reset would see: everything "gone"
    run = env.engine.sync(iid, "FULL")
    assert run.status == "succeeded" and run.stats["course_progressions"]["deleted"] == 0
    assert len(_progressions(env, iid)) == count

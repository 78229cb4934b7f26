"""Report builder functions over real HTTP (run_in_thread): shapes, paging, filters, access, dates, cost.

The reference is shared/moodle-ws/BULK-READS.md §2 (what a real Moodle 5.0 site answered).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timezone

import httpx
import pytest

from connectors.moodle.simulator import (ADMIN_TOKEN, BASE_TIME, ENDPOINT, MoodleSite, Token, create_app,
                                         run_in_thread, tiny_site)
from connectors.moodle.simulator._cost import (REJECTED_MS, REPORT_BASE_MS, FUNCTION_MS, report_rows_ms)
from connectors.moodle.simulator._reportbuilder import (DEFAULT_SETUP_COLUMNS, SYNC_COLUMNS,
                                                        add_participants_report, userdate)

VIEWER = "5" * 32    # moodle/reportbuilder:view + viewall + webservice/rest:use only (BULK-READS §2)
STUDENT = "6" * 32   # a student: authenticated-user defaults (reportbuilder:view), no viewall
NOVIEW = "7" * 32    # not even moodle/reportbuilder:view
SORTED = ("course:courseshortnamewithlink", "user:fullnamewithlink", "enrol:plugin")
COURSE_ID = re.compile(r'^<a href="[^"]*/course/view\.php\?id=(\d+)">')
USER_ID = re.compile(r'^<a href="[^"]*/user/profile\.php\?id=(\d+)">')
DETAIL_KEYS = ["name", "source", "type", "uniquerows", "conditiondata", "settingsdata", "contextid", "component",
               "area", "itemid", "usercreated", "id", "timecreated", "timemodified", "usermodified", "sourcename",
               "modifiedby"]


class Wire:
    """POSTs form-encoded calls to a running simulator."""

    def __init__(self, client: httpx.Client, url: str, site: MoodleSite) -> None:
        self.client, self.url, self.site = client, url, site

    def __call__(self, function: str, token: str = ADMIN_TOKEN, **params: object) -> object:
        data = {"wstoken": token, "wsfunction": function, "moodlewsrestformat": "json",
                **{k: str(v) for k, v in params.items()}}
        resp = self.client.post(self.url, data=data)
        assert resp.status_code == 200 and resp.headers["content-type"] == "application/json"
        return resp.json()

    def raw(self, function: str, token: str = ADMIN_TOKEN, **params: object) -> bytes:
        data = {"wstoken": token, "wsfunction": function, "moodlewsrestformat": "json",
                **{k: str(v) for k, v in params.items()}}
        return self.client.post(self.url, data=data).content

    def rows(self, reportid: int, token: str = ADMIN_TOKEN, **params: object) -> list[list[str | None]]:
        body = self("core_reportbuilder_retrieve_report", token, reportid=reportid, perpage=0, **params)
        return [row["columns"] for row in body["data"]["rows"]]


@pytest.fixture
def site() -> MoodleSite:
    site = tiny_site()
    site.add_token(Token(VIEWER, 3, capabilities=frozenset({
        "webservice/rest:use", "moodle/reportbuilder:view", "moodle/reportbuilder:viewall"})))
    site.add_token(Token(STUDENT, 5, capabilities=frozenset({"webservice/rest:use", "moodle/reportbuilder:view"})))
    site.add_token(Token(NOVIEW, 6, capabilities=frozenset({"webservice/rest:use"})))
    return site


@pytest.fixture
def wire(site: MoodleSite) -> Iterator[Wire]:
    with run_in_thread(create_app(site)) as base, httpx.Client(timeout=10) as client:
        yield Wire(client, base + ENDPOINT, site)


def _ids(cells: list[str | None]) -> tuple[int, int | None]:
    """(course id, user id or None) parsed out of the link HTML cells, wherever they are."""
    courses = [int(m.group(1)) for c in cells if (m := COURSE_ID.match(c or ""))]
    users = [int(m.group(1)) for c in cells if (m := USER_ID.match(c or ""))]
    assert len(courses) == 1 and len(users) <= 1, cells
    return courses[0], users[0] if users else None


# ---------------------------------------------------------------------------- shapes

def test_retrieve_shape_and_cells(site, wire):
    report = add_participants_report(site, "Enrolments", sorting=SORTED)
    body = wire("core_reportbuilder_retrieve_report", reportid=report.id)
    assert list(body) == ["details", "data", "warnings"] and body["warnings"] == []
    details = body["details"]
    assert list(details) == DETAIL_KEYS
    assert (details["id"], details["name"], details["type"], details["sourcename"]) == (
        report.id, "Enrolments", 0, "Course participants")
    assert details["source"] == "core_course\\reportbuilder\\datasource\\participants"
    assert details["modifiedby"]["id"] == 2 and details["modifiedby"]["profileurl"].endswith("/user/profile.php?id=2")
    data = body["data"]
    assert list(data) == ["headers", "rows", "totalrowcount"]
    assert data["headers"] == ["Course short name with link", "Full name with link", "Plugin", "Status",
                               "Time created", "Time started", "Time ended", "Short name", "Completed",
                               "Time completed", "Time started", "Username"]  # headers are not unique (BULK-READS §2)
    # tiny site: ENG101 6, BUS220 2, BUS400 3 enrolments + 1 empty EMPTY1 instance; perpage default 10
    assert data["totalrowcount"] == 12 and len(data["rows"]) == 10
    for row in data["rows"]:
        assert len(row["columns"]) == len(SYNC_COLUMNS)
        assert all(cell is None or isinstance(cell, str) for cell in row["columns"])


def test_ids_only_in_link_html_names_escaped(site, wire):
    report = add_participants_report(site, sorting=SORTED)
    raw = wire.raw("core_reportbuilder_retrieve_report", reportid=report.id, perpage=0)
    assert b'<a href=\\"http:\\/\\/127.0.0.1:' in raw and b"Zo\\u00eb O&#039;Brien" in raw
    pairs = Counter(_ids(cells) for cells in wire.rows(report.id))
    expected = Counter((cid, uid) for cid, per in site.course_enrolments.items() for uid in per)
    expected[(5, None)] = 1  # EMPTY1: an enrol instance without users gives one empty-user row
    assert pairs == expected


def test_list_reports_and_view(site, wire):
    b = add_participants_report(site, "B report")
    a = add_participants_report(site, "A report")
    listed = wire("core_reportbuilder_list_reports")
    assert [r["id"] for r in listed["reports"]] == [a.id, b.id] and listed["warnings"] == []
    assert list(listed["reports"][0]) == DETAIL_KEYS
    second = wire("core_reportbuilder_list_reports", page=1, perpage=1)
    assert [r["id"] for r in second["reports"]] == [b.id]
    assert wire("core_reportbuilder_view_report", reportid=a.id) == {"status": True, "warnings": []}


# ---------------------------------------------------------------------------- paging and order

def test_paging_perpage_zero_and_past_end(site, wire):
    report = add_participants_report(site, sorting=SORTED)
    full = wire.rows(report.id)
    assert len(full) == 12
    pages = [wire("core_reportbuilder_retrieve_report", reportid=report.id, page=p, perpage=5)["data"]
             for p in range(3)]
    assert [len(p["rows"]) for p in pages] == [5, 5, 2] and {p["totalrowcount"] for p in pages} == {12}
    assert [r["columns"] for p in pages for r in p["rows"]] == full
    past = wire("core_reportbuilder_retrieve_report", reportid=report.id, page=3, perpage=5)["data"]
    assert past["rows"] == [] and past["totalrowcount"] == 0  # the count is only valid on a non-empty page
    negative = wire("core_reportbuilder_retrieve_report", reportid=report.id, page=2, perpage=-1)["data"]
    assert len(negative["rows"]) == 12 and negative["totalrowcount"] == 12


def test_sorting_orders_rows_and_unsorted_shuffles(site, wire):
    report = add_participants_report(site, sorting=SORTED)
    ordered = [_ids(c) for c in wire.rows(report.id)]
    shortnames = {c.id: c.shortname for c in site.courses.values()}
    assert [shortnames[cid] for cid, _ in ordered] == sorted(shortnames[cid] for cid, _ in ordered)
    report.configure(site, sorting=())
    first = wire.rows(report.id)
    second = wire.rows(report.id, page=1)  # another query: no ORDER BY, so another order
    assert first != second and sorted(map(str, first)) == sorted(map(str, second))


# ---------------------------------------------------------------------------- rows

def test_empty_user_rows_and_conditions(site, wire):
    report = add_participants_report(site, sorting=SORTED)
    empty = [c for c in wire.rows(report.id) if _ids(c) == (5, None)]
    assert empty == [['<a href="' + site.wwwroot + '/course/view.php?id=5">EMPTY1</a>', "", "Manual enrolments",
                      "", "", "", "", None, "", "", "", None]]
    report.configure(site, conditions=("user:username",))
    assert all(_ids(c)[1] is not None for c in wire.rows(report.id))
    assert len(wire.rows(report.id)) == 11


def test_default_setup_keeps_only_active_enrolments(site, wire):
    report = add_participants_report(site, include_default_setup=True, sorting=("course:coursefullnamewithlink",))
    body = wire("core_reportbuilder_retrieve_report", reportid=report.id, perpage=0)
    assert body["data"]["headers"] == ["Course full name with link", "Plugin", "Full name with link"]
    assert len(DEFAULT_SETUP_COLUMNS) == 3 and body["details"]["conditiondata"] is not None
    pairs = {_ids(r["columns"]) for r in body["data"]["rows"]}
    assert (3, 6) not in pairs and (5, None) not in pairs  # suspended enrolment and empty instance dropped
    assert len(pairs) == 10


def test_one_row_per_role_and_method_unless_aggregated(site, wire):
    inst = site.add_enrol_instance(2, "self")
    site.enrol(2, 5, 4, instance=inst, timecreated=BASE_TIME)  # second method + non-editing teacher role
    report = add_participants_report(site, columns=("course:courseshortnamewithlink", "user:fullnamewithlink",
                                                    "enrol:plugin", "role:shortname"), sorting=SORTED)
    mine = sorted(c[2:] for c in wire.rows(report.id) if _ids(c) == (2, 5))
    assert mine == [["Manual enrolments", "student"], ["Manual enrolments", "teacher"],
                    ["Self enrolment", "student"], ["Self enrolment", "teacher"]]
    report.configure(site, role_aggregation="groupconcatdistinct")
    mine = sorted(c[2:] for c in wire.rows(report.id) if _ids(c) == (2, 5))
    assert mine == [["Manual enrolments", "student, teacher"], ["Self enrolment", "student, teacher"]]


def test_status_texts_window_and_disabled_instance(site, wire):
    site.enrol(5, 9, 5, timestart=site.now() + 86400, timecreated=BASE_TIME)    # starts tomorrow
    site.enrol(5, 8, 5, timeend=site.now() - 60, timecreated=BASE_TIME)        # expired
    site.enrol(3, 7, 5, status=1, timecreated=BASE_TIME)                        # suspended
    report = add_participants_report(site, sorting=SORTED)
    status = {_ids(c): c[3] for c in wire.rows(report.id)}
    assert (status[(5, 9)], status[(5, 8)], status[(3, 7)], status[(2, 5)]) == (
        "Not current", "Not current", "Suspended", "Active")
    site.manual_instance(4).status = 1  # disabled instance
    site.touch()
    assert {c[3] for c in wire.rows(report.id) if _ids(c)[0] == 4} == {"Not current"}


# ---------------------------------------------------------------------------- dates

def test_userdate_format_matches_real_site():
    stamp = int(datetime(2026, 12, 2, 6, 44, 59, tzinfo=timezone.utc).timestamp())
    assert userdate(stamp, "UTC") == "Wednesday, 2 December 2026, 6:44 AM"
    assert userdate(stamp + 6 * 3600, "UTC") == "Wednesday, 2 December 2026, 12:44 PM"
    assert userdate(stamp - 6 * 3600 - 44 * 60, "UTC") == "Wednesday, 2 December 2026, 12:00 AM"


def test_dates_in_reading_users_timezone(site, wire):
    report = add_participants_report(site, sorting=SORTED)
    completed = site.course_completions[(2, 5)]

    def eng_student01(token: str = ADMIN_TOKEN) -> list[str | None]:
        return next(c for c in wire.rows(report.id, token) if _ids(c) == (2, 5))

    row = eng_student01()
    assert row[4:10] == [userdate(BASE_TIME + 20 * 86400, "UTC"), userdate(BASE_TIME + 30 * 86400, "UTC"), "",
                         "student", "Yes", userdate(completed, "UTC")]
    assert row[9] == "Thursday, 13 February 2025, 12:00 AM"
    site.update_user(2, timezone="America/New_York")
    assert eng_student01()[9] == "Wednesday, 12 February 2025, 7:00 PM"
    assert eng_student01(VIEWER)[9] == "Thursday, 13 February 2025, 12:00 AM"  # user 3 keeps the site zone
    site.timezone = "Asia/Tokyo"
    site.touch()
    assert eng_student01(VIEWER)[9] == "Thursday, 13 February 2025, 9:00 AM"
    site.forcetimezone = "Europe/Berlin"
    site.touch()
    assert eng_student01()[9] == "Thursday, 13 February 2025, 1:00 AM"


# ---------------------------------------------------------------------------- agreement with standard functions

def test_rows_agree_with_enrol_and_completion_functions(site, wire):
    report = add_participants_report(site, sorting=SORTED)
    rows = wire.rows(report.id)
    for courseid in (2, 3, 4, 5):
        everyone = wire("core_enrol_get_enrolled_users", courseid=courseid)
        active = wire("core_enrol_get_enrolled_users", courseid=courseid,
                      **{"options[0][name]": "onlyactive", "options[0][value]": 1})
        mine = [c for c in rows if _ids(c)[0] == courseid and _ids(c)[1] is not None]
        assert sorted(_ids(c)[1] for c in mine) == sorted(u["id"] for u in everyone)
        assert sorted(_ids(c)[1] for c in mine if c[3] == "Active") == sorted(u["id"] for u in active)
        roles = {u["id"]: [r["shortname"] for r in u["roles"]] for u in everyone}
        assert all([c[7]] == roles[_ids(c)[1]] for c in mine)
    for userid in (5, 6, 7, 8, 9):
        status = wire("core_completion_get_course_completion_status", courseid=2, userid=userid)
        row = next(c for c in rows if _ids(c) == (2, userid))
        assert (row[8] == "Yes") is status["completionstatus"]["completed"]
    site.run_cron()  # student04 (complete-pass) is aggregated now: both routes see it
    assert wire("core_completion_get_course_completion_status", courseid=2, userid=8)["completionstatus"]["completed"]
    row = next(c for c in wire.rows(report.id) if _ids(c) == (2, 8))
    assert row[8] == "Yes" and row[9] == userdate(site.course_completions[(2, 8)], "UTC")


# ---------------------------------------------------------------------------- filters

def test_filter_values_persist_per_user_until_reset(site, wire):
    report = add_participants_report(site, sorting=SORTED, filters=("completion:timecompleted",))
    since = BASE_TIME + 40 * 86400
    values = ('{"completion:timecompleted_operator":3,"completion:timecompleted_from":%d,'
              '"completion:timecompleted_to":0}' % since)
    assert wire("core_reportbuilder_set_filters", reportid=report.id, values=values) is True
    narrowed = wire("core_reportbuilder_retrieve_report", reportid=report.id, perpage=0)["data"]
    assert [_ids(r["columns"]) for r in narrowed["rows"]] == [(2, 5)] and narrowed["totalrowcount"] == 1
    assert [_ids(c) for c in wire.rows(report.id)] == [(2, 5)]  # persists across calls
    assert len(wire.rows(report.id, VIEWER)) == 12               # only the calling user's values
    assert wire("core_reportbuilder_filters_reset", reportid=report.id) is True
    assert len(wire.rows(report.id)) == 12
    later = values.replace(str(since), str(site.course_completions[(2, 5)] + 1))
    wire("core_reportbuilder_set_filters", reportid=report.id, values=later)
    assert wire.rows(report.id) == []


def test_filter_on_column_without_filter_is_ignored(site, wire):
    report = add_participants_report(site, sorting=SORTED)
    wire("core_reportbuilder_set_filters", reportid=report.id,
         values='{"completion:timecompleted_operator":1}')
    assert len(wire.rows(report.id)) == 12
    report.configure(site, filters=("completion:timecompleted",))
    assert len(wire.rows(report.id)) == 1  # the stored value applies once the filter exists


# ---------------------------------------------------------------------------- access

ACCESS_ERROR = (b'{"exception":"core_reportbuilder\\\\report_access_exception","errorcode":"errorreportview",'
                b'"message":"You cannot view this report"}')


def test_access_errors_exact_envelope(site, wire):
    report = add_participants_report(site, sorting=SORTED)
    assert wire.raw("core_reportbuilder_retrieve_report", STUDENT, reportid=report.id) == ACCESS_ERROR
    assert wire.raw("core_reportbuilder_set_filters", STUDENT, reportid=report.id, values="{}") == ACCESS_ERROR
    assert wire.raw("core_reportbuilder_filters_reset", STUDENT, reportid=report.id) == ACCESS_ERROR
    assert wire("core_reportbuilder_list_reports", STUDENT) == {"reports": [], "warnings": []}
    assert wire.raw("core_reportbuilder_list_reports", NOVIEW) == ACCESS_ERROR
    assert wire.raw("core_reportbuilder_retrieve_report", NOVIEW, reportid=report.id) == ACCESS_ERROR
    assert len(wire.rows(report.id, VIEWER)) == 12  # view + viewall + rest:use reads every row
    assert [r["id"] for r in wire("core_reportbuilder_list_reports", VIEWER)["reports"]] == [report.id]
    missing = wire("core_reportbuilder_retrieve_report", reportid=999)
    assert (missing["exception"], missing["errorcode"]) == ("dml_missing_record_exception", "invalidrecordunknown")


def test_audience_member_without_viewall_reads(site, wire):
    report = add_participants_report(site, sorting=SORTED, audience=(5,))
    assert len(wire.rows(report.id, STUDENT)) == 12
    assert [r["id"] for r in wire("core_reportbuilder_list_reports", STUDENT)["reports"]] == [report.id]


def test_details_timemodified_moves_on_edit(site, wire):
    report = add_participants_report(site, sorting=SORTED)
    before = wire("core_reportbuilder_retrieve_report", reportid=report.id)["details"]["timemodified"]
    site.fixed_now += 3600
    report.configure(site, columns=(*SYNC_COLUMNS, "access:timeaccess"))
    body = wire("core_reportbuilder_retrieve_report", reportid=report.id, perpage=0)
    assert body["details"]["timemodified"] == before + 3600
    access = {_ids(r["columns"]): r["columns"][-1] for r in body["data"]["rows"]}
    assert access[(2, 5)] == userdate(BASE_TIME + 90 * 86400, "UTC") and access[(2, 7)] == "Never"


# ---------------------------------------------------------------------------- cost model

def test_php_cost_counter(site, wire):
    report = add_participants_report(site, sorting=SORTED)
    cost = site.php_cost
    cost.reset()
    wire("core_webservice_get_site_info")
    wire("core_enrol_get_enrolled_users", courseid=2)
    assert cost.total_ms == pytest.approx(FUNCTION_MS["core_webservice_get_site_info"]
                                          + FUNCTION_MS["core_enrol_get_enrolled_users"])
    cost.reset()
    wire.rows(report.id)
    one_call = cost.total_ms
    assert one_call == pytest.approx(REPORT_BASE_MS + report_rows_ms(12, 12))
    assert 77 <= one_call <= 123  # BULK-READS §2: the whole small site in one call, 77–123 ms
    cost.reset()
    for page in range(4):
        wire("core_reportbuilder_retrieve_report", reportid=report.id, page=page, perpage=3)
    assert cost.calls["core_reportbuilder_retrieve_report"] == 4 and cost.total_ms > 3 * one_call
    cost.reset()
    wire("core_reportbuilder_retrieve_report", token="bad" * 8, reportid=report.id)
    assert cost.total_ms == REJECTED_MS
    # BULK-READS §2 figures at 150,000 rows: one perpage=0 call ≈ 24 s, a 10,000-row page ≈ 2.2 s
    assert REPORT_BASE_MS + report_rows_ms(150_000, 150_000) == pytest.approx(24_000, rel=0.05)
    assert REPORT_BASE_MS + report_rows_ms(150_000, 10_000) == pytest.approx(2_200, rel=0.05)


def test_cached_repeat_read_is_charged_again(site, wire):
    report = add_participants_report(site, sorting=SORTED)
    wire.rows(report.id)
    first = site.php_cost.total_ms
    wire.rows(report.id)
    assert site.php_cost.total_ms == pytest.approx(2 * first)


def test_epoch_language_pack_gives_exact_seconds(site, wire):
    site.course_completions[(2, 5)] += 17  # seconds that userdate() text loses
    site.touch()
    site.epoch_date_langs.add("en_epoch")
    report = add_participants_report(site, sorting=SORTED)

    def eng_student01(**settings: object) -> list[str | None]:
        return next(c for c in wire.rows(report.id, **settings) if _ids(c) == (2, 5))

    exact = eng_student01(moodlewssettinglang="en_epoch")
    assert exact[4:10] == [str(BASE_TIME + 20 * 86400), str(BASE_TIME + 30 * 86400), "", "student", "Yes",
                           str(site.course_completions[(2, 5)])]
    assert eng_student01(moodlewssettinglang="xx_unknown")[9] == userdate(site.course_completions[(2, 5)], "UTC")
    assert eng_student01()[9] == "Thursday, 13 February 2025, 12:00 AM"

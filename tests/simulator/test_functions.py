"""Function behaviour on tiny_site(): reads, capability hiding, writes, completion."""

from __future__ import annotations

from sim_helpers import lst

from connectors.moodle.simulator import RESTRICTED_TOKEN, TINY_NOW


def _opts(**kw):
    return lst(*({"name": k, "value": str(v)} for k, v in kw.items()))


def test_get_courses_includes_site_course_and_hidden_for_admin(call):
    courses = call("core_course_get_courses")
    assert [c["id"] for c in courses] == [1, 2, 3, 4, 5]
    assert courses[0]["format"] == "site" and courses[0]["categoryid"] == 0
    assert courses[2]["visible"] == 0 and "timemodified" in courses[1] and "pdfexportfont" not in courses[1]


def test_get_courses_restricted_hides_fields(call):
    courses = call("core_course_get_courses", token=RESTRICTED_TOKEN, options={"ids": lst("2", "4")})
    assert [c["id"] for c in courses] == [2, 4]
    for key in ("idnumber", "visible", "timecreated", "timemodified"):
        assert key not in courses[0]


def test_get_courses_restricted_hidden_course_fails_context(call):
    body = call("core_course_get_courses", token=RESTRICTED_TOKEN)
    assert body["errorcode"] == "errorcoursecontextnotvalid"


def test_get_courses_without_course_view_nopermissions(site, call):
    from connectors.moodle.simulator import Token
    site.add_token(Token("7" * 32, 5, capabilities=frozenset({"webservice/rest:use"})))
    assert call("core_course_get_courses", token="7" * 32, options={"ids": lst("2")})["errorcode"] == "nopermissions"


def test_get_users_like_and_exact(call):
    users = call("core_user_get_users", criteria=lst({"key": "email", "value": "%"}))
    ids = [u["id"] for u in users["users"]]
    assert ids == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] and users["warnings"] == []
    assert users["users"][3]["suspended"] is True
    found = call("core_user_get_users", criteria=lst({"key": "lastname", "value": "m_LLER"}))
    assert [u["id"] for u in found["users"]] == [5]
    exact = call("core_user_get_users", criteria=lst({"key": "username", "value": "student0"}))
    assert exact["users"] == []


def test_get_users_unknown_key_warns_and_returns_all(call):
    body = call("core_user_get_users", criteria=lst({"key": "city", "value": "Berlin"}))
    assert len(body["users"]) == 10
    assert body["warnings"] == [{"item": "city", "warningcode": "invalidfieldparameter",
                                 "message": "The search key 'city' is not supported, look at the web service documentation"}]


def test_get_users_duplicate_key(call):
    body = call("core_user_get_users", criteria=lst({"key": "email", "value": "%"}, {"key": "email", "value": "a%"}))
    assert body["errorcode"] == "keyalreadyset"


def test_get_users_restricted_silently_filtered(call):
    body = call("core_user_get_users", token=RESTRICTED_TOKEN, criteria=lst({"key": "email", "value": "%"}))
    assert [u["id"] for u in body["users"]] == [3] and body["warnings"] == []


def test_users_by_field(call):
    users = call("core_user_get_users_by_field", field="username", values=lst("student02", "nobody"))
    assert [u["username"] for u in users] == ["student02"]
    assert call("core_user_get_users_by_field", field="city", values=lst("x"))["errorcode"] == "codingerror"
    assert call("core_user_get_users_by_field", field="username", values=lst("Student02"))["errorcode"] == \
        "invalidparameter"


def test_enrolled_users_paging_by_id(call):
    all_ids = [u["id"] for u in call("core_enrol_get_enrolled_users", courseid="2")]
    assert all_ids == [5, 6, 7, 8, 9, 10]
    pages = [call("core_enrol_get_enrolled_users", courseid="2",
                  options=_opts(userfields="id", limitfrom=start, limitnumber=4)) for start in (0, 4)]
    assert [[u["id"] for u in p] for p in pages] == [[5, 6, 7, 8], [9, 10]]
    assert pages[0][0] == {"id": 5, "fullname": "Jürgen Müller"}


def test_enrolled_users_status_options_and_no_suspended_key(call):
    assert [u["id"] for u in call("core_enrol_get_enrolled_users", courseid="3")] == [5, 6]
    assert [u["id"] for u in call("core_enrol_get_enrolled_users", courseid="3", options=_opts(onlyactive=1))] == [5]
    assert [u["id"] for u in call("core_enrol_get_enrolled_users", courseid="3",
                                  options=_opts(onlysuspended=1))] == [6]
    assert all("suspended" not in u for u in call("core_enrol_get_enrolled_users", courseid="4"))


def test_enrolled_users_site_course_everyone(call):
    assert [u["id"] for u in call("core_enrol_get_enrolled_users", courseid="1",
                                  options=_opts(userfields="id"))] == list(range(1, 11))


def test_users_courses_active_visible_only(call):
    courses = call("core_enrol_get_users_courses", userid="5")
    assert [c["id"] for c in courses] == [2, 4]
    eng, bus = courses
    assert eng["completed"] is True and eng["progress"] == 100.0 and eng["enablecompletion"] is True
    assert bus["completed"] is None and bus["progress"] is None
    assert [c["id"] for c in call("core_enrol_get_users_courses", userid="6")] == [2, 4]


def test_progress_counts_tracked_activities(call):
    zoe = call("core_enrol_get_users_courses", userid="6")[0]
    assert zoe["progress"] == 1 / 3 * 100 and zoe["completed"] is False


def test_override_then_cron(site, call):
    before = call("core_completion_get_course_completion_status", courseid="2", userid="8")
    assert before["completionstatus"]["completed"] is False
    assert all(row["complete"] for row in before["completionstatus"]["completions"])
    site.run_cron()
    after = call("core_completion_get_course_completion_status", courseid="2", userid="8")
    assert after["completionstatus"]["completed"] is True
    same = call("core_completion_override_activity_completion_status", userid="6", cmid="2", newstate="1")
    assert (same["state"], same["overrideby"]) == (1, None)
    for cmid in (3, 4):
        res = call("core_completion_override_activity_completion_status", userid="6", cmid=str(cmid), newstate="1")
        assert res["overrideby"] == 2
    assert res == {"cmid": 4, "userid": 6, "state": 1, "timecompleted": TINY_NOW, "overrideby": 2, "tracking": 2}
    assert call("core_enrol_get_users_courses", userid="6")[0]["completed"] is False
    site.run_cron()
    assert call("core_enrol_get_users_courses", userid="6")[0]["completed"] is True


def test_override_untracked_noop_and_bad_state(call):
    assert call("core_completion_override_activity_completion_status", userid="6", cmid="1", newstate="1") == \
        {"cmid": 1, "userid": 6, "state": 0, "timecompleted": 0, "overrideby": None, "tracking": 0}
    assert call("core_completion_override_activity_completion_status", userid="6", cmid="3",
                newstate="2")["errorcode"] == "err_system"
    assert call("core_completion_override_activity_completion_status", token=RESTRICTED_TOKEN, userid="6",
                cmid="3", newstate="1")["errorcode"] == "nopermissions"


def test_course_completion_errors(call):
    assert call("core_completion_get_course_completion_status", courseid="4", userid="5")["errorcode"] == \
        "cannotviewreport"
    assert call("core_completion_get_course_completion_status", courseid="2", userid="10")["errorcode"] == \
        "usernotenroled"
    assert call("core_completion_get_course_completion_status", courseid="99", userid="5")["errorcode"] == \
        "invalidrecordunknown"


def test_activities_status_states(call):
    rows = call("core_completion_get_activities_completion_status", courseid="2", userid="7")["statuses"]
    assert [(r["cmid"], r["state"], r["tracking"]) for r in rows] == [(2, 1, 1), (3, 3, 2), (4, 2, 2)]


def test_create_courses_all_or_nothing(site, call):
    before = len(site.courses)
    body = call("core_course_create_courses", courses=lst(
        {"fullname": "A", "shortname": "NEWA", "categoryid": "1"},
        {"fullname": "B", "shortname": "ENG101", "categoryid": "1"}))
    assert body["errorcode"] == "shortnametaken" and len(site.courses) == before
    body = call("core_course_create_courses", courses=lst({"fullname": "A", "shortname": "A", "categoryid": "1",
                                                             "idnumber": "CRS-ENG101"}))
    assert body["errorcode"] == "courseidnumbertaken"
    assert call("core_course_create_courses", courses=lst({"fullname": "A", "shortname": "A",
                                                          "categoryid": "77"}))["errorcode"] == "errorcatcontextnotvalid"
    made = call("core_course_create_courses", courses=lst({"fullname": "A", "shortname": "NEWA", "categoryid": "1"}))
    assert made == [{"id": before + 1, "shortname": "NEWA"}]
    assert call("enrol_manual_enrol_users", enrolments=lst({"roleid": "5", "userid": "9",
                                                            "courseid": str(made[0]["id"])})) is None


def test_update_courses_warnings(site, call):
    body = call("core_course_update_courses", courses=lst(
        {"id": "2", "shortname": "BUS220"}, {"id": "4", "visible": "0"}, {"id": "999", "fullname": "x"}))
    assert [(w["itemid"], w["warningcode"]) for w in body["warnings"]] == \
        [(2, "shortnametaken"), (999, "invalidrecordunknown")]
    assert site.courses[4].visible == 0 and site.courses[2].shortname == "ENG101"
    assert call("core_course_update_courses", courses=lst({"id": "5", "fullname": "Renamed"})) == {"warnings": []}


def test_enrol_errors_and_all_or_nothing(site, call):
    site.manual_instance(5).status = 1
    body = call("enrol_manual_enrol_users", enrolments=lst({"roleid": "5", "userid": "9", "courseid": "4"},
                                                           {"roleid": "5", "userid": "9", "courseid": "5"}))
    assert body["errorcode"] == "wsnoinstance" and 4 not in site.user_courses[9]
    assert call("enrol_manual_enrol_users", enrolments=lst({"roleid": "7", "userid": "9",
                                                            "courseid": "4"}))["errorcode"] == "wsusercannotassign"
    raw = call("enrol_manual_enrol_users", enrolments=lst({"roleid": "5", "userid": "999", "courseid": "4"}))
    assert raw["exception"] == "TypeError" and "errorcode" not in raw


def test_reenrol_updates_and_suspend(site, call):
    call("enrol_manual_enrol_users", enrolments=lst({"roleid": "5", "userid": "6", "courseid": "3"}))
    assert site.is_active_in(3, 6)
    call("enrol_manual_enrol_users", enrolments=lst({"roleid": "5", "userid": "6", "courseid": "3", "suspend": "1"}))
    assert not site.is_active_in(3, 6) and len(site.course_enrolments[3][6]) == 1
    assert call("enrol_manual_unenrol_users", enrolments=lst({"userid": "6", "courseid": "3"})) is None
    assert 6 not in site.course_enrolments[3]


def test_competencies(call):
    flt = lst({"column": "competencyframeworkid", "value": "1"})
    page = call("core_competency_list_competencies", filters=flt, sort="id", order="DESC", skip="1", limit="2")
    assert [c["id"] for c in page] == [3, 2]
    assert call("core_competency_count_competencies", filters=flt) == 4
    assert call("core_competency_list_competencies", filters=flt, order="UP")["errorcode"] == "invalidparameter"
    bad = lst({"column": "path", "value": "/0/"})
    assert call("core_competency_list_competencies", filters=bad)["errorcode"] == "invalidparameter"
    links = call("core_competency_list_course_competencies", id="2")
    assert [(x["competency"]["idnumber"], x["coursecompetency"]["ruleoutcome"]) for x in links] == \
        [("CEFR-A1", 3), ("DIGI-COMM-W", 1)]
    assert call("core_competency_list_course_competencies", id="4") == []
    fws = call("core_competency_list_competency_frameworks", context={"contextid": "1"}, sort="id")
    assert [(f["idnumber"], f["competenciescount"]) for f in fws] == [("DIGI", 4), ("CEFR", 2)]
    assert call("core_competency_read_competency", id="999")["errorcode"] == "invalidrecordunknown"


def test_grades(site, call):
    items = call("core_grades_get_gradeitems", courseid="2")["gradeItems"]
    assert [i["id"] for i in items] == ["2", "3"]
    assert call("core_grades_get_gradeitems", courseid="5")["gradeItems"] == []
    ok = call.raw("core_grades_update_grades", source="t", courseid="2", component="mod_assign", activityid="3",
                  itemnumber="0", grades=lst({"studentid": "6", "grade": "85", "str_feedback": "ignored"}))
    assert ok[2] == b"0" and site.grades[(2, 6)].rawgrade == 85.0
    denied = call("core_grades_update_grades", token=RESTRICTED_TOKEN, source="t", courseid="2",
                  component="mod_assign", activityid="3", itemnumber="0", grades=lst({"studentid": "6", "grade": "1"}))
    assert denied["errorcode"] == "nopermissiontoviewgrades"
    assert call("core_grades_update_grades", source="t", courseid="2", component="mod_quiz", activityid="3",
                itemnumber="0")["errorcode"] == "invalidcoursemodule"
    report = call("gradereport_user_get_grade_items", courseid="2", userid="0")["usergrades"]
    assert [u["userid"] for u in report] == [5, 6, 7, 8, 9]
    assert report[0]["gradeitems"][-1]["itemtype"] == "course"


def test_contents_completion(call):
    sections = call("core_course_get_contents", courseid="2", options=_opts(excludecontents=1))
    mods = [m for s in sections for m in s["modules"]]
    assert [(m["id"], m["completion"]) for m in mods] == [(1, 0), (2, 1), (3, 2), (4, 2)]
    assert "completiondata" not in mods[0] and mods[2]["completiondata"]["isautomatic"] is True
    assert call("core_course_get_contents", courseid="2", options=_opts(bogus=1))["errorcode"] == "errorinvalidparam"


def test_categories_and_reportbuilder(site, call):
    cats = call("core_course_get_categories")
    assert [c["id"] for c in cats] == [1, 2] and cats[0]["idnumber"] is None
    assert call("core_reportbuilder_retrieve_report", reportid="1")["errorcode"] == "invalidrecordunknown"
    report = site.add_report("Participants", ["User", "Course"], [["a", "b"], ["c", "d"], ["e", "f"]])
    body = call("core_reportbuilder_retrieve_report", reportid=str(report.id), page="1", perpage="2")
    assert body["data"]["rows"] == [{"columns": ["e", "f"]}] and body["data"]["totalrowcount"] == 3

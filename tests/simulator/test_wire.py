"""Wire layer: PHP bracket decoding, validate_parameters, clean_returnvalue, JSON encoding."""

from __future__ import annotations

import pytest

from connectors.moodle.simulator import decode_form
from connectors.moodle.simulator._encode import php_json
from connectors.moodle.simulator._errors import InvalidParameter, InvalidResponse
from connectors.moodle.simulator._schema import Node, build_cleaner, build_validator, load_registry

from sim_helpers import lst


@pytest.mark.parametrize("body, expected", [
    ("a=1", {"a": "1"}),
    ("a[0][b]=x&a[0][c]=y", {"a": {0: {"b": "x", "c": "y"}}}),
    ("a[]=x&a[]=y", {"a": {0: "x", 1: "y"}}),
    ("options[ids][0]=5&options[ids][1]=6", {"options": {"ids": {0: "5", 1: "6"}}}),
    ("a[5]=x&a[]=y", {"a": {5: "x", 6: "y"}}),
    ("a[1]=x&a[0]=y", {"a": {1: "x", 0: "y"}}),
    ("v=%25&w=a+b&x=%40", {"v": "%", "w": "a b", "x": "@"}),
    ("a=1&a=2", {"a": "2"}),
    ("a.b=1", {"a_b": "1"}),
])
def test_decode_form(body, expected):
    assert decode_form(body) == expected


def test_list_order_follows_insertion_not_index():
    validate = build_validator(Node("multiple", items=Node("value", param="PARAM_INT")))
    assert validate(decode_form("v[3]=1&v[0]=2")["v"]) == [1, 2]


REG = load_registry()


def _err(function, fields):
    with pytest.raises(InvalidParameter) as info:
        REG[function].validate(fields)
    return info.value.debuginfo


@pytest.mark.parametrize("function, fields, debuginfo", [
    ("core_course_get_courses", {"foo": "1"}, "Unexpected keys (foo) detected in parameter array."),
    ("core_user_get_users", {}, "Missing required key in single structure: criteria"),
    ("core_competency_list_competencies", {}, "Missing required key in single structure: filters"),
    ("core_enrol_get_users_courses", {"userid": "5", "returnusercount": "true"},
     'returnusercount => Invalid parameter value detected: Invalid external api parameter: '
     'the value is "true", the server was expecting "bool" type'),
    ("core_enrol_get_users_courses", {"userid": "1.0"},
     'userid => Invalid parameter value detected: Invalid external api parameter: '
     'the value is "1.0", the server was expecting "int" type'),
    ("core_user_get_users", {"criteria": "x"},
     "criteria => Invalid parameter value detected: Only arrays accepted. The bad value is: 'x'"),
    ("core_enrol_get_users_courses", {"userid": {0: "5"}},
     "userid => Invalid parameter value detected: Scalar type expected, array or object received."),
    ("core_course_update_courses", {"courses": lst({"id": "2", "visible": "abc"})},
     "courses => Invalid parameter value detected: visible => Invalid parameter value detected: "
     'Invalid external api parameter: the value is "abc", the server was expecting "int" type'),
    ("core_user_get_users", {"criteria": lst({"key": "email"})},
     "criteria => Invalid parameter value detected: Missing required key in single structure: value"),
])
def test_validation_errors(function, fields, debuginfo):
    assert _err(function, fields) == debuginfo


@pytest.mark.parametrize("value", ["12abc", "1.0", " 12", "", "007", "+5", "0x1A", "1e3"])
def test_int_strict_rejects(value):
    with pytest.raises(InvalidParameter):
        REG["core_enrol_get_users_courses"].validate({"userid": value})


@pytest.mark.parametrize("value, cleaned", [("12", 12), ("-3", -3), ("0", 0)])
def test_int_accepts(value, cleaned):
    assert REG["core_enrol_get_users_courses"].validate({"userid": value})["userid"] == cleaned


@pytest.mark.parametrize("value, ok", [("0", True), ("1", True), ("true", False), ("yes", False),
                                       ("on", False), ("", False), ("2", False)])
def test_bool_only_0_1(value, ok):
    spec = REG["core_enrol_get_users_courses"]
    if ok:
        assert spec.validate({"userid": "5", "returnusercount": value})["returnusercount"] is (value == "1")
    else:
        with pytest.raises(InvalidParameter):
            spec.validate({"userid": "5", "returnusercount": value})


@pytest.mark.parametrize("value, ok", [("85", True), ("85.5", True), ("-1.5e2", True), ("85,5", False),
                                       ("abc", False), ("", False)])
def test_float(value, ok):
    fields = {"source": "x", "courseid": "2", "component": "mod_assign", "activityid": "3", "itemnumber": "0",
              "grades": lst({"studentid": "5", "grade": value})}
    if ok:
        assert REG["core_grades_update_grades"].validate(fields)["grades"][0]["grade"] == float(value)
    else:
        with pytest.raises(InvalidParameter):
            REG["core_grades_update_grades"].validate(fields)


@pytest.mark.parametrize("param, value, ok", [
    ("PARAM_ALPHA", "email", True), ("PARAM_ALPHA", "e-mail", False), ("PARAM_ALPHANUMEXT", "a_b-1", True),
    ("PARAM_ALPHANUMEXT", "a b", False), ("PARAM_TEXT", "plain – text", True), ("PARAM_TEXT", "<b>x</b>", False),
    ("PARAM_NOTAGS", "a < b", True), ("PARAM_CLEANHTML", "<p>A &ndash; B</p>", False),
    ("PARAM_CLEANHTML", "<p>A – B</p>", True), ("PARAM_RAW", "<p>A &ndash; B</p>", True),
    ("PARAM_PLUGIN", "topics", True), ("PARAM_PLUGIN", "Topics", False), ("PARAM_COMPONENT", "mod_assign", True),
    ("PARAM_COMPONENT", "mod-assign", False),
])
def test_string_params(param, value, ok):
    validate = build_validator(Node("value", param=param))
    if ok:
        assert validate(value) == value
    else:
        with pytest.raises(InvalidParameter):
            validate(value)


def test_defaults_filled_and_optional_absent():
    params = REG["core_course_create_courses"].validate(
        {"courses": lst({"fullname": "F", "shortname": "S", "categoryid": "1"})})
    course = params["courses"][0]
    assert course["summaryformat"] == 1 and course["format"] == "topics" and course["defaultgroupingid"] == 0
    assert "idnumber" not in course and "visible" not in course
    assert REG["core_course_get_courses"].validate({}) == {"options": {}}
    assert REG["core_enrol_get_enrolled_users"].validate({"courseid": "2"})["options"] == []


def test_clean_order_drop_optional_types():
    clean = REG["core_course_get_courses"].clean
    row = {"showcompletionconditions": 1, "id": "7", "pdfexportfont": "x", "summaryformat": "1",
           "enddate": 0, "startdate": 5, "format": "topics", "summary": "<p>s</p>", "displayname": "D",
           "fullname": "F", "categoryid": 1, "shortname": 12, "showactivitydates": "0", "visible": True}
    out = clean([row])[0]
    assert list(out) == ["id", "shortname", "categoryid", "fullname", "displayname", "summary", "summaryformat",
                         "format", "startdate", "enddate", "visible", "showactivitydates", "showcompletionconditions"]
    assert out["id"] == 7 and out["shortname"] == "12" and out["visible"] == 1
    assert out["showactivitydates"] is False and out["showcompletionconditions"] is True
    assert "pdfexportfont" not in out and "idnumber" not in out


def test_clean_missing_required_and_null():
    clean = REG["core_competency_read_competency"].clean
    with pytest.raises(InvalidResponse) as info:
        clean({"id": 1})
    assert info.value.debuginfo == "Error in response - Missing following required key in a single structure: shortname"
    nullable = build_cleaner(Node("single", keys={"a": Node("value", param="PARAM_INT", req="optional")}))
    assert nullable({"a": None}) == {"a": None}
    strict = build_cleaner(Node("single", keys={"a": Node("value", param="PARAM_INT", nullable=False)}))
    with pytest.raises(InvalidResponse):
        strict({"a": None})


def test_clean_scalar_default_filled():
    clean = build_cleaner(Node("single", keys={"a": Node("value", param="PARAM_INT", req="default", default=3)}))
    assert clean({}) == {"a": 3}


def test_php_json_escapes():
    assert php_json({"u": "http://x/y", "n": "Müller", "e": [], "f": 85.0}) == \
        b'{"u":"http:\\/\\/x\\/y","n":"M\\u00fcller","e":[],"f":85.0}'

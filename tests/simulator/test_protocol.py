"""Processing order, token/service errors, error bodies, output formats (PROTOCOL §2-4)."""

from __future__ import annotations

import json

import pytest

from connectors.moodle.simulator import (EXPIRED_TOKEN, REDUCED_TOKEN, RESTRICTED_TOKEN,
                                         SUSPENDED_TOKEN, Token, create_app)


@pytest.mark.parametrize("token, code", [
    ("ffffffffffffffffffffffffffffffff", "invalidtoken"),
    (None, "invalidtoken"),
    (SUSPENDED_TOKEN, "wsaccessusersuspended"),
])
def test_token_errors(call, token, code):
    body = call("core_webservice_get_site_info", token=token)
    assert body["errorcode"] == code
    assert "debuginfo" not in body


def test_invalidtoken_body_exact(call):
    _, headers, body = call.raw("core_webservice_get_site_info", token="x")
    assert body == (b'{"exception":"core\\\\exception\\\\moodle_exception","errorcode":"invalidtoken",'
                    b'"message":"Invalid token - token not found"}')
    assert headers["content-type"] == "application/json"
    assert headers["access-control-allow-origin"] == "*" and headers["pragma"] == "no-cache"


def test_suspended_message_names_user(call):
    assert call("core_webservice_get_site_info", token=SUSPENDED_TOKEN)["message"] == \
        "Refused web service access for suspended username: wssuspended"


def test_expired_token_accessexception_then_invalidtoken(call):
    first = call("core_webservice_get_site_info", token=EXPIRED_TOKEN)
    assert (first["exception"], first["errorcode"]) == ("webservice_access_exception", "accessexception")
    assert call("core_webservice_get_site_info", token=EXPIRED_TOKEN)["errorcode"] == "invalidtoken"


def test_ip_restriction(site, call):
    site.add_token(Token("9" * 32, 2, iprestriction="10.0.0.0/8"))
    assert call("core_webservice_get_site_info", token="9" * 32)["errorcode"] == "accessexception"
    site.add_token(Token("8" * 32, 2, iprestriction="127.0.0.1"))
    assert call("core_webservice_get_site_info", token="8" * 32)["userid"] == 2


def test_unknown_function_depends_on_debug(call, dcall):
    off = call("core_competency_list_frameworks")
    assert (off["errorcode"], off["message"]) == ("invalidrecordunknown", "Can't find data record in database.")
    on = dcall("core_competency_list_frameworks")
    assert on["errorcode"] == "invalidrecord"
    assert on["message"] == "Can't find data record in database table external_functions."
    assert on["exception"] == "dml_missing_record_exception"


def test_missing_function_name(call):
    assert call.raw(None, fmt=None)[2].startswith(b'<?xml')
    body = json.loads(call.raw(None, fmt="json")[2])
    assert body["errorcode"] == "invalidparameter"


def test_function_not_in_service(call):
    body = call("core_competency_list_competencies", token=REDUCED_TOKEN,
                filters={0: {"column": "competencyframeworkid", "value": "1"}})
    assert body["errorcode"] == "accessexception"
    info = call("core_webservice_get_site_info", token=REDUCED_TOKEN)
    names = {f["name"] for f in info["functions"]}
    assert "core_competency_list_competencies" not in names and "core_course_get_courses" in names


def test_token_checked_before_function(call):
    assert call("core_nope", token="bad")["errorcode"] == "invalidtoken"


def test_unexpected_key_with_and_without_debug(call, dcall):
    assert call("core_course_get_courses", foo="1") == {
        "exception": "core\\exception\\invalid_parameter_exception", "errorcode": "invalidparameter",
        "message": "Invalid parameter value detected"}
    assert dcall("core_course_get_courses", foo="1")["debuginfo"] == \
        "Unexpected keys (foo) detected in parameter array."


def test_legacy_exception_style(site):
    from sim_helpers import Caller
    legacy = Caller(create_app(site, exception_style="legacy"))
    assert legacy("core_webservice_get_site_info", token="x")["exception"] == "moodle_exception"
    assert legacy("core_course_get_courses", foo="1")["exception"] == "invalid_parameter_exception"


def test_rest_disabled_403(site, call):
    site.rest_enabled = False
    status, _, body = call.raw("core_webservice_get_site_info")
    assert (status, body) == (403, b"")


def test_xml_when_format_missing_or_unknown(call):
    for fmt in (None, "foo"):
        status, headers, body = call.raw("core_competency_count_competencies", fmt=fmt,
                                         filters={0: {"column": "competencyframeworkid", "value": "1"}})
        assert headers["content-type"] == "application/xml; charset=utf-8"
        assert body == b'<?xml version="1.0" encoding="UTF-8" ?>\n<RESPONSE>\n<VALUE>4</VALUE>\n</RESPONSE>\n'


def test_xml_single_writes_every_key(call):
    body = call.raw("core_webservice_get_site_info", fmt="xml")[2].decode()
    assert '<KEY name="sitename"><VALUE>Tiny Moodle</VALUE>' in body
    assert '<KEY name="usersessionscount"><VALUE null="null"/>' in body


def test_xml_error(call):
    body = call.raw("core_webservice_get_site_info", token="x", fmt=None)[2].decode()
    assert '<EXCEPTION class="core\\exception\\moodle_exception">' in body
    assert "<ERRORCODE>invalidtoken</ERRORCODE>" in body


def test_scalar_and_null_bodies(call):
    assert call.raw("core_competency_count_competencies",
                    filters={0: {"column": "competencyframeworkid", "value": "2"}})[2] == b"2"
    assert call.raw("enrol_manual_enrol_users",
                    enrolments={0: {"roleid": "5", "userid": "9", "courseid": "5"}})[2] == b"null"


def test_site_info(call):
    info = call("core_webservice_get_site_info")
    assert (info["release"], info["version"], info["userid"]) == ("5.0 (Build: 20250414)", "2025041400", 2)
    assert info["userissiteadmin"] is True and len(info["functions"]) == 32
    restricted = call("core_webservice_get_site_info", token=RESTRICTED_TOKEN)
    assert len(restricted["functions"]) == 32 and restricted["userissiteadmin"] is False


def test_simulator_bug_never_crashes(site, call, monkeypatch):
    from connectors.moodle.simulator import _registry
    monkeypatch.setitem(_registry.IMPLEMENTATIONS, "core_course_get_categories",
                        lambda c, p: 1 / 0)
    body = call("core_course_get_categories")
    assert body["exception"] == "Error" and "errorcode" not in body

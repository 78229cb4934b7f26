"""The Moodle wire format: bracket encoding and error bodies → typed errors (by errorcode)."""

from __future__ import annotations

import httpx
import pytest

from connectors.moodle._transport import build_request, encode_params, parse_response
from engine.errors import (
    AccessDenied,
    AuthenticationFailed,
    BadResponse,
    PermissionMissing,
    RemoteError,
    RemoteInputInvalid,
    RemoteNotFound,
    RemoteServerError,
)
from engine.transport import NULL

ENCODING = [
    ({"courseid": 42}, [("courseid", "42")]),
    ({"values": ["a", "b"]}, [("values[0]", "a"), ("values[1]", "b")]),
    ({"users": [{"username": "j", "email": "j@x.org"}]}, [("users[0][username]", "j"), ("users[0][email]", "j@x.org")]),
    ({"options": {"ids": [5, 6]}}, [("options[ids][0]", "5"), ("options[ids][1]", "6")]),
    ({"criteria": [{"key": "email", "value": "%"}]}, [("criteria[0][key]", "email"), ("criteria[0][value]", "%")]),
    ({"onlyactive": True, "x": False}, [("onlyactive", "1"), ("x", "0")]),
    ({"grade": 85.0, "g2": 85.5}, [("grade", "85"), ("g2", "85.5")]),
    ({"context": {"contextid": 1}}, [("context[contextid]", "1")]),
    ({"empty": [], "nested": {}}, []),
]


@pytest.mark.parametrize(("params", "expected"), ENCODING)
def test_bracket_encoding(params, expected):
    assert encode_params(params) == expected


def test_null_parameter_is_refused():
    with pytest.raises(ValueError, match=r"parameter a\[0\] is null"):
        encode_params({"a": [None]})


def test_request_is_a_form_post_with_the_token_in_the_body_only():
    req = build_request("https://moodle.example/", "TOKEN123", "core_course_get_courses", {"options": {"ids": [2]}})
    assert req.method == "POST"
    assert str(req.url) == "https://moodle.example/webservice/rest/server.php"
    assert "TOKEN123" not in str(req.url)
    body = req.content.decode()
    assert "wstoken=TOKEN123" in body and "wsfunction=core_course_get_courses" in body
    assert "moodlewsrestformat=json" in body and "options%5Bids%5D%5B0%5D=2" in body
    assert req.headers["content-type"] == "application/x-www-form-urlencoded"


def _json(body: str, status: int = 200, ctype: str = "application/json") -> httpx.Response:
    return httpx.Response(status, content=body.encode(), headers={"Content-type": ctype})


ERRORS = [
    ('{"exception":"moodle_exception","errorcode":"invalidtoken","message":"Invalid token - token not found"}', AuthenticationFailed, "invalidtoken"),
    ('{"exception":"moodle_exception","errorcode":"wsaccessusersuspended","message":"Refused"}', AuthenticationFailed, "wsaccessusersuspended"),
    ('{"exception":"webservice_access_exception","errorcode":"accessexception","message":"Access control exception"}', AccessDenied, "accessexception"),
    ('{"exception":"core\\\\exception\\\\required_capability_exception","errorcode":"nopermissions","message":"Sorry"}', PermissionMissing, "nopermissions"),
    ('{"exception":"moodle_exception","errorcode":"errorcoursecontextnotvalid","message":"You cannot"}', PermissionMissing, "errorcoursecontextnotvalid"),
    ('{"exception":"core\\\\exception\\\\invalid_parameter_exception","errorcode":"invalidparameter","message":"Invalid parameter value detected"}', RemoteInputInvalid, "invalidparameter"),
    ('{"exception":"dml_missing_record_exception","errorcode":"invalidrecordunknown","message":"Can\'t find data record in database."}', RemoteNotFound, "invalidrecordunknown"),
    ('{"exception":"dml_missing_record_exception","errorcode":"invalidrecord","message":"Can\'t find data record"}', RemoteNotFound, "invalidrecord"),
    ('{"exception":"dml_read_exception","errorcode":"dmlreadexception","message":"Error reading from database"}', RemoteServerError, None),
    ('{"exception":"moodle_exception","errorcode":"somethingnew","message":"?"}', RemoteError, "somethingnew"),
    ('{"exception":"Error","message":"Attempt to assign property on null"}', RemoteError, None),
    ('{"exception":"moodle_exception","errorcode":"<div>Passwords must be at least 8 characters long.</div>","message":"x"}', RemoteError, "<div>Passwords must be at least 8 characters long.</div>"),
]


@pytest.mark.parametrize(("body", "cls", "code"), ERRORS)
def test_error_bodies_become_typed_errors(body, cls, code):
    with pytest.raises(cls) as info:
        parse_response("core_x", _json(body))
    assert type(info.value) is cls
    if code is not None:
        assert info.value.code == code
    assert "core_x" in str(info.value)


def test_error_message_keeps_debuginfo():
    body = '{"exception":"x","errorcode":"invalidparameter","message":"Invalid parameter value detected","debuginfo":"courseid => bad"}'
    with pytest.raises(RemoteInputInvalid, match="courseid => bad"):
        parse_response("f", _json(body))


@pytest.mark.parametrize(
    ("response", "match"),
    [
        (_json('{"users": ['), "invalid or truncated JSON"),
        (_json("<html><title>503 Service Unavailable</title></html>", 200, "text/html"), "HTML page instead of JSON .503 Service"),
        (_json("<!DOCTYPE html><p>oops</p>", 200, "application/json"), "HTML page"),
        (_json('<?xml version="1.0"?><RESPONSE/>', 200, "application/xml; charset=utf-8"), "XML answer"),
    ],
)
def test_garbage_is_a_bad_response(response, match):
    with pytest.raises(BadResponse, match=match):
        parse_response("f", response)


def test_rest_disabled_403_and_redirects():
    with pytest.raises(AccessDenied, match="REST protocol are disabled"):
        parse_response("f", httpx.Response(403, content=b""))
    with pytest.raises(RemoteError, match="wwwroot"):
        parse_response("f", httpx.Response(303, headers={"Location": "http://127.0.0.1/x"}))


def test_payload_shapes():
    assert parse_response("f", _json("null")) is NULL
    assert parse_response("f", _json("0")) == 0
    assert parse_response("f", _json('[{"id": 1, "url": "http:\\/\\/x\\/y", "n": "M\\u00fcller"}]')) == [{"id": 1, "url": "http://x/y", "n": "Müller"}]

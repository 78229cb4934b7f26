"""Settings schema, URL normalisation and integration life-cycle helpers."""

import pytest

from connectors.moodle.plugin import normalize_site_url
from engine.connector import SettingsError, check_settings, parse_setting
from engine.plugins import connectors, get_plugin_manager

MOODLE = connectors(get_plugin_manager())["moodle"]


@pytest.mark.parametrize("url, root", [
    ("https://m.example/webservice/rest/server.php", "https://m.example"),
    ("https://m.example/moodle/login/index.php?x=1", "https://m.example/moodle"),
    ("https://m.example/moodle//", "https://m.example/moodle"),
    ("http://m.example", "http://m.example"),
])
def test_url_normalisation(url, root):
    assert normalize_site_url(url)[0] == root


@pytest.mark.parametrize("url", ["ftp://x", "https://a:b@x.example", "not a url"])
def test_bad_url(url):
    with pytest.raises(ValueError):
        normalize_site_url(url)


@pytest.mark.parametrize("key, raw, value", [("student_role_id", "7", 7), ("course_category_id", "2", 2), ("page_size", "50", 50)])
def test_valid_setting(key, raw, value):
    assert parse_setting(MOODLE, key, raw) == value
    assert check_settings(MOODLE, {key: value}) == {key: value}


@pytest.mark.parametrize("key, raw, message", [
    ("studnt_role_id", "5", "unknown setting 'studnt_role_id' for the moodle connector; did you mean 'student_role_id'?"),
    ("course_category_id", "abc", "setting course_category_id='abc': expected an integer"),
])
def test_invalid_setting(key, raw, message):
    with pytest.raises(SettingsError, match=message.replace("?", r"\?")):
        parse_setting(MOODLE, key, raw)


def test_check_settings_refuses_ill_typed():
    with pytest.raises(SettingsError, match="student_role_id"):
        check_settings(MOODLE, {"student_role_id": 0})

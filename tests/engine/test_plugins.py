"""Plugin discovery and validation: misspelled hooks fail at start-up; names cannot clash."""

from __future__ import annotations

import pytest
from jmespath.functions import signature
from pluggy import PluginValidationError

from engine.connector import ConnectorInfo
from engine.errors import ActionNotAvailable, LmsyncError
from engine.hookspecs import hookimpl
from engine.plugins import connectors, get_plugin_manager, make_plugin_manager
from engine.spec import function_set
from engine.store.base import Integration


class Misspelled:
    @hookimpl
    def lmsync_conectors(self):  # one "n": not a hook
        return []


class WrongArgs:
    @hookimpl
    def lmsync_build_request(self, integration, call, params, extra):
        return None


class DuplicateConnector:
    @hookimpl
    def lmsync_connectors(self):
        return [ConnectorInfo(name="moodle", label="again", mappings=None)]


class DuplicateFunction:
    @hookimpl
    def lmsync_jmespath_functions(self):
        @signature({"types": []})
        def key(x):
            return x

        return {"key": key}


def test_misspelled_hook_fails_at_start_up():
    with pytest.raises(PluginValidationError, match="lmsync_conectors"):
        make_plugin_manager([Misspelled()])


def test_hook_with_unknown_arguments_fails_at_start_up():
    with pytest.raises(PluginValidationError, match="extra"):
        make_plugin_manager([WrongArgs()])


def test_connectors_come_from_entry_points():
    assert "moodle" in connectors(get_plugin_manager())


def test_two_connectors_with_one_name_are_an_error():
    with pytest.raises(LmsyncError, match="connector 'moodle' is provided by two plugins"):
        connectors(make_plugin_manager([DuplicateConnector()]))


def test_two_functions_with_one_name_are_an_error():
    with pytest.raises(LmsyncError, match=r"key\(\) is defined by two plugins"):
        function_set(make_plugin_manager([DuplicateFunction()]))


def test_builtin_defaults_answer_for_unknown_connectors():
    pm = make_plugin_manager(entry_points=False)
    other = Integration(id="x:1", connector="x", base_url="https://x", credentials={"token": "abc"})
    with pytest.raises(ActionNotAvailable, match="x connector does not implement the enroll action"):
        pm.hook.lmsync_run_action(integration=other, transport=None, action="enroll", payload={})
    assert pm.hook.lmsync_redact(integration=other, text="t=abc") == "t=[REDACTED]"

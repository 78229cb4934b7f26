"""The Moodle connector: hook implementations registered under the ``lmsync`` entry point."""

from __future__ import annotations

from importlib import resources
from typing import Any

import httpx

from connectors.moodle import _transport
from connectors.moodle._functions import FUNCTIONS
from engine.connector import ConnectorInfo
from engine.hookspecs import hookimpl
from engine.store.base import Integration

NAME = "moodle"


def _mine(integration: Integration) -> bool:
    return integration.connector == NAME


@hookimpl
def lmsync_connectors() -> list[ConnectorInfo]:
    """Moodle 5.x through its REST web services."""
    return [
        ConnectorInfo(
            name=NAME,
            label="Moodle",
            mappings=resources.files("mappings").joinpath("moodle"),
            credential_names=("token",),
            default_settings={"student_role_id": 5, "course_category_id": 1, "page_size": 1000},
        )
    ]


@hookimpl
def lmsync_jmespath_functions() -> dict[str, Any]:
    """``moodle_time``, ``moodle_bool``, ``moodle_text``."""
    return dict(FUNCTIONS)


@hookimpl
def lmsync_build_request(integration: Integration, call: str, params: dict[str, Any]) -> httpx.Request | None:
    """A form-encoded POST to ``/webservice/rest/server.php`` with the token in the body."""
    if not _mine(integration):
        return None
    return _transport.build_request(integration.base_url, integration.credentials["token"], call, params)


@hookimpl
def lmsync_parse_response(integration: Integration, call: str, response: httpx.Response) -> Any:
    """JSON payload, or the typed error of a Moodle error body / garbage."""
    if not _mine(integration):
        return None
    return _transport.parse_response(call, response)

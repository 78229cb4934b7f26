"""A minimal connector plugin for engine tests: GET {base_url}/{call}?params, token header."""

from __future__ import annotations

from pathlib import Path

import httpx

from engine.connector import ConnectorInfo
from engine.hookspecs import hookimpl


class FakePlugin:
    """Connector "fake": its specs live in *mappings*; requests go to the integration's URL."""

    def __init__(self, mappings: Path) -> None:
        self.mappings = mappings

    @hookimpl
    def lmsync_connectors(self):
        return [ConnectorInfo(name="fake", label="Fake", mappings=self.mappings)]

    @hookimpl
    def lmsync_build_request(self, integration, call, params):
        if integration.connector != "fake":
            return None
        headers = {"X-Token": integration.credentials["token"]} if "token" in integration.credentials else {}
        return httpx.Request("GET", f"{integration.base_url}/{call}", params=params, headers=headers)

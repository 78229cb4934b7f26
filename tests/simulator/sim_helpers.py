"""Helpers shared by the simulator tests (in-process caller, PHP list literal)."""

from __future__ import annotations

import json
from typing import Any

from connectors.moodle.simulator import ADMIN_TOKEN, MoodleApp


class Caller:
    """Calls the app in-process (no HTTP) with bracket-encoded form fields."""

    def __init__(self, app: MoodleApp) -> None:
        self.app = app

    def raw(self, function: str | None, token: str | None = ADMIN_TOKEN, fmt: str | None = "json",
            **params: Any) -> tuple[int, dict, bytes]:
        fields: dict[str, Any] = dict(params)
        if token is not None:
            fields["wstoken"] = token
        if function is not None:
            fields["wsfunction"] = function
        if fmt is not None:
            fields["moodlewsrestformat"] = fmt
        status, headers, body = self.app.handle(fields)
        return status, {k.decode().lower(): v.decode() for k, v in headers}, body

    def __call__(self, function: str, token: str = ADMIN_TOKEN, **params: Any) -> Any:
        status, _, body = self.raw(function, token, **params)
        assert status == 200
        return json.loads(body)


def lst(*items: Any) -> dict:
    """A PHP list as decoded from `x[0]=..&x[1]=..`."""
    return {i: item for i, item in enumerate(items)}

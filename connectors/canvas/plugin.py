"""The Canvas LMS connector: hook implementations registered under the ``lmsync`` entry point.

Canvas's REST API (``/api/v1``) with a bearer access token (an admin's token, or a developer
key's token with the scopes ``lmsync scope-test`` lists). Calls are endpoint templates
(``"GET /api/v1/accounts/{account_id}/users"``); the transport is in ``_transport``, error
mapping in ``_errors``, actions in ``_actions``, passthrough in ``_passthrough`` and scope
testing in ``_scope``. See docs/canvas.md.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from importlib import resources
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import typer

from connectors.canvas import _actions, _transport
from connectors.canvas._functions import FUNCTIONS
from engine.connector import ConnectorInfo, DemoSite
from engine.hookspecs import hookimpl
from engine.store.base import Integration
from engine.transport import Transport

__all__ = ["NAME", "SETTINGS_SCHEMA", "DEFAULT_SETTINGS", "KNOWN_CALLS", "normalize_site_url", "known_calls"]

NAME = "canvas"

SETTINGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "account_id": {"type": "string", "default": "1", "pattern": r"^(self|\d+|sis_account_id:.+)$",
                       "description": "the account whose users, courses and outcomes are read: an id, 'self' (the "
                                      "token's root account) or sis_account_id:X (sub-accounts' courses are included)"},
        "per_page": {"type": "integer", "minimum": 1, "maximum": 100, "default": 100,
                     "description": "records asked for per page (Canvas caps most lists at 100)"},
        "login_status": {"type": "boolean", "default": True,
                         "description": "read each user's logins for ACTIVE/INACTIVE (one call per user); false: "
                                        "status null, users in ⌈U/per_page⌉ calls (mappings/canvas/users.nologins.yaml)"},
        "student_role_id": {"type": "integer", "minimum": 1,
                            "description": "a custom course role based on StudentEnrollment given by the enroll action "
                                           "(default: the built-in Student role)"},
    },
}
DEFAULT_SETTINGS: dict[str, Any] = {"account_id": "1", "per_page": 100, "login_status": True}

# Every endpoint the mappings, actions and scope test call (what a mapping may name).
KNOWN_CALLS: frozenset[str] = frozenset({
    "GET /api/v1/users/self",
    "GET /api/v1/accounts/{account_id}",
    "GET /api/v1/accounts/{account_id}/permissions",
    "GET /api/v1/accounts/{account_id}/users",
    "GET /api/v1/users/{user_id}/logins",
    "GET /api/v1/accounts/{account_id}/outcome_group_links",
    "GET /api/v1/accounts/{account_id}/courses",
    "POST /api/v1/accounts/{account_id}/courses",
    "GET /api/v1/courses/{course_id}",
    "PUT /api/v1/courses/{course_id}",
    "GET /api/v1/courses/{course_id}/outcome_group_links",
    "GET /api/v1/courses/{course_id}/enrollments",
    "POST /api/v1/courses/{course_id}/enrollments",
    "DELETE /api/v1/courses/{course_id}/enrollments/{enrollment_id}",
    "GET /api/v1/courses/{course_id}/bulk_user_progress",
})
# pages a user may paste instead of the site root: everything from the match on is dropped
_SITE_PAGE = re.compile(r"/(api|login|courses|accounts|users|profile|dashboard)(/.*)?$")


def _mine(integration: Integration) -> bool:
    return integration.connector == NAME


def known_calls() -> frozenset[str]:
    """The Canvas endpoint templates this connector calls."""
    return KNOWN_CALLS


def normalize_site_url(url: str) -> tuple[str, str]:
    """The Canvas root of a pasted URL (``…/api/v1``, ``…/login/canvas``, ``…/courses/12``, a
    query string, trailing slashes) and a note of what was dropped; ``ValueError`` when it is
    not an http(s) URL or carries credentials."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an http(s) URL (expected e.g. https://school.instructure.com)")
    if parts.username or parts.password:
        raise ValueError("the site URL must not carry a user name or password; pass the token with --token")
    path = _SITE_PAGE.sub("", parts.path.rstrip("/")).rstrip("/")
    root = urlunsplit((parts.scheme, parts.netloc, path, "", ""))
    changed = path != parts.path.rstrip("/") or parts.query or parts.fragment
    return root, (f"using the site root {root} (from {url.strip()})" if changed else "")


@hookimpl
def lmsync_connectors() -> list[ConnectorInfo]:
    """Canvas LMS through its REST API."""
    return [
        ConnectorInfo(
            name=NAME,
            label="Canvas LMS",
            mappings=resources.files("mappings").joinpath("canvas"),
            credential_names=("token",),
            default_settings=dict(DEFAULT_SETTINGS),
            settings_schema=SETTINGS_SCHEMA,
            normalize_url=normalize_site_url,
            known_calls=KNOWN_CALLS,
        )
    ]


@hookimpl
def lmsync_jmespath_functions() -> dict[str, Any]:
    """``canvas_time``, ``canvas_name``."""
    return dict(FUNCTIONS)


@hookimpl
def lmsync_build_request(integration: Integration, call: str, params: dict[str, Any]) -> httpx.Request | None:
    """The endpoint's request with the token in the ``Authorization`` header only."""
    if not _mine(integration):
        return None
    return _transport.build_request(integration.base_url, integration.credentials["token"], call, params)


@hookimpl
def lmsync_parse_response(integration: Integration, call: str, response: httpx.Response) -> Any:
    """JSON payload (lists with their next-page link), or the typed error of a Canvas answer."""
    if not _mine(integration):
        return None
    return _transport.parse_response(call, response)


@hookimpl
def lmsync_passthrough(integration: Integration, transport: Any, request: dict[str, Any]) -> dict[str, Any] | None:
    """A raw request under ``/api/v1`` of the integration's own Canvas site, token injected and redacted."""
    if not _mine(integration):
        return None
    from connectors.canvas._passthrough import passthrough

    return passthrough(integration, transport.client, request, transport.redact)


@hookimpl
def lmsync_scope_test(integration: Integration, transport: Any, needs: dict[str, list[str]]) -> Any:
    """Probe each needed endpoint: missing developer-key scopes and account permissions (``_scope``)."""
    if not _mine(integration):
        return None
    from connectors.canvas._scope import scope_test

    return scope_test(integration, transport, needs)


@hookimpl
def lmsync_action_requirements(connector: str) -> dict[str, list[str]] | None:
    """The Canvas endpoints each write action calls."""
    return {k: list(v) for k, v in _actions.REQUIREMENTS.items()} if connector == NAME else None


@hookimpl
def lmsync_run_action(integration: Integration, transport: Transport, action: str, payload: dict[str, Any]) -> dict[str, Any] | None:
    """Course upsert, deactivation (unpublish), enrollment and completion (conclude) on the Canvas site."""
    if not _mine(integration):
        return None
    return _actions.run_action(integration, transport, action, payload)


@hookimpl
def lmsync_demo_site(connector: str | None, port: int) -> AbstractContextManager[DemoSite] | None:
    """The Canvas simulator with a generated site, only when asked for by name (the default demo
    stays the Moodle one)."""
    if connector != NAME:
        return None
    return _demo_site(port)


@contextlib.contextmanager
def _demo_site(port: int) -> Iterator[DemoSite]:
    from connectors.canvas.simulator import ADMIN_TOKEN, CanvasSite, create_app, run_in_thread

    site = CanvasSite.generate(seed=0, users=200, courses=20, enrolments_per_course=15)
    with run_in_thread(create_app(site), port=port) as base_url:
        yield DemoSite(connector=NAME, base_url=base_url, credentials={"token": ADMIN_TOKEN}, label="embedded Canvas simulator")


@hookimpl
def lmsync_cli_commands(app: typer.Typer) -> None:
    """``lmsync canvas-sim``: run the Canvas simulator standalone."""
    @app.command("canvas-sim", add_help_option=False,
                 context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
    def canvas_sim(ctx: typer.Context) -> None:
        """Run the Canvas simulator (options: --port, --tiny, --users, --courses, …; see --help)."""
        from connectors.canvas.simulator._server import main

        raise typer.Exit(main(list(ctx.args), prog="lmsync canvas-sim"))


@hookimpl
def lmsync_connect_instructions(connector: str, language: str) -> list[dict[str, Any]] | None:
    """A minimal guide for the Connect page: an admin's access token (English only)."""
    if connector != NAME:
        return None
    return [
        {"title": "Create an access token",
         "text": "Sign in to Canvas as an account admin (a dedicated service user is best). Account > Settings > "
                 "Approved Integrations > New Access Token: purpose lmsync, no expiry date. Copy the token and "
                 "paste it below.", "items": [], "copy": False},
    ]

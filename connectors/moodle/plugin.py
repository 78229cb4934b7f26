"""The Moodle connector: hook implementations registered under the ``lmsync`` entry point."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import AbstractContextManager
from importlib import resources
from typing import Any

import httpx
import typer

from connectors.moodle import _actions, _transport
from connectors.moodle._functions import FUNCTIONS
from engine.connector import ConnectorInfo, DemoSite
from engine.hookspecs import hookimpl
from engine.store.base import Integration
from engine.transport import Transport

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


@hookimpl
def lmsync_passthrough(integration: Integration, transport: Any, request: dict[str, Any]) -> dict[str, Any] | None:
    """A raw request to the integration's own Moodle site, token injected and redacted."""
    if not _mine(integration):
        return None
    from connectors.moodle._passthrough import passthrough

    return passthrough(integration, transport.client, request, transport.redact)


@hookimpl
def lmsync_scope_test(integration: Integration, transport: Any, needs: dict[str, list[str]]) -> Any:
    """Probe what the token's service offers and what its user may do (``_scope``)."""
    if not _mine(integration):
        return None
    from connectors.moodle._scope import scope_test

    return scope_test(integration, transport, needs)


@hookimpl
def lmsync_action_requirements(connector: str) -> dict[str, list[str]] | None:
    """The Moodle functions each write action calls."""
    return {k: list(v) for k, v in _actions.REQUIREMENTS.items()} if connector == NAME else None


@hookimpl
def lmsync_run_action(integration: Integration, transport: Transport, action: str, payload: dict[str, Any]) -> dict[str, Any] | None:
    """Course upsert, deactivation, enrolment and completion on the Moodle site."""
    if not _mine(integration):
        return None
    return _actions.run_action(integration, transport, action, payload)


@hookimpl
def lmsync_cli_commands(app: typer.Typer) -> None:
    """``lmsync moodle-sim``: run the Moodle simulator standalone."""

    @app.command("moodle-sim", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
    def moodle_sim(ctx: typer.Context) -> None:
        """Run the Moodle simulator (options: --port, --users, --courses, --enrolments-per-course,
        --seed, --latency-ms, --fault-rate, --debug, --tiny; see --help)."""
        from connectors.moodle.simulator import main

        raise typer.Exit(main(list(ctx.args)))


@hookimpl
def lmsync_demo_site(connector: str | None) -> AbstractContextManager[DemoSite] | None:
    """The embedded Moodle simulator: a deterministic generated site on a loopback port."""
    if connector not in (None, NAME):
        return None
    return _demo_site()


@contextlib.contextmanager
def _demo_site() -> Iterator[DemoSite]:
    from connectors.moodle.simulator import ADMIN_TOKEN, MoodleSite, create_app, run_in_thread

    site = MoodleSite.generate(seed=0, users=200, courses=20, enrolments_per_course=15)
    with run_in_thread(create_app(site)) as base_url:
        yield DemoSite(connector=NAME, base_url=base_url, credentials={"token": ADMIN_TOKEN}, label="embedded Moodle simulator")

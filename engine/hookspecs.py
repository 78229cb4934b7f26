"""Hook specifications: everything a connector plugin (and the engine's own built-ins) can supply.

A connector is a module registered under the ``lmsync`` entry-point group. Its hook
implementations are marked with ``engine.hookimpl``. Several connectors live in one plugin
manager, so every connector-specific hook receives the ``connector`` name (or an integration,
whose ``connector`` attribute names it) and returns ``None`` when it is not about that connector;
``firstresult`` hooks then fall through to the next implementation and finally to the engine's
built-in default (registered with ``trylast``).

Phases, in the order the engine uses them:

1. Discovery — at start-up (``lmsync_connectors``, ``lmsync_jmespath_functions``,
   ``lmsync_cli_commands``, ``lmsync_demo_site``).
2. Transport — on every remote call (``lmsync_build_request``, ``lmsync_parse_response``).
3. Sync lifecycle — around each run (``lmsync_sync_started``, ``lmsync_sync_finished``).
4. Actions — on a write request (``lmsync_action_requirements``, ``lmsync_run_action``).
5. Passthrough and scope — on demand (``lmsync_passthrough``, ``lmsync_scope_test``).
6. Connect page — when an end user opens a Connect link (``lmsync_connect_instructions``,
   ``lmsync_connect_warnings``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    import httpx
    import typer

    from engine.connector import ConnectorInfo, DemoSite, ScopeReport
    from engine.store.base import Integration, SyncRun
    from engine.transport import Transport

__all__ = ["hookspec", "hookimpl", "PROJECT"]

PROJECT = "lmsync"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --- 1. discovery ---------------------------------------------------------------------------


@hookspec
def lmsync_connectors() -> list[ConnectorInfo]:
    """Called once at start-up. Return the connectors this plugin provides.

    Each ``ConnectorInfo`` names the connector, where its mapping specs live and its default
    settings. Every plugin's list is concatenated; two connectors with one name are an error.
    """


@hookspec
def lmsync_jmespath_functions() -> dict[str, Any]:
    """Called once at start-up, before any mapping spec is compiled.

    Return ``{name: function}`` for custom JMESPath functions; each function must be decorated
    with ``jmespath.functions.signature``. Names from all plugins are merged; a name defined
    twice is an error. Specs that use a function nobody defines fail to load.
    """


@hookspec
def lmsync_cli_commands(app: typer.Typer) -> None:
    """Called once when the command line starts: add connector-specific commands to *app*
    (e.g. a simulator of the remote system)."""


@hookspec(firstresult=True)
def lmsync_demo_site(connector: str | None, port: int) -> AbstractContextManager[DemoSite] | None:
    """Called by ``lmsync demo`` and by ``lmsync sync`` when no integration exists yet.

    Return a context manager that starts a local stand-in of the remote system (a simulator)
    listening on loopback *port* (0: any free port; the caller passes the port the demo
    integration used before, so URLs inside records stay the same) and yields a ``DemoSite``
    (connector, base URL, credentials) until it exits; ``None`` if you have none or
    *connector* names another connector. Raise ``OSError`` if *port* is taken."""


# --- 2. transport ----------------------------------------------------------------------------


@hookspec(firstresult=True)
def lmsync_build_request(integration: Integration, call: str, params: dict[str, Any]) -> httpx.Request | None:
    """Called for every remote call, before it is sent (and again for each retry).

    Turn the logical call (a function or endpoint name plus structured parameters, as written
    in a mapping spec or by an action) into an ``httpx.Request`` carrying the credentials.
    The pages after the first of a ``next_url`` stream come as ``{"__url__": url}``
    (``engine.spec.NEXT_URL_PARAM``): send that URL as given, after checking it is on the
    integration's site. Return ``None`` if *integration* is not yours.
    """


@hookspec(firstresult=True)
def lmsync_parse_response(integration: Integration, call: str, response: httpx.Response) -> Any:
    """Called for every answer that is not a transient failure (HTTP 5xx/429 are retried first).

    Return the decoded payload, or raise an ``engine.errors`` ``RemoteError`` subclass for an
    error body, ``BadResponse`` for garbage. Never put credentials into an exception message.
    Return ``None`` only if *integration* is not yours (a payload that is JSON ``null`` must be
    returned as ``engine.transport.NULL``).
    """


@hookspec(firstresult=True)
def lmsync_redact(integration: Integration, text: str) -> str | None:
    """Called before a URL, request or message that may carry credentials is logged, stored
    or returned. Return *text* with every secret of *integration* replaced, or ``None`` if not
    yours (the built-in default then replaces every credential value it knows)."""


# --- 3. sync lifecycle -----------------------------------------------------------------------


@hookspec
def lmsync_sync_started(integration: Integration, run: SyncRun) -> None:
    """Called after a run acquired the integration's lock, before the first remote call."""


@hookspec
def lmsync_sync_finished(integration: Integration, run: SyncRun, changed_models: list[str], store: Any) -> None:
    """Called after a run's outcome is stored (succeeded or failed). *changed_models* lists
    the models with created, updated or deleted records; *store* is the ``Store`` the run
    wrote to. Webhook delivery (``engine.webhooks``) hangs off this. Must not raise."""


# --- 4. actions ------------------------------------------------------------------------------


@hookspec
def lmsync_action_requirements(connector: str) -> dict[str, list[str]] | None:
    """Called by scope testing. Return ``{action: [remote functions it calls]}`` for the
    actions your connector implements, or ``None`` if *connector* is not yours. Action names:
    ``upsert_course``, ``deactivate_course``, ``enroll``, ``complete``."""


@hookspec(firstresult=True)
def lmsync_run_action(
    integration: Integration, transport: Transport, action: str, payload: dict[str, Any]
) -> dict[str, Any] | None:
    """Called when a client asks for a write action, after the engine validated *payload*
    against ``schemas/`` and resolved lmsync ids to remote ids (``payload`` carries both).

    Perform it against the remote and return ``{"remote_id": <remote id of the record the action
    produced: the course, or the progression>, "refresh": [{"model": m, "remote_ids": [...],
    "parents": {model: [parent records in the fan-out keep shape]}}], "warnings": [str]}``; the
    engine re-reads each ``refresh`` entry (``SyncEngine.refresh``) so reads show the new state
    at once (see ``engine.actions``). Raise ``ActionInputInvalid`` for input the remote cannot
    take (before writing anything) and let ``RemoteError``s propagate. Return ``None`` if
    *integration* is not yours; the built-in default raises ``ActionNotAvailable``.
    """


# --- 5. passthrough and scope ----------------------------------------------------------------


@hookspec(firstresult=True)
def lmsync_passthrough(integration: Integration, transport: Transport, request: dict[str, Any]) -> dict[str, Any] | None:
    """Called for a raw passthrough request ``{method, path, params, data, headers}``.

    Return ``{url, status, headers, data}`` with credentials redacted. Refuse (raise
    ``ActionInputInvalid``) any path that would leave the integration's own site. Return
    ``None`` if not yours; the built-in default raises ``ActionNotAvailable``.
    """


@hookspec(firstresult=True)
def lmsync_scope_test(integration: Integration, transport: Transport, needs: dict[str, list[str]]) -> ScopeReport | None:
    """Called by ``lmsync scope-test`` and the scope endpoint. *needs* maps every model and
    action to the remote functions it needs (from the mapping specs and
    ``lmsync_action_requirements``). Probe the remote and return a ``ScopeReport``; ``None``
    if not yours."""


# --- 6. connect page -------------------------------------------------------------------------


@hookspec(firstresult=True)
def lmsync_connect_instructions(connector: str, language: str) -> list[dict[str, Any]] | None:
    """Called by the Connect page (``/connect/{token}``) each time it shows the credentials step,
    after the end user chose *connector* and gave the site URL. Return the steps the LMS admin
    follows to create the credentials, in order, each ``{"title": str, "text": str,
    "items": [str], "copy": bool}`` (*items*: names to type in, e.g. functions or permissions;
    *copy*: offer a copy button for them), in *language* (``en``, ``de``, …; fall back to
    English). Plain text only: the page escapes everything. ``None`` if *connector* is not yours."""


@hookspec
def lmsync_connect_warnings(connector: str, remote_info: dict[str, Any]) -> list[str] | None:
    """Called by the Connect page after the credentials passed the scope test, with the
    ``remote_info`` of its ``ScopeReport`` (what the remote said about itself, e.g. its release).
    Return warnings the end user should read but that do not stop the connection (e.g. an
    untested version of the remote), or ``None`` if *connector* is not yours."""

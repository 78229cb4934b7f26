"""The Moodle connector: hook implementations registered under the ``lmsync`` entry point."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from contextlib import AbstractContextManager
import json
import re
from importlib import resources
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import typer

from connectors.moodle import _actions, _transport
from connectors.moodle._functions import FUNCTIONS
from connectors.moodle._report_functions import REPORT_FUNCTIONS
from engine.connector import ConnectorInfo, DemoSite
from engine.hookspecs import hookimpl
from engine.store.base import Integration
from engine.transport import Transport

NAME = "moodle"

# The settings the Moodle mappings and actions read (``_moodle_ids.setting``, ``_scope``).
SETTINGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "student_role_id": {"type": "integer", "minimum": 1, "default": 5,
                            "description": "role id given by enrolments (Moodle's 'student' is 5)"},
        "course_category_id": {"type": "integer", "minimum": 1, "default": 1,
                               "description": "category of courses created by the upsert action"},
        "page_size": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 1000,
                      "description": "records asked for per paged call"},
        "enrolment_report_id": {"type": "integer", "minimum": 1,
                                "description": "a 'Course participants' custom report: course_progressions is read "
                                               "from it (the report route, for large sites; see docs/connect-moodle.md)"},
        "report_page_size": {"type": "integer", "minimum": 100, "maximum": 100000, "default": 10000,
                             "description": "report rows per call (each call re-runs the report's query: "
                                            "~2.2 s of Moodle time per 10,000 rows; stay under max_execution_time)"},
        "report_timezone": {"type": "string", "minLength": 1, "default": "UTC",
                            "description": "the sync user's timezone in Moodle: report dates are its local time"},
        "report_lang": {"type": "string", "minLength": 1, "default": "en",
                        "description": "language the report is read in (moodlewssettinglang); a child pack whose "
                                       "date formats are %s gives exact seconds"},
        "report_delta_filters": {"type": "boolean", "default": False,
                                 "description": "the report has the date filters of the set-up checklist (course "
                                                "time completed, completion time started, enrolment time "
                                                "created): a DELTA reads only the rows changed since the last "
                                                "sync instead of the whole report"},
        "report_delta_overlap_s": {"type": "integer", "minimum": 0, "maximum": 604800, "default": 3600,
                                   "description": "a report-route DELTA asks for rows changed since the last "
                                                  "successful sync minus this many seconds (clock skew, and "
                                                  "completions the cron aggregates late with an earlier time)"},
    },
}
# pages a user may paste instead of the site root: everything from the match on is dropped
_SITE_PAGE = re.compile(r"/(webservice|login|admin|my|course|user|lib|theme)(/.*)?$|/index\.php$")
# the always-needed probe: the scope test and the connection check call it
_PROBE = "core_webservice_get_site_info"


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
            default_settings={"student_role_id": 5, "course_category_id": 1, "page_size": 1000,
                              "report_page_size": 10000, "report_timezone": "UTC", "report_lang": "en",
                              "report_delta_filters": {"type": "boolean", "default": False,
                                 "description": "the report has the date filters of the set-up checklist (course "
                                                "time completed, completion time started, enrolment time "
                                                "created): a DELTA reads only the rows changed since the last "
                                                "sync instead of the whole report"},
        "report_delta_overlap_s": 3600},
            settings_schema=SETTINGS_SCHEMA,
            normalize_url=normalize_site_url,
            known_calls=known_functions(),
            # user profile fields and course custom fields: [{shortname, name, value, ...}]
            custom_fields={model: {"list": "customfields", "key": "shortname", "label": "name", "value": "value"}
                           for model in ("users", "courses")},
        )
    ]


def known_functions() -> frozenset[str]:
    """The Moodle web-service functions described by the reference the simulator ships
    (the keys of ``functions`` in ``simulator/functions.json``, as the simulator reads them):
    what a mapping may call."""
    # through the parent package: importing the simulator package would import its web stack
    reference = resources.files("connectors.moodle").joinpath("simulator", "functions.json").read_text(encoding="utf-8")
    return frozenset(json.loads(reference)["functions"])


def normalize_site_url(url: str) -> tuple[str, str]:
    """The Moodle site root of a pasted URL (``…/webservice/rest/server.php``,
    ``…/login/index.php``, a query string, trailing slashes) and a note of what was dropped;
    ``ValueError`` when it is not an http(s) URL or carries credentials."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an http(s) URL (expected e.g. https://moodle.example.edu)")
    if parts.username or parts.password:
        raise ValueError("the site URL must not carry a user name or password; pass the token with --token")
    path = _SITE_PAGE.sub("", parts.path.rstrip("/")).rstrip("/")
    root = urlunsplit((parts.scheme, parts.netloc, path, "", ""))
    changed = path != parts.path.rstrip("/") or parts.query or parts.fragment
    return root, (f"using the site root {root} (from {url.strip()})" if changed else "")


@hookimpl
def lmsync_jmespath_functions() -> dict[str, Any]:
    """``moodle_time``, ``moodle_bool``, ``moodle_text``."""
    return {**FUNCTIONS, **REPORT_FUNCTIONS}


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


def _specs() -> Any:
    from engine.plugins import connectors, get_plugin_manager
    from engine.spec import function_set, load_specs

    pm = get_plugin_manager()
    info = connectors(pm)[NAME]
    return pm, load_specs(info.mappings, NAME, function_set(pm), known_calls=info.known_calls)


def required_functions() -> dict[str, list[str]]:
    """``{model or action: [web-service functions]}`` this connector calls: the mapping specs'
    calls and requirements (with the models they depend on), the actions', and the probe."""
    from types import SimpleNamespace

    from engine.scope import scope_needs

    pm, specs = _specs()
    needs = scope_needs(SimpleNamespace(pm=pm, specset=lambda _name: specs), NAME)
    return {"connection check": [_PROBE], **needs}


def variant_functions() -> dict[str, list[str]]:
    """The functions the spec variants add (the report route), by ``model (when …)``."""
    _, specs = _specs()
    return {f"{v.model} (when {v.when.source})": sorted(set(v.functions) - set(specs.specs[v.model].functions))
            for vs in specs.variants.values() for v in vs}


def _print_functions(groups: dict[str, list[str]], as_json: bool) -> None:
    every = sorted({f for fs in groups.values() for f in fs})
    variants = variant_functions()
    if as_json:
        typer.echo(json.dumps({"functions": every, "by_model_or_action": groups, "variants": variants}, indent=2))
        return
    typer.echo(f"Add these {len(every)} functions to the external service of the token "
               "(Site administration > Server > Web services > External services > Functions):")
    for name in every:
        typer.echo(f"  {name}")
    typer.echo("\nNeeded by:")
    for group, functions in groups.items():
        typer.echo(f"  {group}: {', '.join(functions)}")
    for group, functions in variants.items():
        typer.echo(f"\nOnly with the report route (docs/connect-moodle.md), also add: {', '.join(functions)}\n  ({group})")


@hookimpl
def lmsync_cli_commands(app: typer.Typer) -> None:
    """``lmsync moodle-sim``: run the Moodle simulator standalone; ``lmsync moodle functions``."""
    moodle = typer.Typer(help="Moodle connector tools.", no_args_is_help=True)
    app.add_typer(moodle, name="moodle")

    @moodle.command("functions")
    def functions(as_json: bool = typer.Option(False, "--json", help="Print JSON on stdout.")) -> None:
        """The web-service functions to add to the external service, grouped by model/action."""
        _print_functions(required_functions(), as_json)

    @app.command("moodle-sim", add_help_option=False,
                 context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
    def moodle_sim(ctx: typer.Context) -> None:
        """Run the Moodle simulator (options: --port, --users, --courses, --enrolments-per-course,
        --seed, --latency-ms, --fault-rate, --debug, --tiny; see --help)."""
        from connectors.moodle.simulator import main

        raise typer.Exit(main(list(ctx.args), prog="lmsync moodle-sim"))


@hookimpl
def lmsync_demo_site(connector: str | None, port: int) -> AbstractContextManager[DemoSite] | None:
    """The embedded Moodle simulator: a deterministic generated site on loopback *port*."""
    if connector not in (None, NAME):
        return None
    return _demo_site(port)


@contextlib.contextmanager
def _demo_site(port: int) -> Iterator[DemoSite]:
    from connectors.moodle.simulator import ADMIN_TOKEN, MoodleSite, create_app, run_in_thread

    site = MoodleSite.generate(seed=0, users=200, courses=20, enrolments_per_course=15)
    with run_in_thread(create_app(site), port=port) as base_url:
        yield DemoSite(connector=NAME, base_url=base_url, credentials={"token": ADMIN_TOKEN}, label="embedded Moodle simulator")


# the role's capabilities, as docs/connect-moodle.md step 3 lists them
_CAPABILITIES = (
    "webservice/rest:use", "moodle/user:viewdetails", "moodle/user:viewalldetails", "moodle/course:view",
    "moodle/course:update", "moodle/course:viewhiddencourses", "moodle/course:viewparticipants",
    "report/completion:view", "report/progress:view", "moodle/competency:competencyview",
    "moodle/competency:coursecompetencyview", "moodle/course:create", "moodle/course:changefullname",
    "enrol/manual:enrol", "moodle/course:overridecompletion", "gradereport/user:view", "moodle/grade:edit",
    "moodle/grade:manage",
)


@functools.lru_cache(maxsize=1)
def _all_required_functions() -> tuple[str, ...]:
    return tuple(sorted({f for fs in required_functions().values() for f in fs}))


@hookimpl
def lmsync_connect_instructions(connector: str, language: str) -> list[dict[str, Any]] | None:
    """The steps of docs/connect-moodle.md (2 to 5) for the Connect page, English only."""
    if connector != NAME:
        return None
    admin = "Site administration > "
    return [
        {"title": "Enable web services and REST",
         "text": f"{admin}General > Advanced features: tick Enable web services and save. Then "
                 f"{admin}Server > Web services > Manage protocols: enable the REST protocol.", "items": [], "copy": False},
        {"title": "Create the service user and its role",
         "text": f"{admin}Users > Add a new user: e.g. lmsync-service (Manual accounts, a strong password). "
                 f"{admin}Users > Permissions > Define roles > Add a new role: archetype No role, context type "
                 "System, allowing these capabilities; then Assign system roles: give lmsync-service the new role. "
                 "The last seven are needed only for write actions.",
         "items": list(_CAPABILITIES), "copy": True},
        {"title": "Create the external service with these functions",
         "text": f"{admin}Server > Web services > External services > Add: name lmsync, Enabled, Authorised "
                 "users only. Then Functions > Add functions: add every function below (those of actions you "
                 "will not use may be left out). Under Authorised users, add lmsync-service.",
         "items": list(_all_required_functions()), "copy": True},
        {"title": "Create the token",
         "text": f"{admin}Server > Web services > Manage tokens > Create token: user lmsync-service, service "
                 "lmsync. Copy the token and paste it below.", "items": [], "copy": False},
    ]


@hookimpl
def lmsync_connect_warnings(connector: str, remote_info: dict[str, Any]) -> list[str] | None:
    """A warning when the site's ``release`` is not Moodle 5.x (the version lmsync is built for)."""
    if connector != NAME:
        return None
    release = str(remote_info.get("release") or "")
    if re.match(r"5\.", release):
        return []
    return [f"This site reports Moodle release {release or '(unknown)'}; lmsync is built and tested for Moodle 5.x. "
            "You can continue, but some data may be missing or read differently."]

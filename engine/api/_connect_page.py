"""The Connect page: what an end user's LMS admin opens from a Connect link (``engine.connect``).

Server-rendered, every step works without JavaScript (``connect.js`` only adds copy buttons,
tells an opener/parent window the exchange token and polls the progress):

* ``GET /connect/{token}`` — step 1: the LMS (skipped when the link names it) and the site URL.
  Unknown links answer a 404 page, used or expired ones a 410 page saying which.
* ``POST /connect/{token}`` with ``step=site`` — the URL is normalised by the connector (and a
  ``create`` link's integration created ``INCOMPLETE``); errors show next to the field; else
  step 2: the connector's instructions (``lmsync_connect_instructions``) and the credentials.
* ``POST /connect/{token}`` with ``step=credentials`` — ``complete_flow`` with the scope test
  (``ApiServices.scope_probe``) as its check: a model that cannot be read fails the flow, and
  the matrix says what to fix for each gap (the link stays usable); else "connected", the first
  FULL sync is queued (``ApiServices.force_sync``) and its progress shown. Step 2 also lists the
  OPTIONAL items of the integration's scope config as checkboxes (``opt_out_choices``; ticked =
  shared): each offered item comes with a hidden ``offer_<item>`` field and a ``share_<item>``
  checkbox, and an offered item left unticked is an opt-out that ``complete_flow`` records. A
  link naming a scope config (``scope_config_id`` of create-link / relink) offers that config's.
* ``GET /connect/{token}/progress`` (HTML, refreshes itself) and ``/status`` (JSON) — the first
  sync's progress per model, for 24 hours after the link was used.
* ``GET /connect-assets/{name}`` — the page's CSS and script, shipped in the package.

Every form carries a CSRF secret in a hidden field that must equal the ``SameSite=Strict``
cookie of the link's path. Credentials are never rendered; everything is escaped (Jinja2
autoescape). Strings come from ``templates/connect/strings.json`` by the link's language.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from engine.connect import (ConnectFlowFailed, ConnectInputError, LinkExpired, LinkNotFound, LinkUsed, complete_flow,
                            hash_token, opt_out_choices, resolve_link, setup_status, start_flow)
from engine.errors import LmsyncError
from engine.integrations import SiteUrlError, UnknownConnector, connector_info, normalize_site_url
from engine.plugins import connectors, get_plugin_manager
from engine.scope import AVAILABLE_STATES, availability_from
from engine.store._connect import ConnectLink
from engine.store.base import Integration, Store

from ._html import HTML_HEADERS, TEMPLATES, csrf_shaped, is_https, new_csrf, read_form, same_secret, template_env
from ._integration_json import _MODEL_LABELS, WRITE_ACTIONS

__all__ = ["connect_page_routes", "CSRF_COOKIE", "PROGRESS_WINDOW", "ScopeGaps"]

log = logging.getLogger("lmsync.connect.page")

CSRF_COOKIE = "lmsync_connect_csrf"
PROGRESS_WINDOW = timedelta(hours=24)  # how long after the flow its sync's progress stays visible
_DIR = TEMPLATES
_ASSETS = {"connect.css": "text/css; charset=utf-8", "connect.js": "text/javascript; charset=utf-8"}
_HEADERS = HTML_HEADERS


class ScopeGaps(LmsyncError):
    """The scope test found models the credentials cannot read (the flow fails, the link stays usable)."""


@lru_cache(maxsize=1)
def _strings() -> dict[str, dict[str, str]]:
    return json.loads((_DIR / "connect" / "strings.json").read_text(encoding="utf-8"))


def _t(language: str | None) -> dict[str, str]:
    """The strings of *language*, English where it has none; ``t["lang"]`` is the language used."""
    every = _strings()
    used = language if language in every else "en"
    return {**every["en"], **every[used], "lang": used}


def _page(template: str, t: dict[str, str], status: int = 200, *,
          cookie: tuple[str, str, bool] | None = None, **context: Any) -> HTMLResponse:
    html = template_env().get_template(f"connect/{template}").render(t=t, lang=t["lang"], **context)
    response = HTMLResponse(html, status_code=status, headers=_HEADERS)
    if cookie is not None:
        path, value, secure = cookie
        response.set_cookie(CSRF_COOKIE, value, path=path, httponly=True, samesite="strict", secure=secure)
    return response


def _message(t: dict[str, str], status: int, title: str, text: str) -> HTMLResponse:
    return _page("message.html", t, status, heading=title, message=text)


def _link_error(exc: Exception, t: dict[str, str]) -> HTMLResponse:
    if isinstance(exc, LinkUsed):
        return _message(t, 410, t["gone_title"], t["used"])
    if isinstance(exc, LinkExpired):
        return _message(t, 410, t["gone_title"], t["expired"])
    return _message(t, 404, t["not_found_title"], t["not_found"])


def _csrf_of(request: Request) -> str:
    value = request.cookies.get(CSRF_COOKIE, "")
    return value if csrf_shaped(value) else new_csrf()


def _csrf_ok(request: Request, form: dict[str, str]) -> bool:
    return same_secret(request.cookies.get(CSRF_COOKIE, ""), form.get("csrf", ""))


def _tools() -> list[dict[str, str]]:
    return [{"name": name, "label": info.label} for name, info in connectors(get_plugin_manager()).items()]


def _label(tool: str | None) -> str:
    try:
        return connector_info(tool).label if tool else ""
    except LmsyncError:
        return ""


class _Flow:
    """One request of the page for one link: the store, services, strings and CSRF value."""

    def __init__(self, request: Request, link: ConnectLink, csrf: str) -> None:
        self.request, self.link, self.csrf = request, link, csrf
        self.store: Store = request.app.state.store
        self.services = request.app.state.services
        self.token: str = request.path_params["token"]
        self.t = _t(link.language)
        self.action = f"/connect/{quote(self.token, safe='')}"

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        common = {"org": self.link.end_user_organization_name, "action": self.action, "csrf": self.csrf,
                  "errors": {}, "chosen": self.link.tool}
        secure = is_https(self.request)
        return _page(template, self.t, status, cookie=(self.action, self.csrf, secure),
                     **{**common, **context})

    def integration_id(self) -> str | None:
        """The link's integration, also when this request's ``start_flow`` just made it."""
        if self.link.integration_id is None:
            fresh = self.store.connect_link_by_hash(hash_token(self.token))  # type: ignore[attr-defined]
            return fresh.integration_id if fresh is not None else None
        return self.link.integration_id

    def site_step(self, status: int = 200, *, base_url: str = "", tool: str | None = None,
                  errors: dict[str, str] | None = None) -> HTMLResponse:
        if not base_url and self.link.integration_id:
            found = self.store.get_integration(self.link.integration_id)
            base_url = found.base_url if found is not None else ""
        chosen = self.link.tool or tool
        return self.render("site.html", status, step=1, heading=self.t["step1_title"], base_url=base_url,
                           tools=None if self.link.tool else _tools(), chosen=chosen, tool_label=_label(chosen),
                           errors=errors or {})

    def credentials_step(self, status: int = 200, *, tool: str, base_url: str, note: str = "",
                         errors: dict[str, str] | None = None, report: Any = None,
                         warnings: list[str] | None = None, integration_id: str | None = None,
                         form: dict[str, str] | None = None) -> HTMLResponse:
        info = connector_info(tool)
        steps = get_plugin_manager().hook.lmsync_connect_instructions(connector=tool, language=self.link.language or "en")
        credentials = [{"name": n, "label": f"{info.label} {n.replace('_', ' ')}"} for n in info.credential_names]
        choices = _choices(self.store, integration_id or self.integration_id(), form, self.link.scope_config_id)
        return self.render("credentials.html", status, step=2, heading=self.t["step2_title"], chosen=tool,
                           base_url=base_url, note=note, steps=steps or [], credentials=credentials,
                           errors=errors or {}, report=report, warnings=warnings or [],
                           remote=getattr(report, "remote_info", None), choices=choices)


def _choice_label(item: str) -> str:
    """A readable label of an opt-out item (``models.users``, ``fields.users.work_email``, ``actions.enroll``)."""
    kind, _, name = item.partition(".")
    if kind == "models":
        return _MODEL_LABELS.get(name, name)
    if kind == "fields":
        model, _, field = name.partition(".")
        return f"{_MODEL_LABELS.get(model, model)}: {field.replace('_', ' ')}"
    return next((label for _aid, short, label in WRITE_ACTIONS if short == name), name)


def _choices(store: Store, integration_id: str | None, form: dict[str, str] | None,
             scope_config_id: str | None = None) -> list[dict[str, Any]]:
    """The step's opt-out checkboxes: ``[{item, label, kind, shared}]`` of the scope config the
    flow leaves the integration bound to (*scope_config_id*, the link's, else its current one);
    *form* (a re-shown step) keeps what the end user ticked."""
    form = form or {}
    posted = any(k.startswith("offer_") for k in form)
    out = []
    for item, opted_out in opt_out_choices(store, integration_id, scope_config_id):
        shared = f"share_{item}" in form if posted else not opted_out
        out.append({"item": item, "label": _choice_label(item), "kind": item.partition(".")[0], "shared": shared})
    return out


def _posted_opt_outs(form: dict[str, str]) -> list[str] | None:
    """The opt-outs a step-2 form records: each offered item left unticked; ``None`` when the
    form offered none (the opt-outs stay as they are)."""
    offered = [k.removeprefix("offer_") for k in form if k.startswith("offer_")]
    if not offered:
        return None
    return [item for item in offered if f"share_{item}" not in form]


def _warnings(tool: str, report: Any) -> list[str]:
    if report is None:
        return []
    answers = get_plugin_manager().hook.lmsync_connect_warnings(connector=tool, remote_info=report.remote_info)
    return [w for ws in answers for w in (ws or [])]


def _unavailable_actions(report: Any, t: dict[str, str]) -> list[str]:
    names = [e.name for e in getattr(report, "entries", []) if e.kind == "action" and e.status not in AVAILABLE_STATES]
    return [t["actions_unavailable"].format(names=", ".join(names))] if names else []


def _verify(flow: _Flow, captured: dict[str, Any]) -> Any:
    probe = flow.services.scope_probe
    if probe is None:
        return None

    def verify(integration: Integration) -> dict[str, Any]:
        report = probe(integration)
        captured["report"] = report
        gaps = [e.name for e in report.entries if e.kind == "model" and e.status not in AVAILABLE_STATES]
        if gaps:
            raise ScopeGaps(f"these models cannot be read: {', '.join(gaps)}")
        return availability_from(report)

    return verify


def _on_site(flow: _Flow, form: dict[str, str]) -> HTMLResponse:
    tool, base_url = flow.link.tool or form.get("tool") or None, form.get("base_url", "").strip()
    if not base_url:
        return flow.site_step(400, tool=tool, errors={"base_url": flow.t["required"]})
    try:
        if tool is None:
            raise ConnectInputError("integration_tool", flow.t["choose_tool"])
        url, note = normalize_site_url(base_url, connector_info(tool))
        integration_id = flow.link.integration_id
        if flow.link.kind == "create":
            integration_id = start_flow(flow.store, flow.token, base_url=url, tool=tool).id
    except ConnectInputError as exc:
        return flow.site_step(400, base_url=base_url, tool=tool, errors={exc.field: str(exc).split(": ", 1)[-1]})
    except UnknownConnector as exc:
        return flow.site_step(400, base_url=base_url, tool=None, errors={"integration_tool": str(exc)})
    except SiteUrlError as exc:
        return flow.site_step(400, base_url=base_url, tool=tool, errors={"base_url": str(exc)})
    return flow.credentials_step(tool=tool, base_url=url, note=note, integration_id=integration_id)


def _on_credentials(flow: _Flow, form: dict[str, str]) -> HTMLResponse:
    tool, base_url = flow.link.tool or form.get("tool") or None, form.get("base_url", "").strip()
    if tool is None or not base_url:
        return flow.site_step(400, base_url=base_url, tool=tool,
                              errors={"base_url" if tool else "integration_tool": flow.t["required"]})
    credentials = {k.removeprefix("credential_"): v.strip() for k, v in form.items() if k.startswith("credential_")}
    captured: dict[str, Any] = {}
    try:
        result = complete_flow(flow.store, flow.token, credentials=credentials, base_url=base_url, tool=tool,
                               verify=_verify(flow, captured), opt_outs=_posted_opt_outs(form))
    except ConnectInputError as exc:
        message = str(exc).split(": ", 1)[-1]
        if exc.field in ("base_url", "integration_tool", "settings"):
            return flow.site_step(400, base_url=base_url, tool=tool, errors={"base_url": message})
        field = "opt_outs" if exc.field == "opt_outs" else "credentials"
        return flow.credentials_step(400, tool=tool, base_url=base_url, errors={field: message}, form=form)
    except ConnectFlowFailed as exc:
        report = captured.get("report")
        if report is not None:
            return flow.credentials_step(422, tool=tool, base_url=base_url, report=report,
                                         warnings=_warnings(tool, report), form=form)
        reason = str(exc).removeprefix("the credentials did not work: ")
        for value in credentials.values():  # never echo a credential, even inside a remote's message
            reason = reason.replace(value, "…") if value else reason
        return flow.credentials_step(422, tool=tool, base_url=base_url, form=form,
                                     errors={"credentials": flow.t["credentials_failed"].format(reason=reason)})
    integration, not_started = result.integration, ""
    try:
        flow.services.force_sync(integration.id, "FULL")
    except Exception as exc:  # noqa: BLE001 - the connection stands; the scheduler syncs it later
        log.warning("first sync of %s could not be queued: %s", integration.id, exc)
        not_started = str(exc) or type(exc).__name__
    report = captured.get("report")
    link = flow.store.connect_link_by_hash(hash_token(flow.token))  # type: ignore[attr-defined]
    return flow.render("connected.html", step=3, heading=flow.t["connected_title"], exchange_token=result.exchange_token,
                       remote=getattr(report, "remote_info", None), not_started=not_started,
                       warnings=_warnings(tool, report) + _unavailable_actions(report, flow.t),
                       progress=_progress(flow.store, link, flow.t), status_url=f"{flow.action}/status",
                       progress_url=f"{flow.action}/progress")


async def connect_page(request: Request) -> Response:
    """``GET`` / ``POST /connect/{token}``: the steps of the flow (see the module docstring)."""
    store: Store = request.app.state.store
    form = await read_form(request) if request.method == "POST" else {}

    def work() -> Response:
        token = request.path_params["token"]
        try:
            link = resolve_link(store, token)
        except (LinkNotFound, LinkUsed, LinkExpired) as exc:
            link_row = store.connect_link_by_hash(hash_token(token)) if token else None  # type: ignore[attr-defined]
            return _link_error(exc, _t(link_row.language if link_row else None))
        if request.method == "GET":
            return _Flow(request, link, _csrf_of(request)).site_step()
        if not _csrf_ok(request, form):
            t = _t(link.language)
            return _message(t, 403, t["csrf_title"], t["csrf"])
        flow = _Flow(request, link, form["csrf"])
        try:
            return _on_credentials(flow, form) if form.get("step") == "credentials" else _on_site(flow, form)
        except (LinkNotFound, LinkUsed, LinkExpired) as exc:
            return _link_error(exc, flow.t)

    return await run_in_threadpool(work)


# --- progress of the first sync ---------------------------------------------------------------


def _progress(store: Store, link: ConnectLink | None, t: dict[str, str]) -> dict[str, Any]:
    """``{sync: {status, label, id}, models: [{model, state, label, records}], finished}`` of the
    first sync after *link* was used."""
    iid = link.integration_id if link is not None else None
    integration = store.get_integration(iid) if iid else None
    if integration is None or link is None or link.used_at is None:
        return {"sync": {"status": "queued", "label": t["sync_queued"], "id": None}, "models": [], "finished": False}
    since = link.used_at - timedelta(seconds=1)
    run = next((r for r in store.list_runs(iid, limit=10) if r.started_at >= since), None)
    models = [name for name, v in (integration.availability or {}).items()
              if isinstance(v, dict) and v.get("kind") == "model"]
    if run is not None:
        models += [m for m in run.stats if m not in models]
    status = run.status if run is not None else "queued"
    label = t.get(f"sync_{status}", status).format(error=(run.error or "") if run else "")
    rows = []
    for model in models:
        stats = run.stats.get(model) if run is not None else None
        if stats is not None:
            state, records = "done", stats.get("created", 0) + stats.get("updated", 0) + stats.get("unchanged", 0)
        else:
            records = store.count(iid, model)
            state = "failed" if status in ("failed", "cancelled") else "reading" if records and status == "running" else "waiting"
        rows.append({"model": model, "state": state, "label": t[f"state_{state}"], "records": records})
    return {"sync": {"status": status, "label": label, "id": run.id if run else None}, "models": rows,
            "finished": status in ("succeeded", "failed", "cancelled"),
            "setup_status": setup_status(store, integration)}


def _used_link(store: Store, token: str) -> ConnectLink | None:
    """The link of *token* if its flow completed within ``PROGRESS_WINDOW``."""
    link = store.connect_link_by_hash(hash_token(token)) if token else None  # type: ignore[attr-defined]
    if link is None or link.kind not in ("create", "relink") or link.used_at is None or not link.integration_id:
        return None
    return link if datetime.now(UTC) - link.used_at <= PROGRESS_WINDOW else None


async def progress_page(request: Request) -> Response:
    """``GET /connect/{token}/progress``: the first sync's progress (refreshes itself until done)."""
    store: Store = request.app.state.store

    def work() -> Response:
        token = request.path_params["token"]
        link = _used_link(store, token)
        t = _t(link.language if link else None)
        if link is None:
            return _message(t, 404, t["not_found_title"], t["not_found"])
        progress = _progress(store, link, t)
        action = f"/connect/{quote(token, safe='')}"
        return _page("connected.html", t, step=3, heading=t["connected_title"],
                     org=link.end_user_organization_name, exchange_token="", progress=progress, warnings=[],
                     refresh=not progress["finished"], status_url=f"{action}/status", progress_url="")

    return await run_in_threadpool(work)


async def status_route(request: Request) -> Response:
    """``GET /connect/{token}/status``: the progress as JSON (``_progress``)."""
    store: Store = request.app.state.store

    def work() -> Response:
        link = _used_link(store, request.path_params["token"])
        if link is None:
            return JSONResponse({"error": "no completed Connect flow for this link"}, status_code=404, headers=_HEADERS)
        return JSONResponse(_progress(store, link, _t(link.language)), headers=_HEADERS)

    return await run_in_threadpool(work)


async def asset_route(request: Request) -> Response:
    """``GET /connect-assets/{name}``: the page's CSS and script."""
    name = request.path_params["name"]
    if name not in _ASSETS:
        return Response("not found", status_code=404, media_type="text/plain")
    body = (_DIR / "connect" / name).read_bytes()
    return Response(body, media_type=_ASSETS[name], headers={"Cache-Control": "public, max-age=3600",
                                                             "X-Content-Type-Options": "nosniff"})


def connect_page_routes() -> list[Route]:
    """The routes of the Connect page."""
    return [
        Route("/connect-assets/{name}", asset_route, methods=["GET"]),
        Route("/connect/{token}", connect_page, methods=["GET", "POST"]),
        Route("/connect/{token}/progress", progress_page, methods=["GET"]),
        Route("/connect/{token}/status", status_route, methods=["GET"]),
    ]

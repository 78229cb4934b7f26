"""The operator console: ``/console/`` behind an operator login (an admin API key).

Server-rendered Jinja2 pages (``templates/console/``) that work without JavaScript
(``console.js`` only polls a running sync's progress):

* ``GET|POST /console/login`` — paste an admin API key; a session starts (``_console_session``:
  signed ``HttpOnly`` ``SameSite=Strict`` cookie, 8 h idle / 24 h absolute, checked server-side
  on every request). ``POST /console/logout`` ends it.
* ``GET /console/`` — integrations: connector, site, enabled, setup status, last run, held
  changes with a confirm button (``POST /console/runs/{run_id}/confirm``: ``engine.guard.confirm``,
  what ``lmsync deletions confirm`` calls).
* ``GET /console/integrations/{id}`` — its runs; ``POST …/scope-test``, ``…/test-model``
  (``ApiServices.scope_test`` / ``test_model``) show their output; ``POST …/sync`` queues a sync
  (``ApiServices.force_sync``, like ``POST /v1/force-sync``); ``GET …/progress`` is the JSON the
  page polls (a ``<noscript>`` refresh without JavaScript).
* ``GET /console/webhooks`` — endpoints and recent deliveries; ``POST /console/deliveries/{id}/retry``.
* ``GET|POST /console/keys`` — API keys (create: the key is shown once); ``POST …/{key_id}/revoke``.
* ``GET /console/explorer`` — page through an integration's records of one model (the store's
  keyset query); ``GET /console/explorer/record`` — one record and its ``remote_data``.

Every POST carries the session's CSRF secret in a hidden field. Everything is escaped.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from engine.errors import LmsyncError
from engine.guard import confirm as confirm_held
from engine.models import MODELS
from engine.store.base import Store, SyncAlreadyRunning
from engine.sync import now_utc
from engine.webhooks import sender_for

from . import _console_data as data
from ._console_session import ABSOLUTE, SESSION_COOKIE, ConsoleSession, LoginRefused, sessions_of
from ._html import HTML_HEADERS, TEMPLATES, csrf_shaped, is_https, new_csrf, read_form, same_secret, template_env
from ._keys import create_api_key
from ._services import ApiServices

__all__ = ["console_routes", "LOGIN_CSRF_COOKIE"]

log = logging.getLogger("lmsync.console")

LOGIN_CSRF_COOKIE = "lmsync_console_login"
_HEADERS = {**HTML_HEADERS,
            "Content-Security-Policy": HTML_HEADERS["Content-Security-Policy"] + "; frame-ancestors 'none'",
            "X-Frame-Options": "DENY"}
_ASSETS = {"console.css": "text/css; charset=utf-8", "console.js": "text/javascript; charset=utf-8"}
_LOGIN = "/console/login"
_MAX_KEY_DAYS = 3650
_MAX_PAGE = 200


def _url(path: str, **query: Any) -> str:
    q = {k: v for k, v in query.items() if v not in (None, "", False)}
    return path + ("?" + urlencode(q) if q else "")


def integration_url(iid: str) -> str:
    """The console page of integration *iid*."""
    return f"/console/integrations/{quote(iid, safe='')}"


def _render(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = template_env().get_template(f"console/{template}").render(integration_url=integration_url, **context)
    return HTMLResponse(html, status_code=status, headers=_HEADERS)


@dataclass
class _Ctx:
    """One console request: its session, the store, services and the submitted form."""

    request: Request
    session: ConsoleSession
    form: dict[str, str] = field(default_factory=dict)

    @property
    def store(self) -> Store:
        return self.request.app.state.store

    @property
    def services(self) -> ApiServices:
        return self.request.app.state.services

    def param(self, name: str) -> str:
        return self.request.path_params[name]

    def page(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        return _render(template, status, csrf=self.session.csrf, operator=self.session.key_name, **context)

    def message(self, status: int, heading: str, text: str) -> HTMLResponse:
        return self.page("message.html", status, heading=heading, message=text)


def _to_login() -> Response:
    response = RedirectResponse(_LOGIN, status_code=303, headers={"Cache-Control": "no-store"})
    response.delete_cookie(SESSION_COOKIE, path="/console")
    return response


Handler = Callable[[_Ctx], Response]


def _console(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint that needs a live session (else 303 to the login) and, for a POST, its CSRF secret."""

    async def endpoint(request: Request) -> Response:
        form = await read_form(request) if request.method == "POST" else {}

        def work() -> Response:
            session = sessions_of(request).current(request.app.state.store, request)
            if session is None:
                return _to_login()
            ctx = _Ctx(request, session, form)
            if request.method == "POST" and not same_secret(session.csrf, form.get("csrf", "")):
                return ctx.message(403, "Form expired", "The form was not sent from this console session "
                                                       "(missing or wrong CSRF secret). Reload the page and try again.")
            return handler(ctx)

        return await run_in_threadpool(work)

    endpoint.__name__ = handler.__name__
    return endpoint


# --- login / logout ---------------------------------------------------------------------------


def _login_page(request: Request, status: int = 200, error: str = "") -> HTMLResponse:
    value = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    csrf = value if csrf_shaped(value) else new_csrf()
    response = _render("login.html", status, csrf=csrf, error=error, heading="Operator login")
    response.set_cookie(LOGIN_CSRF_COOKIE, csrf, path=_LOGIN, httponly=True, samesite="strict", secure=is_https(request))
    return response


async def login(request: Request) -> Response:
    """``GET`` the login form; ``POST`` it (``api_key``, ``csrf``) to start a session."""
    form = await read_form(request) if request.method == "POST" else {}
    store: Store = request.app.state.store
    sessions = sessions_of(request)

    def work() -> Response:
        if request.method == "GET":
            if sessions.current(store, request) is not None:
                return RedirectResponse("/console/", status_code=303)
            return _login_page(request)
        if not same_secret(request.cookies.get(LOGIN_CSRF_COOKIE, ""), form.get("csrf", "")):
            return _login_page(request, 403, "The form expired (missing or wrong CSRF secret); try again.")
        try:
            _session, cookie = sessions.login(store, form.get("api_key", ""))
        except LoginRefused as exc:
            return _login_page(request, exc.status, str(exc))
        response = RedirectResponse("/console/", status_code=303, headers={"Cache-Control": "no-store"})
        response.set_cookie(SESSION_COOKIE, cookie, max_age=int(ABSOLUTE.total_seconds()), path="/console",
                            httponly=True, samesite="strict", secure=is_https(request))
        response.delete_cookie(LOGIN_CSRF_COOKIE, path=_LOGIN)
        return response

    return await run_in_threadpool(work)


def logout(ctx: _Ctx) -> Response:
    """End the session (server-side) and clear its cookie."""
    sessions_of(ctx.request).logout(ctx.session.sid)
    return _to_login()


# --- integrations -----------------------------------------------------------------------------


def integrations(ctx: _Ctx, notice: str = "", error: str = "", status: int = 200) -> Response:
    """The integrations table."""
    return ctx.page("integrations.html", status, heading="Integrations", nav="integrations",
                    rows=data.integration_rows(ctx.store), notice=notice, error=error)


def confirm(ctx: _Ctx) -> Response:
    """Apply a run's held changes (``engine.guard.confirm``)."""
    try:
        applied = confirm_held(ctx.store, ctx.param("run_id"), now_utc())
    except LmsyncError as exc:
        return integrations(ctx, error=f"Not confirmed: {exc}", status=409)
    done = ", ".join(f"{m} {n:,}" for m, n in applied.items())
    return integrations(ctx, notice=f"Held changes of run {ctx.param('run_id')} applied: {done}.")


def integration(ctx: _Ctx, status: int = 200, **extra: Any) -> Response:
    """One integration: its runs, tests, sync now and the newest run's progress."""
    found = ctx.store.get_integration(ctx.param("iid"))
    if found is None:
        return ctx.message(404, "Not found", f"No integration with id {ctx.param('iid')!r}.")
    held_run, held = data.confirmable_run(ctx.store, found.id)
    prog = data.progress(ctx.store, found)
    return ctx.page("integration.html", status, heading=f"Integration {found.id}", nav="integrations",
                    integration=found, runs=data.run_rows(ctx.store, found.id), models=list(MODELS),
                    progress=prog, held=held, held_run=held_run.id if held_run else None,
                    progress_url=integration_url(found.id) + "/progress",
                    page_url=integration_url(found.id), **extra)


def _service_call(ctx: _Ctx, fn: Callable[..., Any] | None, what: str, *args: Any) -> tuple[Any, str]:
    found = ctx.store.get_integration(ctx.param("iid"))
    if found is None:
        return None, "no such integration"
    if fn is None:
        return None, f"{what} is not enabled on this server."
    try:
        return fn(found, *args), ""
    except LmsyncError as exc:
        return None, str(exc)
    except Exception as exc:  # noqa: BLE001 - a remote's failure is shown, not a 500
        log.exception("console %s of %s failed", what, found.id)
        return None, f"{type(exc).__name__}: {exc}"


def scope_test(ctx: _Ctx) -> Response:
    """Run and store a scope test, then show its matrix."""
    result, error = _service_call(ctx, ctx.services.scope_test, "Scope testing")
    return integration(ctx, scope=result, scope_error=error)


def test_model(ctx: _Ctx) -> Response:
    """Run a per-model test of the chosen model, then show its outcome."""
    model = ctx.form.get("model", "")
    if model not in MODELS:
        return integration(ctx, 400, model_error=f"Unknown model {model!r}; expected one of {', '.join(MODELS)}.")
    result, error = _service_call(ctx, ctx.services.test_model, "Model testing", model, 1, 3)
    pretty = json.dumps(result, indent=2, ensure_ascii=False, default=str) if result is not None else ""
    return integration(ctx, model_result=result, model_pretty=pretty, model_error=error, tested_model=model)


def sync_now(ctx: _Ctx) -> Response:
    """Queue a sync through the app's sync queue (as ``POST /v1/force-sync`` does)."""
    found = ctx.store.get_integration(ctx.param("iid"))
    if found is None:
        return ctx.message(404, "Not found", f"No integration with id {ctx.param('iid')!r}.")
    kind = ctx.form.get("kind", "FULL")
    if kind not in ("FULL", "DELTA"):
        return integration(ctx, 400, sync_error=f"kind: expected FULL or DELTA, got {kind!r}")
    if not found.enabled:
        return integration(ctx, 409, sync_error="The integration is disabled; enable it before syncing.")
    try:
        sync_id, already = ctx.services.force_sync(found.id, kind)
    except SyncAlreadyRunning as exc:
        return integration(ctx, 409, sync_error=f"A sync of this integration is already running ({exc.run_id}).")
    except Exception as exc:  # noqa: BLE001 - e.g. the broker is unreachable
        return integration(ctx, 503, sync_error=f"The sync could not be queued ({type(exc).__name__}: {exc}).")
    note = f"{kind} sync {sync_id} " + ("was already queued or running." if already else "queued.")
    return integration(ctx, sync_notice=note, wait_for=sync_id)


async def progress_json(request: Request) -> Response:
    """``GET /console/integrations/{iid}/progress``: ``_console_data.progress`` as JSON (401 without a session)."""

    def work() -> Response:
        store: Store = request.app.state.store
        if sessions_of(request).current(store, request) is None:
            return JSONResponse({"error": "log in to the console first"}, status_code=401, headers=_HEADERS)
        found = store.get_integration(request.path_params["iid"])
        if found is None:
            return JSONResponse({"error": "no such integration"}, status_code=404, headers=_HEADERS)
        return JSONResponse(data.progress(store, found), headers=_HEADERS)

    return await run_in_threadpool(work)


# --- webhooks ---------------------------------------------------------------------------------


def webhooks(ctx: _Ctx, notice: str = "", error: str = "", status: int = 200) -> Response:
    """Endpoints (never their secret) and the 50 newest deliveries."""
    deliveries = [{**{k: v for k, v in d.__dict__.items() if k != "body"}, "created": data.when(d.created_at),
                   "last_attempt": data.when(d.last_attempt_at)} for d in ctx.store.list_deliveries(limit=50)]
    endpoints = [{"id": e.id, "url": e.url, "events": ", ".join(e.events), "enabled": e.enabled,
                  "created": data.when(e.created_at)} for e in ctx.store.list_webhooks()]
    return ctx.page("webhooks.html", status, heading="Webhooks", nav="webhooks", endpoints=endpoints,
                    deliveries=deliveries, notice=notice, error=error)


def retry(ctx: _Ctx) -> Response:
    """One new attempt of a delivery now, its attempts counted afresh (``WebhookSender.retry``)."""
    delivery = sender_for(ctx.store).retry(ctx.param("did"))
    if delivery is None:
        return webhooks(ctx, error=f"No delivery {ctx.param('did')!r}.", status=404)
    outcome = "delivered" if delivery.status == "delivered" else f"not delivered ({delivery.error or delivery.status}); " \
              "further attempts follow with backoff"
    return webhooks(ctx, notice=f"Delivery {delivery.id}: {outcome}.")


# --- API keys ---------------------------------------------------------------------------------


def keys(ctx: _Ctx) -> Response:
    """``GET``: the keys; ``POST``: create one (``name``, optional ``integrations``, ``days``)."""
    return _create_key(ctx) if ctx.request.method == "POST" else keys_page(ctx)


def keys_page(ctx: _Ctx, status: int = 200, **extra: Any) -> Response:
    """The API keys table (and the outcome of a create or revoke in *extra*)."""
    ids = [i.id for i in ctx.store.list_integrations()]
    return ctx.page("keys.html", status, heading="API keys", nav="keys", integrations=sorted(ids),
                    keys=data.key_rows(ctx.store.list_api_keys(), now_utc()), own=ctx.session.key_id, **extra)


def _create_key(ctx: _Ctx) -> Response:
    name = ctx.form.get("name", "").strip()
    scope = [s.strip() for s in ctx.form.get("integrations", "").replace(",", " ").split() if s.strip()]
    days = ctx.form.get("days", "").strip()
    if not name:
        return keys_page(ctx, 400, error="name: required.")
    unknown = [s for s in scope if ctx.store.get_integration(s) is None]
    if unknown:
        return keys_page(ctx, 400, error=f"integrations: no integration {unknown[0]!r}.")
    if days and not (days.isascii() and days.isdigit() and 1 <= int(days) <= _MAX_KEY_DAYS):
        return keys_page(ctx, 400, error=f"days: expected a whole number from 1 to {_MAX_KEY_DAYS}, got {days!r}.")
    expires = now_utc() + timedelta(days=int(days)) if days else None
    plaintext = create_api_key(ctx.store, name, scope or None, expires)
    return keys_page(ctx, created=plaintext, created_name=name)


def revoke(ctx: _Ctx) -> Response:
    """Remove an API key (a session opened with it ends on its next request)."""
    key_id = ctx.param("key_id")
    if not ctx.store.remove_api_key(key_id):
        return keys_page(ctx, 404, error=f"No API key {key_id!r}.")
    if key_id == ctx.session.key_id:
        return logout(ctx)
    return keys_page(ctx, notice=f"API key {key_id} revoked.")


# --- data explorer ----------------------------------------------------------------------------


def explorer(ctx: _Ctx) -> Response:
    """Pick an integration and a model; page through its records (``size`` per page, default 25)."""
    q = ctx.request.query_params
    iid, model = q.get("integration", ""), q.get("model", "users")
    ids = sorted(i.id for i in ctx.store.list_integrations())
    context: dict[str, Any] = {"heading": "Data explorer", "nav": "explorer", "integrations": ids, "models": list(MODELS),
                               "chosen": iid, "model": model, "remote_id": q.get("remote_id", ""),
                               "deleted": q.get("deleted") == "1", "page": None, "error": "", "size": q.get("size", "")}
    if model not in MODELS:
        return ctx.page("explorer.html", 400, **{**context, "error": f"model: unknown model {model!r}."})
    size = q.get("size", "")
    if size and not (size.isascii() and size.isdigit() and 1 <= int(size) <= _MAX_PAGE):
        return ctx.page("explorer.html", 400, **{**context, "error": f"size: expected 1 to {_MAX_PAGE}, got {size!r}."})
    if iid:
        if iid not in ids:
            return ctx.page("explorer.html", 404, **{**context, "error": f"integration: no integration {iid!r}."})
        page = data.explorer_page(ctx.store, iid, model, after=q.get("after"), remote_id=context["remote_id"],
                                  include_deleted=context["deleted"], size=int(size or data.PAGE_SIZE))
        base = {"integration": iid, "model": model, "remote_id": context["remote_id"],
                "deleted": "1" if context["deleted"] else "", "size": size}
        for rec in page["records"]:
            rec["url"] = _url("/console/explorer/record", integration=iid, model=model, id=rec["id"])
        context.update(page=page, first_url=_url("/console/explorer", **base) if q.get("after") else "",
                       next_url=_url("/console/explorer", **base, after=page["next"]) if page["next"] else "")
    return ctx.page("explorer.html", **context)


def record(ctx: _Ctx) -> Response:
    """One record: unified fields and ``remote_data`` (pretty JSON, escaped)."""
    q = ctx.request.query_params
    iid, model, rid = q.get("integration", ""), q.get("model", ""), q.get("id", "")
    view = data.record_view(ctx.store, iid, model, rid) if model in MODELS and iid else None
    if view is None:
        return ctx.message(404, "Not found", f"No {model or 'record'} {rid!r} in integration {iid!r}.")
    return ctx.page("record.html", heading=f"{model} {view['remote_id']}", nav="explorer", rec=view, model=model,
                    back=_url("/console/explorer", integration=iid, model=model))


async def asset(request: Request) -> Response:
    """``GET /console/assets/{name}``: the console's CSS and script."""
    name = request.path_params["name"]
    if name not in _ASSETS:
        return Response("not found", status_code=404, media_type="text/plain")
    return Response((TEMPLATES / "console" / name).read_bytes(), media_type=_ASSETS[name],
                    headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"})


def console_routes() -> list[Route]:
    """The console's routes (under ``/console``)."""
    page = _console
    return [
        Route("/console/", page(lambda ctx: integrations(ctx)), methods=["GET"], name="console_home"),
        Route(_LOGIN, login, methods=["GET", "POST"]),
        Route("/console/logout", page(logout), methods=["POST"]),
        Route("/console/assets/{name}", asset, methods=["GET"]),
        Route("/console/runs/{run_id}/confirm", page(confirm), methods=["POST"]),
        Route("/console/integrations/{iid}", page(lambda ctx: integration(ctx)), methods=["GET"]),
        Route("/console/integrations/{iid}/scope-test", page(scope_test), methods=["POST"]),
        Route("/console/integrations/{iid}/test-model", page(test_model), methods=["POST"]),
        Route("/console/integrations/{iid}/sync", page(sync_now), methods=["POST"]),
        Route("/console/integrations/{iid}/progress", progress_json, methods=["GET"]),
        Route("/console/webhooks", page(lambda ctx: webhooks(ctx)), methods=["GET"]),
        Route("/console/deliveries/{did}/retry", page(retry), methods=["POST"]),
        Route("/console/keys", page(keys), methods=["GET", "POST"]),
        Route("/console/keys/{key_id}/revoke", page(revoke), methods=["POST"]),
        Route("/console/explorer", page(explorer), methods=["GET"]),
        Route("/console/explorer/record", page(record), methods=["GET"]),
    ]

"""Scope configs in the API (``engine.scope_config``).

* Reads: a model the integration's config disables is answered with ``ModelDisabled`` (403,
  ``[INTEGRATION.MODEL_DISABLED]``); disabled fields are answered ``null`` — also in embedded
  shapes (a progression's user summary, a course's revisions) — and ``remote_data`` is ``{}``
  without ``store_remote_data``. Until the next sync rewrites them, stored rows may still hold
  the data; these rules keep it out of the answers meanwhile.
* Admin (lmsync extension, admin key): ``GET /v1/scope-configs``, ``POST /v1/scope-configs``
  ``{name, models?, fields?, actions?, store_remote_data?}``, ``PUT /v1/scope-configs/{id}``
  (the same body without ``name``: replaces a stored config's settings), ``PUT
  /v1/integrations/{integration_id}/scope-config`` ``{scope_config_id}`` (id or name), ``PUT
  /v1/integrations/{integration_id}/opt-outs`` ``{opt_outs: ["fields.users.work_email", ...]}``
  (what the customer declines; OPTIONAL items only, else 400 naming the item — the Connect page
  records the same).
* Every rule here reads the *effective* config (``scope_config_for``): an opted-out OPTIONAL
  item is answered exactly as a DISABLED one.

The error codes are the contract's ``INTEGRATION.MODEL_DISABLED`` / ``ACTION_DISABLED``; as for
every code outside the general enum (``_errors.contract_code``), the envelope carries the nearest
platform code and the message leads with the real one.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from engine.scope_config import ScopeConfig, ScopeConfigError, scope_config_for
from engine.store.base import NotFound, Store, StoreError

from ._auth import authenticate, integration_or_404, require_admin
from ._body import _parse
from ._errors import ApiError, InputInvalid, contract_code

__all__ = ["ModelDisabled", "ScopeConfigNotFound", "check_model_enabled", "check_filters", "apply_scope",
           "scope_config_routes"]

_MODEL_DISABLED = "INTEGRATION.MODEL_DISABLED"
# the users fields a progression's embedded user summary shows
_USER_SUMMARY = ("first_name", "last_name", "work_email")


class ModelDisabled(ApiError):
    """The integration's scope config disables the model a read endpoint serves."""

    status, title = 403, "The model is disabled in the integration's scope config."
    code = contract_code(_MODEL_DISABLED)

    def __init__(self, model: str, scope: ScopeConfig) -> None:
        if scope.is_opted_out("models", model):
            super().__init__(f"[{_MODEL_DISABLED}] The {model} model is disabled: the customer opted out of it "
                             f"(OPTIONAL in the integration's scope config {scope.name!r}, {scope.id}).")
            return
        super().__init__(f"[{_MODEL_DISABLED}] The {model} model is disabled by the integration's scope config "
                         f"{scope.name!r} ({scope.id}); bind another with PUT /v1/integrations/{{id}}/scope-config.")


def check_model_enabled(store: Store, integration_id: str, model: str) -> ScopeConfig:
    """The integration's config; ``ModelDisabled`` if it disables *model*."""
    scope = scope_config_for(store, integration_id)
    if not scope.model_enabled(model):
        raise ModelDisabled(model, scope)
    return scope


# list filter -> (model, field) it compares: a disabled field cannot be filtered on (rows stored
# before the next sync still hold it, and a match would tell its value)
_FILTER_FIELDS = {"work_emails": ("users", "work_email")}


def check_filters(scope: ScopeConfig, lists: dict[str, list[str]]) -> None:
    """``InputInvalid`` for a filter on a field *scope* disables."""
    for param, (model, name) in _FILTER_FIELDS.items():
        if lists.get(param) and name in scope.disabled_fields(model):
            raise InputInvalid(f"Invalid query parameter {param}: the {model} field {name} is disabled by the "
                               f"integration's scope config {scope.name!r}.")


def _nulled(obj: dict[str, Any], names: frozenset[str] | set[str]) -> dict[str, Any]:
    """A copy of *obj* with *names* null (a copy: summaries are shared between pages)."""
    present = [n for n in names if n in obj]
    return {**obj, **dict.fromkeys(present)} if present else obj


def _record(obj: dict[str, Any], model: str, scope: ScopeConfig) -> dict[str, Any]:
    out = _nulled(obj, scope.disabled_fields(model))
    if not scope.store_remote_data and out.get("remote_data") is not None:
        out = {**out, "remote_data": {}}
    return out


def apply_scope(results: list[dict[str, Any]], model: str, scope: ScopeConfig) -> list[dict[str, Any]]:
    """*results* (composed records of *model*) as *scope* lets them be served."""
    if not (scope.fields or scope.models or not scope.store_remote_data):
        return results  # the default config: nothing to do
    out = []
    for item in results:
        rec = _record(item, model, scope)
        if model == "courses" and "revisions" in rec:
            revisions = [] if not scope.model_enabled("course_revisions") else [
                _revision(r, scope) for r in rec["revisions"]]
            rec = {**rec, "revisions": revisions}
        if model == "course_progressions":
            rec = _progression(rec, scope)
        out.append(rec)
    return out


def _revision(rev: dict[str, Any], scope: ScopeConfig) -> dict[str, Any]:
    rev = _record(rev, "course_revisions", scope)
    if "skill_assignments" in rev:
        if not (scope.model_enabled("revision_skills") and scope.model_enabled("skills")):
            rev = {**rev, "skill_assignments": []}
        elif "name" in scope.disabled_fields("skills"):
            rev = {**rev, "skill_assignments": [{"skill": _nulled(a["skill"], {"name"})} for a in rev["skill_assignments"]]}
    return rev


def _progression(rec: dict[str, Any], scope: ScopeConfig) -> dict[str, Any]:
    user = rec.get("user")
    if isinstance(user, dict):
        hidden = set(_USER_SUMMARY) if not scope.model_enabled("users") else scope.disabled_fields("users")
        rec = {**rec, "user": _nulled(user, hidden)}
    rev = rec.get("course_revision")
    if isinstance(rev, dict):
        hidden = {"title"} if "title" in scope.disabled_fields("course_revisions") else set()
        rec = {**rec, "course_revision": _nulled(rev, hidden)}
    return rec


# --- admin routes ---------------------------------------------------------------------------
def _admin(store: Store, request: Request, what: str) -> None:
    require_admin(authenticate(store, request), what)


async def list_configs(request: Request) -> JSONResponse:
    store: Store = request.app.state.store

    def work() -> list[dict[str, Any]]:
        _admin(store, request, "Listing scope configs")
        return [c.summary() for c in store.list_scope_configs()]  # type: ignore[attr-defined]

    return JSONResponse({"status": "success", "data": {"results": await run_in_threadpool(work)}})


async def create_config(request: Request) -> JSONResponse:
    store: Store = request.app.state.store
    await run_in_threadpool(_admin, store, request, "Creating a scope config")
    body = await _parse(request, True)
    if not isinstance(body, dict):
        raise InputInvalid("Invalid request body: expected an object with 'name'.")
    body = dict(body)
    name = body.pop("name", None)

    def work() -> dict[str, Any]:
        try:
            return store.add_scope_config(name, body).summary()  # type: ignore[attr-defined]
        except (ScopeConfigError, StoreError) as exc:
            raise InputInvalid(f"Invalid request body: {exc}") from None

    return JSONResponse({"status": "success", "data": await run_in_threadpool(work)})


async def bind_config(request: Request) -> JSONResponse:
    store: Store = request.app.state.store
    integration_id = request.path_params["integration_id"]
    await run_in_threadpool(_admin, store, request, "Changing an integration's scope config")
    body = await _parse(request, True)
    config_id = body.get("scope_config_id") if isinstance(body, dict) else None
    if not isinstance(config_id, str) or not config_id:
        raise InputInvalid("Invalid request body: 'scope_config_id' (a scope config's id or name) is required.")

    def work() -> dict[str, Any]:
        integration_or_404(store, integration_id)
        try:
            config = store.bind_scope_config(integration_id, config_id)  # type: ignore[attr-defined]
        except NotFound as exc:
            raise InputInvalid(f"Invalid request body at scope_config_id: {exc}") from None
        return {"integration_id": integration_id, "scope_config": {"id": config.id, "name": config.name}}

    return JSONResponse({"status": "success", "data": await run_in_threadpool(work)})


class ScopeConfigNotFound(InputInvalid):
    """No stored scope config has that id or name."""

    status, title = 404, "The scope config was not found."


async def update_config(request: Request) -> JSONResponse:
    """``PUT /v1/scope-configs/{config_id}``: replace a stored config's settings."""
    store: Store = request.app.state.store
    config_id = request.path_params["config_id"]
    await run_in_threadpool(_admin, store, request, "Changing a scope config")
    body = await _parse(request, True)
    if not isinstance(body, dict) or "name" in body:
        raise InputInvalid("Invalid request body: expected the config's settings (models, fields, actions, "
                           "store_remote_data, custom_fields); its name cannot be changed.")

    def work() -> dict[str, Any]:
        try:
            return store.update_scope_config(config_id, body).summary()  # type: ignore[attr-defined]
        except NotFound as exc:
            raise ScopeConfigNotFound(f"{str(exc)[0].upper()}{str(exc)[1:]}.") from None
        except ScopeConfigError as exc:
            raise InputInvalid(f"Invalid request body: {exc}") from None

    return JSONResponse({"status": "success", "data": await run_in_threadpool(work)})


async def set_opt_outs(request: Request) -> JSONResponse:
    """``PUT /v1/integrations/{integration_id}/opt-outs``: the OPTIONAL items the customer declines."""
    store: Store = request.app.state.store
    integration_id = request.path_params["integration_id"]
    await run_in_threadpool(_admin, store, request, "Changing an integration's opt-outs")
    body = await _parse(request, True)
    items = body.get("opt_outs") if isinstance(body, dict) else None
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise InputInvalid("Invalid request body: 'opt_outs' (a list of models.MODEL, fields.MODEL.FIELD or "
                           "actions.ACTION, each OPTIONAL in the integration's scope config) is required.")

    def work() -> dict[str, Any]:
        integration_or_404(store, integration_id)
        try:
            scope = store.set_opt_outs(integration_id, items)  # type: ignore[attr-defined]
        except ScopeConfigError as exc:
            raise InputInvalid(f"Invalid request body at opt_outs: {exc}") from None
        return {"integration_id": integration_id, "scope_config": {"id": scope.id, "name": scope.name},
                "opt_outs": sorted(scope.opted_out)}

    return JSONResponse({"status": "success", "data": await run_in_threadpool(work)})


def scope_config_routes() -> list[Route]:
    """The admin routes, mounted under ``/v1``."""
    return [
        Route("/v1/scope-configs", list_configs, methods=["GET"]),
        Route("/v1/scope-configs", create_config, methods=["POST"]),
        Route("/v1/scope-configs/{config_id}", update_config, methods=["PUT"]),
        Route("/v1/integrations/{integration_id}/scope-config", bind_config, methods=["PUT"]),
        Route("/v1/integrations/{integration_id}/opt-outs", set_opt_outs, methods=["PUT"]),
    ]

"""The Connect API, Kombo-compatible, with the operator's admin key (``engine.connect``):

* ``POST /v1/connect/create-link`` → ``{link}`` (``schemas/lmsync-connect-create-link.schema.json``);
  its ``scope_config_id`` (a stored scope config's id or name, null: the default) is the config
  the new integration is bound to, before the end user's credentials step
  (``engine.connect``); an unknown one answers 400 naming it and the existing ids
* ``GET /v1/connect/integration-by-token/{token}`` → the integration the flow made, once
* ``POST /v1/integrations/{integration_id}/relink`` → ``{link}`` for new credentials, same id;
  ``scope_config_id`` null keeps the integration's scope config, a config's id or name rebinds
  it when the flow completes
* ``GET /v1/connect/links/{link_id}`` (lmsync extension) → a link's state, never its token
* ``/connect/{token}`` → the end user's page: ``engine.api._connect_page`` (mounted by ``create_app``)

Unknown tokens answer 404, used or expired ones 410 (``PLATFORM.INPUT_INVALID``, the message
says which).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from engine.connect import (ConnectInputError, EndUser, LinkExpired, LinkNotFound, LinkUsed, create_link, create_relink,
                            end_user_of, integration_by_token, setup_status)
from engine.integrations import IntegrationMissing
from engine.store.base import Store

from ._auth import admin_integration, authenticate, require_admin
from ._body import read_lmsync_body
from ._errors import InputInvalid, IntegrationNotFound
from ._serialize import iso

__all__ = ["connect_routes", "CREATE_LINK_SCHEMA", "RELINK_SCHEMA", "TokenNotFound", "TokenGone"]

CREATE_LINK_SCHEMA = "lmsync-connect-create-link.schema.json"
RELINK_SCHEMA = "lmsync-connect-relink.schema.json"
# Kombo fields lmsync accepts only with the value that turns the feature off
_OFF_ONLY = {"remote_environment": None, "enable_filtering": False,
             "enable_field_mapping": False, "enable_static_ips": False}


class TokenNotFound(InputInvalid):
    """No Connect link or token matches."""

    status, title = 404, "The token was not found."


class TokenGone(InputInvalid):
    """The Connect link or token was used or expired."""

    status, title = 410, "The token is no longer valid."


def _ok(data: dict[str, Any]) -> JSONResponse:
    return JSONResponse({"status": "success", "data": data})


def _admin(store: Store, request: Request, what: str) -> None:
    require_admin(authenticate(store, request), what)


def _refuse_features(body: dict[str, Any]) -> None:
    for name, off in _OFF_ONLY.items():
        if body.get(name, off) != off:
            raise InputInvalid(f"Invalid request body at {name}: lmsync does not offer this Kombo feature; "
                               f"send {str(off).lower() if off is not None else 'null'} or leave it out.")


def _connect_errors(exc: Exception) -> Exception:
    """The API error for an ``engine.connect`` error."""
    if isinstance(exc, ConnectInputError):
        return InputInvalid(f"Invalid request body at {exc}")
    if isinstance(exc, LinkNotFound):
        return TokenNotFound(f"{exc}.")
    if isinstance(exc, (LinkUsed, LinkExpired)):
        return TokenGone(f"{exc}.")
    return exc


async def create_link_route(request: Request) -> JSONResponse:
    """``POST /v1/connect/create-link``."""
    store: Store = request.app.state.store
    await run_in_threadpool(_admin, store, request, "Creating a Connect link")
    body = await read_lmsync_body(request, CREATE_LINK_SCHEMA, required=True)
    _refuse_features(body)

    def work() -> dict[str, Any]:
        user = EndUser(body["end_user_email"], body["end_user_organization_name"], body.get("end_user_origin_id"))
        try:
            issued = create_link(store, user, tool=body.get("integration_tool"), language=body.get("language"),
                                 link_type=body.get("link_type", "EMBEDDED"),
                                 scope_config_id=body.get("scope_config_id"))
        except ConnectInputError as exc:
            raise _connect_errors(exc) from None
        return {"link": issued.url}

    return _ok(await run_in_threadpool(work))


async def relink_route(request: Request) -> JSONResponse:
    """``POST /v1/integrations/{integration_id}/relink``."""
    store: Store = request.app.state.store
    integration_id = request.path_params["integration_id"]

    await run_in_threadpool(admin_integration, store, request, "Creating a relink link")
    body = await read_lmsync_body(request, RELINK_SCHEMA, required=False)
    _refuse_features(body)

    def work() -> dict[str, Any]:
        try:
            issued = create_relink(store, integration_id, language=body.get("language"),
                                   link_type=body.get("link_type", "EMBEDDED"),
                                   scope_config_id=body.get("scope_config_id"))
        except IntegrationMissing:
            raise IntegrationNotFound(f"No integration with id {integration_id!r} was found.") from None
        except ConnectInputError as exc:
            raise _connect_errors(exc) from None
        return {"link": issued.url}

    return _ok(await run_in_threadpool(work))


async def integration_by_token_route(request: Request) -> JSONResponse:
    """``GET /v1/connect/integration-by-token/{token}``: single use."""
    store: Store = request.app.state.store

    def work() -> dict[str, Any]:
        _admin(store, request, "Reading an integration by its Connect token")
        try:
            integration = integration_by_token(store, request.path_params["token"])
        except (LinkNotFound, LinkUsed, LinkExpired) as exc:
            raise _connect_errors(exc) from None
        user = end_user_of(store, integration)
        return {"id": integration.id, "tool": integration.connector, "end_user_origin_id": user.origin_id,
                "end_user_organization_name": user.organization_name, "end_user_email": user.email,
                "setup_status": setup_status(store, integration)}

    return _ok(await run_in_threadpool(work))


async def link_state_route(request: Request) -> JSONResponse:
    """``GET /v1/connect/links/{link_id}`` (lmsync extension): a link's state, never its token."""
    store: Store = request.app.state.store

    def work() -> dict[str, Any]:
        _admin(store, request, "Reading a Connect link")
        link_id = request.path_params["link_id"]
        link = next((k for k in store.list_connect_links() if k.id == link_id), None)  # type: ignore[attr-defined]
        if link is None:
            raise TokenNotFound(f"No Connect link with id {link_id!r} was found.")
        now = datetime.now(UTC)
        state = "USED" if link.used_at else "EXPIRED" if link.expires_at <= now else "ACTIVE"
        return {"id": link.id, "kind": link.kind.upper(), "link_type": link.link_type, "state": state,
                "integration_id": link.integration_id, "integration_tool": link.tool, "language": link.language,
                "scope_config_id": link.scope_config_id,
                "end_user": {"organization_name": link.end_user_organization_name,
                             "creator_email": link.end_user_email, "origin_id": link.end_user_origin_id},
                "created_at": iso(link.created_at), "expires_at": iso(link.expires_at),
                "used_at": iso(link.used_at) if link.used_at else None}

    return _ok(await run_in_threadpool(work))


def connect_routes() -> list[Route]:
    """The Connect routes."""
    return [
        Route("/v1/connect/create-link", create_link_route, methods=["POST"]),
        Route("/v1/connect/integration-by-token/{token}", integration_by_token_route, methods=["GET"]),
        Route("/v1/connect/links/{link_id}", link_state_route, methods=["GET"]),
        Route("/v1/integrations/{integration_id}/relink", relink_route, methods=["POST"]),
    ]

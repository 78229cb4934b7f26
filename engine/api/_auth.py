"""Authentication (bearer API key, its expiry), integration scoping and the admin-key check.

An *admin key* is one not limited to integrations (``lmsync api-keys create`` without
``--integration``): the operator's. Only it may change an integration (``PATCH``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

from starlette.requests import Request

from engine.store.base import ApiKey, Integration, Store

from ._errors import AuthenticationInvalid, InputInvalid, IntegrationNotFound
from ._keys import verify_key
from ._serialize import iso

__all__ = ["authenticate", "require_admin", "is_admin_key", "scoped_integration", "integration_or_404",
           "admin_integration", "header_integration_id",
           "INTEGRATION_HEADER", "KeyNotPermitted"]

INTEGRATION_HEADER = "x-integration-id"


class KeyNotPermitted(AuthenticationInvalid):
    """A valid key that may not do this (a key limited to integrations asking for an admin operation)."""

    status, title = 403, "The API key may not do this."


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def authenticate(store: Store, request: Request, now: Callable[[], datetime] = _utc_now) -> ApiKey:
    """The API key of the request, or raise ``AuthenticationInvalid`` (missing, unknown, wrong
    secret or expired: the same 401; only the holder of the right secret learns it expired)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationInvalid("Missing API key: send 'Authorization: Bearer <key>'.")
    key = verify_key(store, token.strip())
    if key is None:
        raise AuthenticationInvalid("The API key is invalid.")
    if key.expires_at is not None and key.expired(now()):
        raise AuthenticationInvalid(f"The API key expired at {iso(key.expires_at)}; create a new one "
                                    "with `lmsync api-keys create`.")
    return key


def is_admin_key(key: ApiKey) -> bool:
    """Whether *key* is an admin key (not limited to some integrations)."""
    return key.integration_ids is None


def require_admin(key: ApiKey, what: str) -> None:
    """Raise ``KeyNotPermitted`` (403) unless *key* is an admin key; *what* names the operation."""
    if not is_admin_key(key):
        raise KeyNotPermitted(f"{what} needs an admin API key (one created with `lmsync api-keys create` "
                              f"without --integration); this key ({key.key_id}) is limited to some integrations.")


def integration_or_404(store: Store, integration_id: str, allowed: bool = True) -> Integration:
    """The stored integration, or raise ``IntegrationNotFound`` (also when not *allowed*: the
    same 404 either way)."""
    integration = store.get_integration(integration_id) if allowed else None
    if integration is None:
        raise IntegrationNotFound(f"No integration with id {integration_id!r} was found.")
    return integration


def scoped_integration(store: Store, key: ApiKey, integration_id: str) -> Integration:
    """The integration if it exists and *key* may use it; otherwise the same 404 either way."""
    return integration_or_404(store, integration_id, key.integration_ids is None or integration_id in key.integration_ids)


def admin_integration(store: Store, request: Request, what: str) -> Integration:
    """The integration of the path's ``integration_id`` for operation *what*, which needs an
    admin key: 401, then 403, then 404."""
    require_admin(authenticate(store, request), what)
    return integration_or_404(store, request.path_params["integration_id"])


def header_integration_id(request: Request) -> str:
    """The ``X-Integration-Id`` header, or raise ``InputInvalid``."""
    value = request.headers.get(INTEGRATION_HEADER, "").strip()
    if not value:
        raise InputInvalid("The X-Integration-Id header is required.")
    return value

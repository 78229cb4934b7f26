"""Authentication (bearer API key) and integration scoping."""

from __future__ import annotations

from starlette.requests import Request

from engine.store.base import ApiKey, Integration, Store

from ._errors import AuthenticationInvalid, InputInvalid, IntegrationNotFound
from ._keys import verify_key

__all__ = ["authenticate", "scoped_integration", "header_integration_id", "INTEGRATION_HEADER"]

INTEGRATION_HEADER = "x-integration-id"


def authenticate(store: Store, request: Request) -> ApiKey:
    """The API key of the request, or raise ``AuthenticationInvalid``."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationInvalid("Missing API key: send 'Authorization: Bearer <key>'.")
    key = verify_key(store, token.strip())
    if key is None:
        raise AuthenticationInvalid("The API key is invalid.")
    return key


def scoped_integration(store: Store, key: ApiKey, integration_id: str) -> Integration:
    """The integration if it exists and *key* may use it; otherwise the same 404 either way."""
    allowed = key.integration_ids is None or integration_id in key.integration_ids
    integration = store.get_integration(integration_id) if allowed else None
    if integration is None:
        raise IntegrationNotFound(f"No integration with id {integration_id!r} was found.")
    return integration


def header_integration_id(request: Request) -> str:
    """The ``X-Integration-Id`` header, or raise ``InputInvalid``."""
    value = request.headers.get(INTEGRATION_HEADER, "").strip()
    if not value:
        raise InputInvalid("The X-Integration-Id header is required.")
    return value

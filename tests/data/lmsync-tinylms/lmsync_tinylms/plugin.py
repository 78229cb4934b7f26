"""The TinyLMS connector: its own package, its own mappings, registered by entry point."""

from __future__ import annotations

from importlib import resources

import httpx

from engine.connector import ConnectorInfo
from engine.errors import AuthenticationFailed, BadResponse
from engine.hookspecs import hookimpl

NAME = "tinylms"


@hookimpl
def lmsync_connectors():
    """TinyLMS: users from GET /api/users (bearer token)."""
    return [ConnectorInfo(name=NAME, label="TinyLMS", mappings=resources.files("lmsync_tinylms").joinpath("mappings"),
                          credential_names=("token",), known_calls=frozenset({"users"}))]


@hookimpl
def lmsync_build_request(integration, call, params):
    if integration.connector != NAME:
        return None
    return httpx.Request("GET", f"{integration.base_url}/api/{call}", params=params,
                         headers={"Authorization": f"Bearer {integration.credentials['token']}"})


@hookimpl
def lmsync_parse_response(integration, call, response):
    if integration.connector != NAME:
        return None
    if response.status_code == 401:
        raise AuthenticationFailed("invalid token", call=call)
    try:
        return response.json()
    except ValueError:
        raise BadResponse(f"not JSON (HTTP {response.status_code})", call=call) from None

"""Changing an integration in place: the one logic behind ``lmsync integrations update`` and
``PATCH /v1/integrations/{id}``.

The integration keeps its id, so every synced record keeps its id (ids are derived from the
integration id, the model and the remote id); credentials are re-encrypted by the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from engine.connector import ENGINE_SETTINGS, ConnectorInfo, SettingsError, check_settings, setting_types
from engine.errors import LmsyncError
from engine.plugins import connectors, get_plugin_manager
from engine.store.base import Integration, Store

__all__ = ["IntegrationChange", "UpdateOutcome", "IntegrationMissing", "UnknownConnector", "SiteUrlError",
           "CredentialError", "connector_info", "normalize_site_url", "update_integration", "valid_settings_hint"]


class IntegrationMissing(LmsyncError):
    """No integration has the id given."""


class UnknownConnector(LmsyncError):
    """No installed connector has the name given."""


class SiteUrlError(LmsyncError, ValueError):
    """A site URL is not usable (not http(s), carries credentials, a query or a fragment)."""


class CredentialError(LmsyncError, ValueError):
    """A credential name is not one the connector uses, or its value is empty."""


def connector_info(name: str) -> ConnectorInfo:
    """The installed connector *name*, or ``UnknownConnector`` listing the installed ones."""
    known = connectors(get_plugin_manager())
    if name not in known:
        raise UnknownConnector(f"unknown connector {name!r}; installed: {', '.join(known)} "
                               "(see `lmsync integrations connectors`)")
    return known[name]


def normalize_site_url(url: str, info: ConnectorInfo | None = None) -> tuple[str, str]:
    """``(normalised site URL, note of what was changed)``, or ``SiteUrlError`` saying what is
    wrong; the connector's ``normalize_url`` (e.g. a pasted page of the site → the site root)
    decides when it has one."""
    if info is not None and info.normalize_url is not None:
        try:
            return info.normalize_url(url)
        except ValueError as exc:
            raise SiteUrlError(str(exc)) from None
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SiteUrlError(f"{url!r} is not an http(s) URL")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise SiteUrlError("the site URL must not carry credentials, a query or a fragment")
    return url.strip().rstrip("/"), ""


@dataclass
class IntegrationChange:
    """What to change; ``None`` / empty leaves it as it is.

    ``credentials`` are merged into the stored ones (e.g. ``{"token": new}``); ``settings`` are
    set (already typed values) and ``unset`` removed (back to the connector's default).
    """

    base_url: str | None = None
    credentials: dict[str, str] | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    unset: list[str] = field(default_factory=list)
    enabled: bool | None = None


@dataclass
class UpdateOutcome:
    """The stored integration after the change, notes on what was normalised, and whether the
    site URL or the credentials changed (then a scope test is advised: what the new credentials
    reach may differ)."""

    integration: Integration
    notes: list[str]
    reach_changed: bool

    @property
    def scope_test_advised(self) -> bool:
        """Whether to run ``lmsync scope-test`` now."""
        return self.reach_changed


def _check_credentials(info: ConnectorInfo, credentials: dict[str, Any]) -> None:
    for name, value in credentials.items():
        if name not in info.credential_names:
            raise CredentialError(f"unknown credential {name!r} for the {info.name} connector; "
                                  f"valid: {', '.join(info.credential_names)}")
        if not isinstance(value, str) or not value.strip():
            raise CredentialError(f"credential {name!r}: expected a non-empty string")


def update_integration(store: Store, integration_id: str, change: IntegrationChange) -> UpdateOutcome:
    """Apply *change* to the integration *integration_id* and store it.

    Raises ``IntegrationMissing``, ``SettingsError`` (naming the setting; the valid names for
    an unknown one), ``SiteUrlError`` or ``CredentialError``; nothing is stored then.
    """
    found = store.get_integration(integration_id)
    if found is None:
        raise IntegrationMissing(f"no integration {integration_id!r} (see `lmsync integrations list`)")
    info = connector_info(found.connector)
    old_url, old_credentials = found.base_url, dict(found.credentials)
    settings = {k: v for k, v in found.settings.items() if k not in change.unset}
    found.settings = check_settings(info, {**settings, **change.settings})
    notes: list[str] = []
    if change.base_url is not None:
        found.base_url, note = normalize_site_url(change.base_url, info)
        notes += [note] if note else []
    if change.credentials:
        _check_credentials(info, change.credentials)
        found.credentials = {**found.credentials, **change.credentials}
    if change.enabled is not None:
        found.enabled = change.enabled
    store.update_integration(found)
    reach_changed = found.base_url != old_url or found.credentials != old_credentials
    return UpdateOutcome(found, notes, reach_changed)


def valid_settings_hint(info: ConnectorInfo, error: SettingsError) -> str:
    """*error*'s message, ending with the connector's valid setting names if it does not yet."""
    message = str(error)
    if "valid:" in message:
        return message
    names = [k for k in setting_types(info) if k not in ENGINE_SETTINGS]
    return f"{message}; valid: {', '.join(names) or 'none'}"

"""Data a connector hands to the engine: what it is, and what its credentials can reach."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from typing import Any

from engine.errors import LmsyncError

__all__ = ["DemoSite", "ConnectorInfo", "ScopeEntry", "ScopeReport", "SCOPE_STATES", "ENGINE_SETTINGS",
           "SettingsError", "check_settings", "parse_setting", "setting_types"]

# settings the engine itself keeps on an integration, whatever its connector
ENGINE_SETTINGS: dict[str, dict[str, Any]] = {
    "demo": {"type": "boolean", "description": "set by `lmsync demo` on the embedded simulator's integration"},
}


class SettingsError(LmsyncError):
    """A connector setting is unknown or has a value of the wrong type."""

SCOPE_STATES = ("OK", "DEGRADED", "FORBIDDEN", "MISSING")


@dataclass(frozen=True)
class ConnectorInfo:
    """One connector: its name (the prefix of integration ids), a label, where its mapping
    specs live (a directory of ``*.yaml``), the credential names it needs and default settings.

    ``settings_schema`` is a JSON Schema (an object with ``properties``) of the settings the
    connector reads; ``None`` accepts any. ``normalize_url`` turns what a user pastes (e.g. a
    page of the site) into the base URL the connector wants, returning ``(url, note)`` where
    *note* says what was changed (empty if nothing), or raises ``ValueError`` saying what is wrong.

    ``known_calls`` is every remote function the connector can call (its reference list);
    a mapping spec naming another one in ``call`` or ``requires`` fails to load, with the
    closest known name suggested. ``None``: the connector does not say (nothing is checked).

    ``custom_fields`` says where a model's source answers carry the remote's custom fields, for
    the integration-fields listing (``CUSTOM`` fields): ``{model: {"list": key of the list of
    entries in a source record, "key": entry member naming the field, "label": entry member
    with its display name, "value": entry member with its value}}``."""

    name: str
    label: str
    mappings: Traversable
    credential_names: tuple[str, ...] = ("token",)
    default_settings: dict[str, Any] = field(default_factory=dict)
    settings_schema: dict[str, Any] | None = None
    normalize_url: Callable[[str], tuple[str, str]] | None = None
    known_calls: frozenset[str] | None = None
    custom_fields: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class DemoSite:
    """A running local stand-in of a remote system (e.g. a connector's simulator)."""

    connector: str
    base_url: str
    credentials: dict[str, str]
    label: str = ""


@dataclass
class ScopeEntry:
    """The verdict for one model or action.

    ``status`` is one of ``SCOPE_STATES``: OK; DEGRADED (works, but some fields are withheld);
    FORBIDDEN (functions present, a capability is missing); MISSING (functions absent from the
    credentials' service). ``missing_functions`` and ``missing_capabilities`` say exactly what.
    """

    name: str
    kind: str  # "model" | "action"
    status: str
    missing_functions: list[str] = field(default_factory=list)
    missing_capabilities: list[str] = field(default_factory=list)
    withheld_fields: list[str] = field(default_factory=list)
    detail: str = ""


@dataclass
class ScopeReport:
    """The result of a scope test, plus the setup checklist an admin must follow."""

    entries: list[ScopeEntry]
    functions_to_add: list[str]
    checklist: list[str]
    remote_info: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-serialisable view (used by ``--json`` and the API)."""
        return {
            "entries": [e.__dict__ for e in self.entries],
            "functions_to_add": self.functions_to_add,
            "checklist": self.checklist,
            "remote_info": self.remote_info,
        }


def setting_types(info: ConnectorInfo) -> dict[str, dict[str, Any]]:
    """``{name: property schema}`` of every setting *info* accepts (plus ``ENGINE_SETTINGS``)."""
    props = dict((info.settings_schema or {}).get("properties", {}))
    return {**props, **ENGINE_SETTINGS}


def _unknown(info: ConnectorInfo, key: str, valid: dict[str, Any]) -> SettingsError:
    names = [k for k in valid if k not in ENGINE_SETTINGS]
    close = difflib.get_close_matches(key, names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return SettingsError(f"unknown setting {key!r} for the {info.name} connector{hint} valid: {', '.join(names) or 'none'}")


def parse_setting(info: ConnectorInfo, key: str, raw: str) -> Any:
    """The value of ``--setting key=raw`` typed by *info*'s schema (integer, number, boolean,
    string); raises ``SettingsError`` for an unknown key or a value of the wrong type."""
    valid = setting_types(info)
    if info.settings_schema is None and key not in valid:
        return int(raw) if raw.lstrip("-").isdigit() else raw
    if key not in valid:
        raise _unknown(info, key, valid)
    kind = valid[key].get("type", "string")
    try:
        if kind == "integer":
            return int(raw)
        if kind == "number":
            return float(raw)
        if kind == "boolean":
            lowered = raw.strip().lower()
            if lowered not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(raw)
            return lowered in ("true", "1", "yes")
    except ValueError:
        raise SettingsError(f"setting {key}={raw!r}: expected {'an' if kind == 'integer' else 'a'} {kind}") from None
    return raw


def check_settings(info: ConnectorInfo, settings: dict[str, Any]) -> dict[str, Any]:
    """*settings* checked against *info*'s ``settings_schema`` (already typed values, e.g. from
    JSON); returns them unchanged, or raises ``SettingsError`` naming the first bad setting,
    with the valid names for an unknown one."""
    import jsonschema  # imported here: only admin paths check settings

    valid = setting_types(info)
    if info.settings_schema is None:
        return dict(settings)
    for key in settings:
        if key not in valid:
            raise _unknown(info, key, valid)
    schema = {"type": "object", "properties": valid}
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(settings))
    if error is not None:
        where = ".".join(str(p) for p in error.absolute_path) or "settings"
        raise SettingsError(f"setting {where}={error.instance!r}: {error.message}")
    return dict(settings)

"""Data a connector hands to the engine: what it is, and what its credentials can reach."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from typing import Any

__all__ = ["DemoSite", "ConnectorInfo", "ScopeEntry", "ScopeReport", "SCOPE_STATES"]

SCOPE_STATES = ("OK", "DEGRADED", "FORBIDDEN", "MISSING")


@dataclass(frozen=True)
class ConnectorInfo:
    """One connector: its name (the prefix of integration ids), a label, where its mapping
    specs live (a directory of ``*.yaml``), the credential names it needs and default settings."""

    name: str
    label: str
    mappings: Traversable
    credential_names: tuple[str, ...] = ("token",)
    default_settings: dict[str, Any] = field(default_factory=dict)


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

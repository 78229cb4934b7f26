"""What the engine supplies to the API: ``ApiServices``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.actions import ActionService
    from engine.store.base import Integration

__all__ = ["ApiServices", "ForceSync"]

# (integration_id, "FULL" | "DELTA") -> (sync_id, already_queued)
ForceSync = Callable[[str, str], tuple[str, bool]]


@dataclass
class ApiServices:
    """Callables and settings the engine gives ``create_app``.

    ``force_sync`` queues (or finds already queued/running) a sync and returns its id.
    ``cancel_syncs`` is called when an integration is disabled (running syncs are cancelled).
    ``actions`` (an ``engine.actions.ActionService``) serves the write-action routes; without it
    they answer ``INTEGRATION.ACTION_NOT_AVAILABLE``.
    ``passthrough(integration, request)`` sends a raw request (``engine.passthrough``);
    ``scope_test(integration)`` runs and stores a scope test (``engine.scope``);
    ``test_model(integration, model, pages, parents)`` runs a per-model test (``engine.model_test``).
    ``scope_probe(integration)`` runs a scope test without storing anything and returns its
    ``ScopeReport`` (the Connect page checks new credentials with it; without it, unchecked).
    Without them those routes answer ``INTEGRATION.ACTION_NOT_AVAILABLE``.
    ``tool_info`` returns display data for a connector (``label``, ``logo_url``, ``icon_url``).
    """

    force_sync: ForceSync
    cancel_syncs: Callable[[str], None] | None = None
    run_action: Callable[[str, str, dict[str, Any]], dict[str, Any]] | None = None
    passthrough: Callable[[Integration, dict[str, Any]], dict[str, Any]] | None = None
    scope_test: Callable[[Integration], dict[str, Any]] | None = None
    test_model: Callable[[Integration, str, int, int], dict[str, Any]] | None = None
    tool_info: Callable[[str], dict[str, str]] | None = None
    scope_probe: Callable[[Integration], Any] | None = None
    actions: ActionService | None = None
    environment_id: str = "lmsync"
    customer_id: str = "lmsync"

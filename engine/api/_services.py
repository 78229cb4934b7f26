"""What the engine supplies to the API: ``ApiServices``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.actions import ActionService

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
    ``run_action`` / ``passthrough`` are placeholders for the passthrough route a later step adds.
    ``tool_info`` returns display data for a connector (``label``, ``logo_url``, ``icon_url``).
    """

    force_sync: ForceSync
    cancel_syncs: Callable[[str], None] | None = None
    run_action: Callable[[str, str, dict[str, Any]], dict[str, Any]] | None = None
    passthrough: Callable[[str, dict[str, Any]], dict[str, Any]] | None = None
    tool_info: Callable[[str], dict[str, str]] | None = None
    actions: ActionService | None = None
    environment_id: str = "lmsync"
    customer_id: str = "lmsync"

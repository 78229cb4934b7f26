"""The contract's webhook payloads (``DataChangedWebhookPayload``, ``SyncFinishedWebhookPayload``)."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote

from engine.builtins import iso_from_datetime
from engine.ids import random_id
from engine.models import MODEL_ORDER, MODELS
from engine.store.base import Integration, SyncRun

__all__ = ["data_changed_payload", "sync_finished_payload", "integration_created_payload",
           "connection_flow_failed_payload", "public_url", "EVENT_TYPES"]

_CATEGORY = "LMS"
#: every event type an endpoint can subscribe to
EVENT_TYPES = ("data-changed", "sync-finished", "integration-created", "connection-flow-failed")


def public_url() -> str:
    """Where this lmsync's API is reachable (``$LMSYNC_PUBLIC_URL``), for ``log_url``."""
    return (os.environ.get("LMSYNC_PUBLIC_URL") or "http://127.0.0.1:8000").rstrip("/")


def data_changed_payload(integration: Integration, changed_models: list[str]) -> dict[str, Any]:
    """A ``data-changed`` event naming the changed models by their webhook names, in model order."""
    names = [MODELS[m].webhook_name for m in MODEL_ORDER if m in changed_models]
    return {
        "id": random_id(),
        "type": "data-changed",
        "data": {
            "integration_id": integration.id,
            "integration_tool": integration.connector,
            "integration_category": _CATEGORY,
            "changed_models": [{"name": n} for n in names],
        },
    }


def sync_finished_payload(integration: Integration, run: SyncRun, end_user: dict[str, Any] | None = None) -> dict[str, Any]:
    """A ``sync-finished`` event for *run* (``sync_state`` ``SUCCEEDED`` or ``FAILED``);
    *end_user* (the Connect flow's, ``engine.connect.end_user_of``) or one from the settings."""
    ended = run.finished_at or run.started_at
    settings = integration.settings or {}
    return {
        "id": random_id(),
        "type": "sync-finished",
        "data": {
            "sync_id": run.id,
            "sync_state": "SUCCEEDED" if run.status == "succeeded" else "FAILED",
            "sync_started_at": iso_from_datetime(run.started_at),
            "sync_ended_at": iso_from_datetime(ended),
            "sync_duration_seconds": max(0, int((ended - run.started_at).total_seconds())),
            "integration_id": integration.id,
            "integration_tool": integration.connector,
            "integration_category": _CATEGORY,
            "end_user": end_user or {
                "organization_name": str(settings.get("organization_name") or integration.id),
                "creator_email": settings.get("creator_email"),
                "origin_id": settings.get("origin_id"),
            },
            "log_url": f"{public_url()}/v1/integrations/{quote(integration.id, safe='')}?sync_id={run.id}",
        },
    }


def integration_created_payload(integration_id: str, tool: str, end_user: dict[str, Any]) -> dict[str, Any]:
    """An ``integration-created`` event (``IntegrationCreatedWebhookPayload``); *end_user* is
    ``{organization_name, creator_email, origin_id}``."""
    return {"id": random_id(), "type": "integration-created",
            "data": {"id": integration_id, "tool": tool, "category": _CATEGORY, "end_user": end_user}}


def connection_flow_failed_payload(tool: str, end_user: dict[str, Any], log_url: str) -> dict[str, Any]:
    """A ``connection-flow-failed`` event (``ConnectionFlowFailedWebhookPayload``)."""
    return {"id": random_id(), "type": "connection-flow-failed",
            "data": {"integration_tool": tool, "integration_category": _CATEGORY, "end_user": end_user,
                     "log_url": log_url}}

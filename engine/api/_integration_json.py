"""The GetIntegrationsIntegrationId shape of an ``Integration``: ``end_user`` and ``setup_status``
from the Connect flow (``engine.connect``), ``read_models`` / ``write_actions`` from the last scope test
and the effective scope config (``engine.scope_config``: an opted-out OPTIONAL item answers
``opted_out_by_customer: true``, ``is_available: false``), ``data_expired_at`` from the store."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from engine.connect import end_user_of, setup_status
from engine.guard import held_counts
from engine.models import MODELS
from engine.scope_config import ScopeConfig, scope_config_for
from engine.store.base import Integration, Store

from ._serialize import iso
from ._services import ApiServices

__all__ = ["integration_json", "WRITE_ACTIONS"]

_MODEL_LABELS = {
    "users": "Users",
    "skills": "Skills",
    "courses": "Courses",
    "course_revisions": "Course revisions",
    "revision_skills": "Course revision skills",
    "course_progressions": "Course progressions",
}

# (Kombo-style action id, short name the engine may use in ``availability``, label)
WRITE_ACTIONS: tuple[tuple[str, str, str], ...] = (
    ("lms_upsert_courses", "upsert_course", "Bulk upsert courses"),
    ("lms_deactivate_course", "deactivate_course", "Deactivate course"),
    ("lms_create_course_progression", "enroll", "Enroll user in course"),
    ("lms_complete_course_progression", "complete", "Complete course progression"),
)


def _availability(integration: Integration, *names: str) -> tuple[bool, str]:
    """(is_available, coverage_status) from the cached scope test; untested counts as available."""
    value = next((integration.availability[n] for n in names if n in integration.availability), None)
    if isinstance(value, dict):
        value = value.get("status")
    if value is None:
        return True, "UNKNOWN"
    if value == "NOT_IMPLEMENTED":
        return False, "NOT_IMPLEMENTED"
    return value in ("OK", "DEGRADED"), "SUPPORTED"  # DEGRADED: usable, some fields withheld


def _entry(entry_id: str, label: str, available: tuple[bool, str], setting: str = "ENABLED",
           fields: list[dict[str, Any]] | None = None, *, enabled: bool = True, opted_out: bool = False) -> dict[str, Any]:
    return {
        "id": entry_id,
        "label": label,
        "is_available": available[0] and enabled,
        "coverage_status": available[1],
        "scope_config_setting": setting,
        "opted_out_by_customer": opted_out,
        "fields": fields or [],
    }


def _model_entry(name: str, integration: Integration, scope: ScopeConfig) -> dict[str, Any]:
    """A read model with its fields' scope config settings."""
    m = MODELS[name]
    available = _availability(integration, name, m.webhook_name)
    fields = [{"id": f, "is_available": available[0] and scope.field_enabled(name, f),
               "coverage_status": available[1], "scope_config_setting": scope.field_setting(name, f),
               "opted_out_by_customer": scope.is_opted_out("fields", f"{name}.{f}")} for f in m.fields]
    return _entry(m.webhook_name, _MODEL_LABELS.get(name, name), available, scope.model_setting(name), fields,
                  enabled=scope.model_enabled(name), opted_out=scope.is_opted_out("models", name))


def _action_entry(aid: str, short: str, label: str, integration: Integration, scope: ScopeConfig) -> dict[str, Any]:
    return _entry(aid, label, _availability(integration, short, aid), scope.action_setting(short),
                  enabled=scope.action_enabled(short), opted_out=scope.is_opted_out("actions", short))


def _tool(integration: Integration, services: ApiServices) -> dict[str, Any]:
    c = integration.connector
    tool = {
        "id": c,
        "label": c.replace("_", " ").title(),
        "internal_label": None,
        "logo_url": f"https://lmsync.dev/assets/{c}/logo.svg",
        "icon_url": f"https://lmsync.dev/assets/{c}/icon.svg",
    }
    if services.tool_info:
        tool.update({k: v for k, v in services.tool_info(c).items() if k in tool})
    return tool


def _last_sync(store: Store, integration: Integration) -> dict[str, Any] | None:
    """lmsync's own addition (the contract allows more properties): the newest finished run,
    with the changes the deletion/regression guard held back and its warnings."""
    run = next((r for r in store.list_runs(integration.id, limit=5) if r.status != "running"), None)
    if run is None:
        return None
    held = held_counts(run)
    return {
        "id": run.id, "type": run.kind, "status": run.status.upper(),
        "started_at": iso(run.started_at), "finished_at": iso(run.finished_at) if run.finished_at else None,
        "held_changes": held,
        "confirm_command": f"lmsync deletions confirm {run.id}" if held else None,
        "warnings": run.warnings[:20],
    }


def _expired(store: Store, integration_id: str) -> str | None:
    """``data_expired_at``: when a narrowing of the scope config expired the synced data."""
    lookup = getattr(store, "data_expired_at", None)
    at = lookup(integration_id) if lookup is not None else None
    return iso(at) if at is not None else None


def integration_json(store: Store, integration: Integration, services: ApiServices) -> dict[str, Any]:
    """The ``data`` object of ``GET /integrations/{id}``."""
    created = integration.created_at or datetime.now(timezone.utc)
    scope = scope_config_for(store, integration.id)
    return {
        "id": integration.id,
        "tool": _tool(integration, services),
        "category": "LMS",
        "status": "ACTIVE" if integration.enabled else "INACTIVE",
        "setup_status": setup_status(store, integration),
        "end_user": end_user_of(store, integration).payload(),
        "scope_config": {"id": scope.id, "name": scope.name},
        "data_expired_at": _expired(store, integration.id),
        "created_at": iso(created),
        "beta": False,
        "read_models": [_model_entry(name, integration, scope) for name in MODELS],
        "write_actions": [_action_entry(aid, short, label, integration, scope) for aid, short, label in WRITE_ACTIONS],
        "lmsync_last_sync": _last_sync(store, integration),
    }

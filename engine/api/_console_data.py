"""What the console pages show, gathered from the store (no HTTP here): integration rows, runs,
a running sync's progress, held changes, webhook deliveries, API keys and explorer pages.
Every value is plain data; the templates escape it."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from engine.connect import setup_status
from engine.errors import LmsyncError
from engine.guard import held_counts
from engine.integrations import connector_info
from engine.models import MODELS
from engine.store.base import ApiKey, Integration, Query, StoredRecord, Store, SyncRun

__all__ = ["integration_rows", "run_rows", "progress", "confirmable_run", "key_rows", "explorer_page",
           "record_view", "when", "PAGE_SIZE"]

PAGE_SIZE = 25
_COUNTS = ("created", "updated", "unchanged", "deleted", "invalid", "held_deletions", "held_regressions")


def when(value: datetime | None) -> str:
    """A timestamp as ``YYYY-MM-DD HH:MM:SS UTC`` (empty for none)."""
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else ""


def _label(connector: str) -> str:
    try:
        return connector_info(connector).label
    except LmsyncError:
        return connector


def confirmable_run(store: Store, integration_id: str) -> tuple[SyncRun | None, int]:
    """The run whose held changes can be confirmed (the latest successful one, if it holds any)
    and how many changes it holds."""
    held = store.held_runs(integration_id)  # type: ignore[attr-defined]
    if not held:
        return None, 0
    latest = next((r for r in store.list_runs(integration_id, limit=200) if r.status == "succeeded"), None)
    if latest is None or latest.id not in held:
        return None, 0
    return latest, held[latest.id]


def integration_rows(store: Store) -> list[dict[str, Any]]:
    """One row per integration: connector, site, enabled, setup status, last finished run, held changes."""
    rows = []
    for integration in sorted(store.list_integrations(), key=lambda i: i.id):
        runs = store.list_runs(integration.id, limit=5)
        last = next((r for r in runs if r.status != "running"), None)
        held_run, held = confirmable_run(store, integration.id)
        rows.append({
            "id": integration.id, "connector": _label(integration.connector), "site": integration.base_url,
            "enabled": integration.enabled, "setup_status": setup_status(store, integration),
            "running": any(r.status == "running" for r in runs),
            "last": None if last is None else {"status": last.status, "kind": last.kind,
                                               "finished": when(last.finished_at), "warnings": len(last.warnings)},
            "held": held, "held_run": held_run.id if held_run else None,
            "held_models": held_counts(held_run) if held_run else {},
        })
    return rows


def run_rows(store: Store, integration_id: str, limit: int = 20) -> list[dict[str, Any]]:
    """The integration's newest runs: kind, status, times, per-model counts, error and warnings."""
    out = []
    for run in store.list_runs(integration_id, limit=limit):
        models = [{"model": m, **{k: int(s.get(k, 0)) for k in _COUNTS}} for m, s in run.stats.items()]
        out.append({"id": run.id, "kind": run.kind, "status": run.status, "started": when(run.started_at),
                    "finished": when(run.finished_at), "models": models, "error": run.error or "",
                    "warnings": list(run.warnings)})
    return out


def progress(store: Store, integration: Integration) -> dict[str, Any]:
    """The newest run's progress: ``{run: {id, kind, status} | None, models: [{model, state,
    records}], finished}`` — a model is ``done`` once the run's stats have it, else its stored
    count so far is shown as ``reading`` (while running) or ``waiting``."""
    run = next(iter(store.list_runs(integration.id, limit=1)), None)
    if run is None:
        return {"run": None, "models": [], "finished": True}
    rows = []
    for model in MODELS:
        stats = run.stats.get(model)
        if stats is not None:
            records = sum(int(stats.get(k, 0)) for k in ("created", "updated", "unchanged"))
            rows.append({"model": model, "state": "done", "records": records})
        elif run.status == "running":
            records = store.count(integration.id, model)
            rows.append({"model": model, "state": "reading" if records else "waiting", "records": records})
    return {"run": {"id": run.id, "kind": run.kind, "status": run.status, "started": when(run.started_at)},
            "models": rows, "finished": run.status != "running"}


def key_rows(keys: list[ApiKey], now: datetime) -> list[dict[str, Any]]:
    """API keys, newest first: id, name, scope, created, expiry, expired (never a secret: none is stored)."""
    return [{"key_id": k.key_id, "name": k.name,
             "scope": "admin (every integration)" if k.integration_ids is None else ", ".join(k.integration_ids),
             "created": when(k.created_at), "expires": when(k.expires_at) or "never", "expired": k.expired(now)}
            for k in sorted(keys, key=lambda k: k.created_at, reverse=True)]


def _summary(rec: StoredRecord) -> str:
    values = [f"{k}={v}" for k, v in rec.fields.items()
              if isinstance(v, (str, int, float)) and not isinstance(v, bool) and not k.endswith("_id")]
    text = ", ".join(values[:4])
    return text if len(text) <= 160 else text[:159] + "…"


def explorer_page(store: Store, integration_id: str, model: str, *, after: str | None = None,
                  remote_id: str = "", include_deleted: bool = False, size: int = PAGE_SIZE) -> dict[str, Any]:
    """One page (*size* records, by id) of *model* after *after*, the way the API reads: the store's
    keyset query. ``next`` is the id to continue after, or ``None`` on the last page."""
    query = Query(integration_id=integration_id, model=model, limit=size + 1, after_id=after or None,
                  remote_ids=[remote_id] if remote_id else None, include_deleted=include_deleted)
    rows = store.query(query)
    page = rows[:size]
    return {"records": [{"id": r.id, "remote_id": r.remote_id, "summary": _summary(r), "changed": when(r.changed_at),
                         "deleted": when(r.remote_deleted_at)} for r in page],
            "next": page[-1].id if len(rows) > size else None,
            "total": store.count(integration_id, model, include_deleted=include_deleted)}


def record_view(store: Store, integration_id: str, model: str, record_id: str) -> dict[str, Any] | None:
    """One record with its unified fields and ``remote_data`` as pretty JSON text, or ``None``."""
    rec = store.get_many(integration_id, model, [record_id]).get(record_id)
    if rec is None:
        return None
    return {"id": rec.id, "remote_id": rec.remote_id, "changed": when(rec.changed_at),
            "deleted": when(rec.remote_deleted_at),
            "fields": json.dumps(rec.fields, indent=2, ensure_ascii=False, sort_keys=True, default=str),
            "remote_data": json.dumps(rec.remote_data, indent=2, ensure_ascii=False, sort_keys=True, default=str)}

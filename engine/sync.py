"""Sync runs: read every model of an integration through its specs and store the result.

Rules (see ``engine.store.base`` for the storage side):

* One run per integration at a time — the lock is the store's ``start_run`` (a database row),
  kept alive by a heartbeat thread; a second request gets ``SyncAlreadyRunning``.
* Models run in ``engine.models.MODEL_ORDER``. Each model is written in one transaction that
  commits only after its whole stream was read; a failure rolls that model back.
* Deletions are marked only after a FULL run in which every model succeeded.
* DELTA runs read with the spec's ``delta`` params where it has them, otherwise a full read;
  their changes are applied, never deletions.
* An invalid record is counted and reported (field, value, remote id), never stored; its id
  still counts as seen, so a record that turns invalid is not reported as deleted.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pluggy

from engine.errors import LmsyncError, RecordError, SyncError
from engine.ids import record_id
from engine.mapper import iter_mapped
from engine.plugins import connectors, get_plugin_manager
from engine.runner import RunContext
from engine.spec import SpecSet, function_set, load_specs
from engine.store.base import Integration, MappedRecord, Store, StoredRecord, SyncRun, WriteCounts
from engine.transport import RetryPolicy, Transport

__all__ = ["SyncEngine", "ModelProgress", "now_utc"]

log = logging.getLogger("lmsync.sync")
_BATCH = 1000
_MAX_REPORTED_INVALID = 50


def now_utc() -> datetime:
    """The current time, UTC, aware."""
    return datetime.now(UTC)


@dataclass
class ModelProgress:
    """Progress of one model inside a run, passed to the ``on_progress`` callback."""

    model: str
    records: int = 0
    invalid: int = 0
    calls: int = 0
    done: bool = False
    stats: dict[str, Any] = field(default_factory=dict)


class _Heartbeat:
    """Keeps the run's lock fresh from a background thread while the run works."""

    def __init__(self, store: Store, run_id: str, every: float = 15.0) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, args=(store, run_id, every), daemon=True, name="lmsync-heartbeat")

    def _beat(self, store: Store, run_id: str, every: float) -> None:
        while not self._stop.wait(every):
            try:
                store.heartbeat(run_id, now_utc())
            except Exception:  # noqa: BLE001 - a missed beat must not kill the run
                log.warning("heartbeat of run %s failed", run_id, exc_info=True)

    def __enter__(self) -> "_Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


class SyncEngine:
    """Runs syncs of integrations into a store. One instance serves many integrations."""

    def __init__(
        self,
        store: Store,
        pm: pluggy.PluginManager | None = None,
        *,
        client_factory: Callable[[], httpx.Client] | None = None,
        policy: RetryPolicy = RetryPolicy(),
        max_concurrency: int = 8,
        heartbeat_s: float | None = None,
        stale_after_s: float | None = None,
    ) -> None:
        self.store = store
        self.pm = pm or get_plugin_manager()
        self.functions = function_set(self.pm)
        self.connectors = connectors(self.pm)
        self._specsets: dict[str, SpecSet] = {}
        self.client_factory = client_factory
        self.policy = policy
        self.max_concurrency = max_concurrency
        # A run whose heartbeat is older than stale_after_s belongs to a dead process (killed,
        # machine lost): the next sync takes over. Keep it well above heartbeat_s.
        self.heartbeat_s = heartbeat_s or float(os.environ.get("LMSYNC_HEARTBEAT_S", 10))
        self.stale_after_s = stale_after_s or float(os.environ.get("LMSYNC_STALE_AFTER_S", 60))

    # --- building blocks (also used by actions, scope tests and per-model tests) ----------
    def specset(self, connector: str) -> SpecSet:
        """The loaded specs of *connector* (loaded and compiled once)."""
        if connector not in self._specsets:
            if connector not in self.connectors:
                raise LmsyncError(f"no connector named {connector!r} (installed: {', '.join(self.connectors) or 'none'})")
            self._specsets[connector] = load_specs(self.connectors[connector].mappings, connector, self.functions)
        return self._specsets[connector]

    def transport(self, integration: Integration) -> Transport:
        """A transport for *integration* (the caller closes it)."""
        client = self.client_factory() if self.client_factory else None
        return Transport(integration, self.pm, client=client, policy=self.policy, max_concurrency=self.max_concurrency)

    def context(self, integration: Integration, transport: Transport, *, kind: str = "FULL", since: int | None = None) -> RunContext:
        """A run context reading *integration* through *transport*."""
        info = self.connectors[integration.connector]
        settings = {**info.default_settings, **(integration.settings or {})}
        return RunContext(
            specset=self.specset(integration.connector),
            call=transport.call,
            settings=settings,
            integration_info={"id": integration.id, "base_url": integration.base_url.rstrip("/"), "settings": settings},
            since=since,
            delta=kind == "DELTA",
        )

    # --- runs ----------------------------------------------------------------------------
    def sync(
        self,
        integration_id: str,
        kind: str = "FULL",
        models: Iterable[str] | None = None,
        on_progress: Callable[[ModelProgress], None] | None = None,
        run_id: str | None = None,
    ) -> SyncRun:
        """Run one sync and return its stored ``SyncRun`` (status ``succeeded`` or ``failed``).

        *run_id* names the run (a queue hands out the id before the run starts); default fresh.

        Raises ``SyncAlreadyRunning`` if the integration is locked, ``SyncError`` if it does
        not exist; every failure after the lock is taken is recorded in the run instead.
        """
        if kind not in ("FULL", "DELTA"):
            raise SyncError(f"unknown sync kind {kind!r}; expected FULL or DELTA")
        integration = self.store.get_integration(integration_id)
        if integration is None:
            raise SyncError(f"no integration {integration_id!r}")
        specset = self.specset(integration.connector)
        wanted = specset.order(models)
        since = self._last_success(integration_id) if kind == "DELTA" else None
        run = self.store.start_run(integration_id, kind, now_utc(), stale_after_s=self.stale_after_s, run_id=run_id)
        self.pm.hook.lmsync_sync_started(integration=integration, run=run)
        transport = self.transport(integration)
        changed: list[str] = []
        try:
            with _Heartbeat(self.store, run.id, self.heartbeat_s):
                ctx = self.context(integration, transport, kind=kind, since=since)
                seen = {m: self._sync_model(integration, ctx, m, run, transport, on_progress) for m in wanted}
                if kind == "FULL":
                    for model, ids in seen.items():
                        deleted = self.store.mark_deleted(integration_id, model, ids, now_utc())
                        run.stats[model]["deleted"] = deleted
            run.warnings.extend(ctx.warnings)
            run.status = "succeeded"
        except Exception as exc:  # noqa: BLE001 - every failure is recorded on the run
            run.status = "failed"
            run.error = transport.redact(f"{exc.__class__.__name__}: {exc}")
            log.warning("sync %s of %s failed: %s", run.id, integration_id, run.error)
        finally:
            transport.close()
            run.finished_at = now_utc()
            changed = [m for m, s in run.stats.items() if s.get("created") or s.get("updated") or s.get("deleted")]
            self.store.finish_run(run)
            self.pm.hook.lmsync_sync_finished(integration=integration, run=run, changed_models=changed, store=self.store)
        return run

    def refresh(self, integration: Integration, model: str, remote_ids: Iterable[str], parents: dict[str, list[Any]] | None = None,
                transport: Transport | None = None) -> list[StoredRecord]:
        """Re-read some records of *model* right after a write action and store them.

        The model's spec runs with its fan-outs over the models named in *parents* limited to
        those parent records (given in the fan-out's ``keep`` shape, e.g. ``{"courses":
        [{"id": 42}]}``); only records whose remote id is in *remote_ids* are written (others
        read on the way may lack data from the limited parents). Nothing is marked deleted.
        Returns the stored records, in the order of *remote_ids* (missing ones left out).
        """
        wanted = [str(r) for r in remote_ids]
        own = transport is None
        transport = transport or self.transport(integration)
        try:
            ctx = self.context(integration, transport)
            ctx.parent_override = dict(parents or {})
            secrets = list(integration.credentials.values())
            keep = set(wanted)
            found: list[MappedRecord] = []
            for item in iter_mapped(ctx, ctx.specset.specs[model], integration.id, secrets):
                if isinstance(item, RecordError):
                    if item.remote_id in keep:
                        raise item
                    continue
                if item.remote_id in keep:
                    found.append(item)
        finally:
            if own:
                transport.close()
        if found:
            with self.store.writer(integration.id, model) as writer:
                writer.write(found, now_utc())
        stored = self.store.get_many(integration.id, model, [r.id for r in found])
        return [stored[r.id] for r in found if r.id in stored]

    def _last_success(self, integration_id: str) -> int | None:
        for past in self.store.list_runs(integration_id, limit=50):
            if past.status == "succeeded":
                return int(past.started_at.timestamp())
        return None

    def _sync_model(
        self,
        integration: Integration,
        ctx: RunContext,
        model: str,
        run: SyncRun,
        transport: Transport,
        on_progress: Callable[[ModelProgress], None] | None,
    ) -> set[str]:
        spec = ctx.specset.specs[model]
        started = time.perf_counter()
        calls_before = sum(transport.calls.values())
        retries_before = sum(transport.retries.values())
        progress = ModelProgress(model)
        counts = WriteCounts()
        invalid_ids: set[str] = set()
        secrets = list(integration.credentials.values())
        with self.store.writer(integration.id, model) as writer:
            batch: list[MappedRecord] = []
            for item in iter_mapped(ctx, spec, integration.id, secrets):
                if isinstance(item, RecordError):
                    progress.invalid += 1
                    if item.remote_id is not None:
                        invalid_ids.add(record_id(integration.id, model, item.remote_id))
                    if progress.invalid <= _MAX_REPORTED_INVALID:
                        ctx.warn(f"invalid record skipped: {item}")
                    continue
                batch.append(item)
                if len(batch) >= _BATCH:
                    counts.add(writer.write(batch, now_utc()))
                    progress.records += len(batch)
                    batch = []
                    self._report(progress, transport, calls_before, on_progress)
            if batch:
                counts.add(writer.write(batch, now_utc()))
                progress.records += len(batch)
            seen = set(writer.seen_ids) | invalid_ids
        if progress.invalid > _MAX_REPORTED_INVALID:
            ctx.warn(f"{model}: {progress.invalid - _MAX_REPORTED_INVALID} more invalid records not listed")
        progress.stats = run.stats[model] = {
            "created": counts.created,
            "updated": counts.updated,
            "unchanged": counts.unchanged,
            "deleted": 0,
            "invalid": progress.invalid,
            "calls": sum(transport.calls.values()) - calls_before,
            "retries": sum(transport.retries.values()) - retries_before,
            "seconds": round(time.perf_counter() - started, 3),
        }
        progress.done = True
        self._report(progress, transport, calls_before, on_progress)
        return seen

    @staticmethod
    def _report(progress: ModelProgress, transport: Transport, calls_before: int, cb: Callable[[ModelProgress], None] | None) -> None:
        progress.calls = sum(transport.calls.values()) - calls_before
        if cb:
            cb(progress)

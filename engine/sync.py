"""Sync runs: read every model of an integration through its specs and store the result.

Rules (see ``engine.store.base`` for the storage side):

* One run per integration at a time — the lock is the store's ``start_run`` (a database row),
  kept alive by a heartbeat thread; a second request gets ``SyncAlreadyRunning``.
* Models run in ``engine.models.MODEL_ORDER``. Each model is written in one transaction that
  commits only after its whole stream was read; a failure rolls that model back.
* Deletions are marked only after a FULL run in which every model succeeded.
  Mass deletions and status regressions are held instead (``engine.guard``).
* DELTA runs read with the spec's ``delta`` params where it has them, otherwise a full read;
  their changes are applied, never deletions.
* An invalid record is counted and reported (field, value, remote id), never stored; its id
  still counts as seen, so a record that turns invalid is not reported as deleted.
"""

from __future__ import annotations

import difflib
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pluggy

from engine.errors import LmsyncError, RecordError, SyncError
from engine.guard import RegressionFilter, apply_deletions
from engine.ids import record_id
from engine.mapper import iter_mapped
from engine.plugins import connectors, get_plugin_manager
from engine.runner import RunContext
from engine.scope_config import ScopeConfig, purge_disabled, scope_config_for
from engine.spec import SpecSet, function_set
from engine.spec._dirs import SpecFile, load_connector_specs
from engine.store.base import Integration, MappedRecord, RunFenced, Store, StoredRecord, SyncRun, WriteCounts
from engine.transport import RetryPolicy, Transport
from engine.config import lock_timing

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
    read: int = 0  # records read so far (valid or not; ``records`` counts the stored ones)
    stats: dict[str, Any] = field(default_factory=dict)


class _Heartbeat:
    """Keeps the run's lock fresh from a background thread while the run works, and notices
    when the run lost the lock (taken over after a pause longer than the stale limit): then
    ``check`` raises ``RunFenced`` so the run stops before its next batch. Writes are fenced
    in the store as well; this only stops the reading early."""

    def __init__(self, store: Store, run_id: str, every: float = 15.0) -> None:
        self._stop = threading.Event()
        self.lost = threading.Event()
        self.run_id = run_id
        self._thread = threading.Thread(target=self._beat, args=(store, run_id, every), daemon=True, name="lmsync-heartbeat")

    def _beat(self, store: Store, run_id: str, every: float) -> None:
        while not self._stop.wait(every):
            try:
                if not store.heartbeat(run_id, now_utc()):
                    self.lost.set()
                    log.warning("run %s lost its lock (taken over); it stops without writing", run_id)
                    return
            except Exception:  # noqa: BLE001 - a missed beat must not kill the run
                log.warning("heartbeat of run %s failed", run_id, exc_info=True)

    def check(self) -> None:
        """Raise ``RunFenced`` if the run lost its lock."""
        if self.lost.is_set():
            raise RunFenced(self.run_id, "taken over")

    def __enter__(self) -> "_Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


class _Ticker:
    """Calls *tick* every *every* seconds from a background thread while the block runs, so
    progress shows live calls during look-ups and joins that yield nothing for minutes."""

    def __init__(self, tick: Callable[[], None], enabled: bool = True, every: float = 0.5) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(tick, every), daemon=True, name="lmsync-progress") if enabled else None

    def _run(self, tick: Callable[[], None], every: float) -> None:
        while not self._stop.wait(every):
            try:
                tick()
            except Exception:  # noqa: BLE001 - a display failure must not kill the run
                log.debug("progress callback failed", exc_info=True)

    def __enter__(self) -> "_Ticker":
        if self._thread:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)


def _checked_models(models: Iterable[str] | None, specset: SpecSet) -> list[str] | None:
    """*models* as a list; a name without a spec raises ``SyncError`` with the list and a guess."""
    if models is None:
        return None
    models = list(models)
    unknown = [m for m in models if m not in specset.specs]
    if unknown:
        known = sorted(specset.specs)
        guesses = [g for m in unknown for g in difflib.get_close_matches(m, known, n=1)]
        hint = f"; did you mean {', '.join(guesses)}?" if guesses else ""
        raise SyncError(f"unknown model {', '.join(map(repr, unknown))}{hint} (models: {', '.join(known)})")
    return models


def _clear_expiry(store: Store, integration_id: str, started_at: datetime) -> None:
    """A successful FULL sync of every model removed what a narrowed scope config no longer
    covers: clear the integration's ``data_expired_at`` (``engine.scope_config``)."""
    clear = getattr(store, "clear_data_expired", None)
    if clear is None:
        return
    try:
        clear(integration_id, started_at)
    except Exception as exc:  # noqa: BLE001 - the run is recorded; the next FULL sync clears it
        log.warning("clearing data_expired_at of %s failed: %s", integration_id, exc)


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
        self.spec_files: dict[str, dict[str, SpecFile]] = {}
        self.client_factory = client_factory
        self.policy = policy
        self.max_concurrency = max_concurrency
        # A run whose heartbeat is older than stale_after_s belongs to a dead process (killed,
        # machine lost): the next sync takes over. Keep it well above heartbeat_s.
        self.heartbeat_s, self.stale_after_s = lock_timing(heartbeat_s, stale_after_s)
        self.progress_every_s = 0.5  # on_progress is also called this often while a model runs

    # --- building blocks (also used by actions, scope tests and per-model tests) ----------
    def specset(self, connector: str) -> SpecSet:
        """The loaded specs of *connector* (loaded and compiled once, calls checked against the
        connector's known functions), the operator's ``$LMSYNC_MAPPINGS_DIR`` overrides applied;
        ``spec_files[connector][spec.file]`` says where each is from."""
        if connector not in self._specsets:
            if connector not in self.connectors:
                raise LmsyncError(f"no connector named {connector!r} (installed: {', '.join(self.connectors) or 'none'})")
            info = self.connectors[connector]
            specset, files = load_connector_specs(connector, info.mappings, self.functions, known_calls=info.known_calls)
            self._specsets[connector], self.spec_files[connector] = specset, files
        return self._specsets[connector]

    def settings(self, integration: Integration) -> dict[str, Any]:
        """*integration*'s settings over its connector's defaults."""
        return {**self.connectors[integration.connector].default_settings, **(integration.settings or {})}

    def specset_for(self, integration: Integration) -> SpecSet:
        """The specs *integration* uses: its connector's, each model's variant chosen by its settings."""
        return self.specset(integration.connector).for_settings(self.settings(integration))

    def transport(self, integration: Integration) -> Transport:
        """A transport for *integration* (the caller closes it)."""
        client = self.client_factory() if self.client_factory else None
        return Transport(integration, self.pm, client=client, policy=self.policy, max_concurrency=self.max_concurrency)

    def context(self, integration: Integration, transport: Transport, *, kind: str = "FULL", since: int | None = None) -> RunContext:
        """A run context reading *integration* through *transport*."""
        settings = self.settings(integration)
        return RunContext(
            specset=self.specset_for(integration),
            call=transport.call,
            call_accepting=transport.call,
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
        specset = self.specset_for(integration)
        wanted = specset.order(_checked_models(models, specset))
        since = self._last_success(integration_id) if kind == "DELTA" else None
        transport = self.transport(integration)
        try:
            run = self.store.start_run(integration_id, kind, now_utc(), stale_after_s=self.stale_after_s, run_id=run_id)
        except BaseException:
            transport.close()
            raise
        changed: list[str] = []
        try:  # from the lock on, everything (even a Ctrl-C) ends in finish_run
            self.pm.hook.lmsync_sync_started(integration=integration, run=run)
            with _Heartbeat(self.store, run.id, self.heartbeat_s) as beat:
                ctx = self.context(integration, transport, kind=kind, since=since)
                scope = scope_config_for(self.store, integration.id)
                purge_disabled(self.store, integration.id, scope, run)
                seen = {m: self._sync_model(integration, ctx, m, run, transport, on_progress, beat, scope)
                        for m in wanted if scope.model_enabled(m)}
                if kind == "FULL":
                    apply_deletions(self.store, integration, run, seen, now_utc())
            run.warnings.extend(ctx.warnings)
            run.status = "succeeded"
        except Exception as exc:  # noqa: BLE001 - every failure is recorded on the run
            run.status = "failed"
            run.error = transport.redact(f"{exc.__class__.__name__}: {exc}")
            log.warning("sync %s of %s failed: %s", run.id, integration_id, run.error)
        except BaseException as exc:  # Ctrl-C, SIGTERM (as SystemExit): record, release the lock, re-raise
            run.status = "cancelled"
            run.error = f"cancelled ({exc.__class__.__name__})"
            raise
        finally:
            transport.close()
            run.finished_at = now_utc()
            changed = [m for m, s in run.stats.items() if s.get("created") or s.get("updated") or s.get("deleted")]
            if self._finish(run):
                if run.status == "succeeded" and kind == "FULL" and set(wanted) >= set(specset.specs):
                    _clear_expiry(self.store, integration_id, run.started_at)
                self.pm.hook.lmsync_sync_finished(integration=integration, run=run, changed_models=changed, store=self.store)
        return run

    def _finish(self, run: SyncRun) -> bool:
        """Store the run's outcome; False if it lost its lock meanwhile (the taker's record of
        it — failed, abandoned — stays, and *run* is set to match: nothing it did was kept
        after the takeover, so nothing is reported as changed)."""
        try:
            self.store.finish_run(run)
            return True
        except RunFenced as exc:
            log.warning("%s", exc)
            stored = self.store.get_run(run.id)
            run.status = stored.status if stored else "failed"
            run.error = (stored.error if stored else None) or str(exc)
            return False

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
            stored = functools.partial(self.store.get_many, integration.id, model)
            scope = scope_config_for(self.store, integration.id)
            if not scope.model_enabled(model):  # its rows are removed, not re-read
                return []
            for item in iter_mapped(ctx, ctx.specset.specs[model], integration.id, secrets, stored, scope):
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
        beat: _Heartbeat | None = None,
        scope: ScopeConfig | None = None,
    ) -> set[str]:
        spec = ctx.specset.specs[model]
        started = time.perf_counter()
        calls_before = sum(transport.calls.values())
        retries_before = sum(transport.retries.values())
        progress = ModelProgress(model)
        counts = WriteCounts()
        invalid_ids: set[str] = set()
        secrets = list(integration.credentials.values())
        self._report(progress, transport, calls_before, on_progress)
        with self.store.writer(integration.id, model, run_id=run.id) as writer, \
                _Ticker(lambda: self._report(progress, transport, calls_before, on_progress), on_progress is not None,
                        self.progress_every_s):
            batch: list[MappedRecord] = []
            regressions = RegressionFilter(self.store, integration, model, run)
            stored = functools.partial(self.store.get_many, integration.id, model)
            for item in iter_mapped(ctx, spec, integration.id, secrets, stored, scope):
                progress.read += 1
                if isinstance(item, RecordError):
                    progress.invalid += 1
                    if item.remote_id is not None:
                        invalid_ids.add(record_id(integration.id, model, item.remote_id))
                    if progress.invalid <= _MAX_REPORTED_INVALID:
                        ctx.warn(f"invalid record skipped: {item}")
                    continue
                batch.append(item)
                if len(batch) >= _BATCH:
                    if beat is not None:
                        beat.check()
                    counts.add(writer.write(regressions.filter(batch, writer), now_utc()))
                    progress.records += len(batch)
                    batch = []
                    self._report(progress, transport, calls_before, on_progress)
            if batch:
                counts.add(writer.write(regressions.filter(batch, writer), now_utc()))
                progress.records += len(batch)
            if (late := regressions.finish(writer, now_utc())) is not None:
                counts.add(late)
            seen = set(writer.seen_ids) | invalid_ids | regressions.held_ids
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
        if regressions.held_ids:
            run.stats[model]["held_regressions"] = len(regressions.held_ids)
        progress.done = True
        self._report(progress, transport, calls_before, on_progress)
        return seen

    @staticmethod
    def _report(progress: ModelProgress, transport: Transport, calls_before: int, cb: Callable[[ModelProgress], None] | None) -> None:
        progress.calls = sum(transport.calls.values()) - calls_before
        if cb:
            cb(progress)

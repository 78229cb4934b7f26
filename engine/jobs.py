"""Where syncs run: in this process (the embedded default) or on Celery workers.

``LocalSyncQueue`` runs syncs on a small thread pool. At most one sync per integration is
queued or running at a time: asking again returns the id of the one already waiting or
running (``already_queued=True``). The database lock in ``Store.start_run`` still guards
against syncs started by other processes, and a run started elsewhere counts as running.
The sync id handed out is the id of the run it becomes.

``make_sync_queue`` picks Celery (``engine.worker``) when ``$LMSYNC_BROKER_URL`` is set.
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Protocol

from engine.ids import random_id
from engine.store.base import Store, SyncAlreadyRunning, SyncRun
from engine.sync import SyncEngine

__all__ = ["LocalSyncQueue", "SyncQueue", "live_run", "make_sync_queue"]

log = logging.getLogger("lmsync.jobs")


class SyncQueue(Protocol):
    """What the API and the scheduler need from a queue."""

    def force_sync(self, integration_id: str, kind: str = "FULL") -> tuple[str, bool]:
        """Queue a sync; ``(sync id, already_queued)``."""


def live_run(store: Store, integration_id: str, stale_after_s: float) -> SyncRun | None:
    """The integration's running run if its heartbeat is fresh (else ``None``)."""
    limit = datetime.now(UTC) - timedelta(seconds=stale_after_s)
    for run in store.list_runs(integration_id, limit=5):
        if run.status == "running" and (run.heartbeat_at or run.started_at) > limit:
            return run
    return None


class LocalSyncQueue:
    """Queue syncs onto background threads of this process."""

    def __init__(self, engine: SyncEngine, workers: int = 2) -> None:
        self.engine = engine
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lmsync-sync")
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[str, str, Future]] = {}

    def force_sync(self, integration_id: str, kind: str = "FULL") -> tuple[str, bool]:
        """Queue a sync; ``(sync id, already_queued)``."""
        with self._lock:
            current = self._pending.get(integration_id)
            if current and not current[2].done():
                return current[0], True
            running = live_run(self.engine.store, integration_id, self.engine.stale_after_s)
            if running is not None:
                return running.id, True
            sync_id = random_id()
            future = self._pool.submit(self._run, integration_id, kind, sync_id)
            self._pending[integration_id] = (sync_id, kind, future)
            return sync_id, False

    def _run(self, integration_id: str, kind: str, sync_id: str) -> None:
        try:
            self.engine.sync(integration_id, kind, run_id=sync_id)
        except SyncAlreadyRunning:
            log.info("sync of %s skipped: another process is syncing it", integration_id)
        except Exception:  # noqa: BLE001 - a background job must log, not vanish
            log.exception("sync of %s could not start", integration_id)

    def wait(self, integration_id: str, timeout: float | None = None) -> None:
        """Block until the queued sync of *integration_id* (if any) has finished."""
        current = self._pending.get(integration_id)
        if current:
            current[2].result(timeout=timeout)

    def shutdown(self) -> None:
        """Wait for running syncs and stop the pool."""
        self._pool.shutdown(wait=True, cancel_futures=True)


def make_sync_queue(engine: SyncEngine, broker_url: str | None = None) -> SyncQueue:
    """A ``CelerySyncQueue`` when a broker is configured (argument or ``$LMSYNC_BROKER_URL``),
    else a ``LocalSyncQueue`` on *engine*."""
    url = broker_url or os.environ.get("LMSYNC_BROKER_URL")
    if not url:
        return LocalSyncQueue(engine)
    from engine.worker import CelerySyncQueue  # celery is the optional [worker] extra

    return CelerySyncQueue(engine.store, broker_url=url, stale_after_s=engine.stale_after_s)

"""In-process execution of syncs for the embedded default (no broker needed).

``LocalSyncQueue`` runs syncs on a small thread pool. At most one sync per integration is
queued or running at a time: asking again returns the id of the one already waiting
(``already_queued=True``). The database lock in ``Store.start_run`` still guards against
syncs started by other processes.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from engine.ids import random_id
from engine.store.base import SyncAlreadyRunning
from engine.sync import SyncEngine

__all__ = ["LocalSyncQueue"]

log = logging.getLogger("lmsync.jobs")


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
            sync_id = random_id()
            future = self._pool.submit(self._run, integration_id, kind)
            self._pending[integration_id] = (sync_id, kind, future)
            return sync_id, False

    def _run(self, integration_id: str, kind: str) -> None:
        try:
            self.engine.sync(integration_id, kind)
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

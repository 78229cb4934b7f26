"""Periodic syncs: which integrations are due, and a small loop that queues them.

Due is computed from the runs table (``Store.latest_runs``), so any number of schedulers and
workers agree without shared memory:

* FULL is due when the last *successful* FULL started more than ``full_hours`` ago (or never).
* Otherwise DELTA is due when the last successful run of either kind started more than
  ``delta_hours`` ago.
* Nothing is due while a run of the integration is ``running``, nor within ``retry_after_s``
  of a failed attempt of that kind (a broken site is not hammered every tick).

Intervals: per integration settings ``full_sync_interval_hours`` / ``delta_sync_interval_hours``
(``0`` disables that kind), else ``$LMSYNC_FULL_SYNC_HOURS`` (10) / ``$LMSYNC_DELTA_SYNC_HOURS`` (3).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from engine.config import env_number, lock_timing
from engine.store.base import Integration, Store

__all__ = ["Intervals", "due_syncs", "Scheduler"]

log = logging.getLogger("lmsync.schedule")

# (integration_id, kind) -> (sync id, already_queued)
Submit = Callable[[str, str], tuple[str, bool]]


@dataclass(frozen=True)
class Intervals:
    """Default sync intervals in hours, and the pause after a failed attempt in seconds."""

    full_hours: float = 10.0
    delta_hours: float = 3.0
    retry_after_s: float = 900.0

    @classmethod
    def from_env(cls) -> "Intervals":
        """``LMSYNC_FULL_SYNC_HOURS``, ``LMSYNC_DELTA_SYNC_HOURS``, ``LMSYNC_RETRY_FAILED_S``."""
        return cls(full_hours=env_number("LMSYNC_FULL_SYNC_HOURS"), delta_hours=env_number("LMSYNC_DELTA_SYNC_HOURS"),
                   retry_after_s=env_number("LMSYNC_RETRY_FAILED_S"))

    def of(self, integration: Integration) -> tuple[float, float]:
        """``(full_hours, delta_hours)`` of *integration* (its settings override the defaults)."""
        s = integration.settings or {}
        return (float(s.get("full_sync_interval_hours", self.full_hours)),
                float(s.get("delta_sync_interval_hours", self.delta_hours)))


def _newest(*values: datetime | None) -> datetime | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _live_running(store: Store, latest: dict, now: datetime) -> set[str]:
    """Integrations with a running run whose heartbeat is fresh (a stale one will be taken over)."""
    stale_after = timedelta(seconds=lock_timing()[1])
    live = set()
    for iid in {iid for (iid, _kind, status) in latest if status == "running"}:
        for run in store.list_runs(iid, limit=5):
            beat = run.heartbeat_at or run.started_at
            if run.status == "running" and now - beat < stale_after:
                live.add(iid)
    return live


def due_syncs(store: Store, now: datetime | None = None, intervals: Intervals | None = None) -> list[tuple[str, str]]:
    """``[(integration_id, "FULL"|"DELTA")]`` of the enabled integrations due now."""
    now = now or datetime.now(UTC)
    intervals = intervals or Intervals.from_env()
    latest = store.latest_runs()
    running = _live_running(store, latest, now)
    due = []
    for integration in store.list_integrations():
        if not integration.enabled or integration.id in running:
            continue
        full_h, delta_h = intervals.of(integration)

        def last(kind: str, status: str, iid: str = integration.id) -> datetime | None:
            return latest.get((iid, kind, status))

        for kind, hours, last_ok in (
            ("FULL", full_h, last("FULL", "succeeded")),
            ("DELTA", delta_h, _newest(last("FULL", "succeeded"), last("DELTA", "succeeded"))),
        ):
            if hours <= 0 or (last_ok is not None and now - last_ok < timedelta(hours=hours)):
                continue
            failed = last(kind, "failed")
            if failed is None or (last_ok is not None and failed < last_ok) \
                    or now - failed >= timedelta(seconds=intervals.retry_after_s):
                due.append((integration.id, kind))
            break  # the first kind due wins; while it waits after a failure, nothing else runs
    return due


class Scheduler:
    """Queues due syncs through *submit* every *tick_s* seconds (a thread or the foreground).

    *on_tick* (optional) runs after each tick, e.g. to resume overdue webhook deliveries.
    """

    def __init__(self, store: Store, submit: Submit, *, tick_s: float = 60.0, intervals: Intervals | None = None,
                 on_tick: Callable[[], None] | None = None) -> None:
        self.store = store
        self.submit = submit
        self.tick_s = tick_s
        self.intervals = intervals or Intervals.from_env()
        self.on_tick = on_tick
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self, now: datetime | None = None) -> list[tuple[str, str, str, bool]]:
        """Queue every due sync once; ``[(integration_id, kind, sync id, already_queued)]``."""
        queued = []
        for iid, kind in due_syncs(self.store, now, self.intervals):
            try:
                sync_id, already = self.submit(iid, kind)
            except Exception:  # noqa: BLE001 - one bad integration must not stop the others
                log.exception("queueing the %s sync of %s failed", kind, iid)
                continue
            queued.append((iid, kind, sync_id, already))
            log.info("scheduled %s sync of %s: %s%s", kind, iid, sync_id, " (already queued)" if already else "")
        if self.on_tick:
            self.on_tick()
        return queued

    def run_forever(self) -> None:
        """Tick until ``stop()`` (errors are logged, the loop goes on)."""
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - e.g. the database is briefly unreachable
                log.exception("scheduler tick failed")
            self._stop.wait(self.tick_s)

    def start(self) -> "Scheduler":
        """Run the loop in a daemon thread (embedded mode)."""
        self._thread = threading.Thread(target=self.run_forever, daemon=True, name="lmsync-scheduler")
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the loop (and join its thread)."""
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

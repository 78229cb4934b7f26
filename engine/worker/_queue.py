"""``CelerySyncQueue``: ``force_sync`` for the API and the scheduler when a broker is configured."""

from __future__ import annotations

import redis

from engine.config import lock_timing
from engine.ids import random_id
from engine.jobs import live_run
from engine.store.base import Store
from engine.worker._app import SYNC_TASK, make_celery, queue_name
from engine.worker._tasks import queued_key, release

__all__ = ["CelerySyncQueue"]


class CelerySyncQueue:
    """Sends syncs to Celery workers; one queued-or-running sync per integration.

    The "queued" marker is a Redis key (``SET NX``, expiring after ``marker_ttl_s`` in case a
    message is ever lost); a run already going in the database also counts.
    """

    def __init__(self, store: Store, broker_url: str | None = None, queue: str | None = None, *,
                 stale_after_s: float | None = None, marker_ttl_s: int = 6 * 3600) -> None:
        self.store = store
        self.queue = queue or queue_name()
        self.app = make_celery(broker_url, self.queue)
        self.redis = redis.Redis.from_url(self.app.conf.broker_url)
        self.stale_after_s = stale_after_s or lock_timing()[1]
        self.marker_ttl_s = marker_ttl_s

    def force_sync(self, integration_id: str, kind: str = "FULL") -> tuple[str, bool]:
        """Queue a sync; ``(sync id, already_queued)``."""
        running = live_run(self.store, integration_id, self.stale_after_s)
        if running is not None:
            return running.id, True
        sync_id = random_id()
        key = queued_key(self.queue, integration_id)
        if not self.redis.set(key, sync_id, nx=True, ex=self.marker_ttl_s):
            existing = self.redis.get(key)
            if existing is not None:
                return existing.decode(), True
            return self.force_sync(integration_id, kind)  # the marker vanished just now
        try:
            self.app.send_task(SYNC_TASK, args=[integration_id, kind, sync_id], queue=self.queue)
        except Exception:
            release(self.redis, self.queue, integration_id, sync_id)
            raise
        return sync_id, False

    def close(self) -> None:
        """Release the broker and Redis connections."""
        self.redis.close()
        self.app.close()

"""The sync task a worker runs, and the per-process engine it uses.

``lmsync.sync(integration_id, kind, sync_id)``: the run is created with id *sync_id*, so the
id ``force-sync`` answered is the id in the runs table and in the ``sync-finished`` webhook.
When the message comes back (its worker died, or the visibility timeout passed):

* the run *sync_id* finished → nothing to do;
* it is ``running`` with a fresh heartbeat → someone is still on it: retry later;
* it is ``running`` but stale → its worker died: sync again under a new run id; ``start_run``
  marks the dead run ``abandoned``. The dead run deleted nothing (deletions happen only at the
  end of a complete FULL run) and each model it wrote committed whole or not at all.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

import redis
from celery import shared_task
from celery.signals import worker_process_init

from engine.config import database_url
from engine.errors import SyncError
from engine.ids import random_id
from engine.store import open_store
from engine.store.base import SyncAlreadyRunning
from engine.sync import SyncEngine
from engine.worker._app import SYNC_TASK

__all__ = ["sync_task", "process_engine", "queued_key", "release"]

log = logging.getLogger("lmsync.worker")
_lock = threading.Lock()
_engine: SyncEngine | None = None
# Delete the "queued" marker only if it still names this sync.
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"


def queued_key(queue: str, integration_id: str) -> str:
    """The Redis key that marks a sync of *integration_id* queued or running on *queue*."""
    return f"lmsync:queued:{queue}:{integration_id}"


def release(client: redis.Redis, queue: str, integration_id: str, sync_id: str) -> None:
    """Drop the queued marker of *sync_id* (a newer marker is left alone)."""
    client.eval(_RELEASE, 1, queued_key(queue, integration_id), sync_id)


def process_engine() -> SyncEngine:
    """This worker process's engine on ``$LMSYNC_DATABASE_URL`` (opened and migrated once)."""
    global _engine
    with _lock:
        if _engine is None:
            store = open_store(database_url())
            store.migrate()
            _engine = SyncEngine(store)
        return _engine


@worker_process_init.connect
def _forget_parent_engine(**_: object) -> None:
    global _engine
    _engine = None  # a forked pool child must not share its parent's connections


def _redis(task) -> redis.Redis:
    return redis.Redis.from_url(task.app.conf.broker_url)


@shared_task(name=SYNC_TASK, bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def sync_task(self, integration_id: str, kind: str, sync_id: str) -> str:
    """Run one queued sync (see the module docstring for redelivery)."""
    engine = process_engine()
    queue = self.request.delivery_info.get("routing_key") or self.app.conf.task_default_queue
    previous = engine.store.get_run(sync_id)
    run_id = sync_id
    if previous is not None:
        if previous.status != "running":
            release(_redis(self), queue, integration_id, sync_id)
            return previous.status
        beat = previous.heartbeat_at or previous.started_at
        if beat > datetime.now(UTC) - timedelta(seconds=engine.stale_after_s):
            raise self.retry(countdown=max(1.0, engine.heartbeat_s))
        run_id = random_id()
        log.warning("sync %s of %s was abandoned by a dead worker; taking over as run %s", sync_id, integration_id, run_id)
    try:
        run = engine.sync(integration_id, kind, run_id=run_id)
        return run.status
    except SyncAlreadyRunning as exc:
        log.info("sync %s of %s skipped: run %s is already running", sync_id, integration_id, exc.run_id)
        return "skipped"
    except SyncError as exc:
        log.warning("sync %s of %s could not start: %s", sync_id, integration_id, exc)
        return "failed"
    finally:
        release(_redis(self), queue, integration_id, sync_id)

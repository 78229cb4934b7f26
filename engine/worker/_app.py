"""The Celery application: broker, queue and the settings that make killed workers safe.

* ``task_acks_late`` + ``task_reject_on_worker_lost``: a task is acknowledged only when it
  finished, so a worker killed mid-sync (SIGKILL, lost machine) gives its message back.
* ``visibility_timeout`` (``$LMSYNC_VISIBILITY_TIMEOUT_S``, default 300 s): how long Redis
  waits before handing an unacknowledged message to another worker when the whole worker
  process died. A long sync that outlives it is redelivered too; the task sees its own run
  still beating and waits instead of running twice (see ``_tasks``).
* ``worker_prefetch_multiplier=1``: a worker holds one sync at a time, so syncs spread out.
"""

from __future__ import annotations

import os

from celery import Celery

__all__ = ["make_celery", "broker_url", "queue_name", "SYNC_TASK"]

SYNC_TASK = "lmsync.sync"


def broker_url() -> str | None:
    """``$LMSYNC_BROKER_URL`` (e.g. ``redis://127.0.0.1:6379/0``) or ``None``."""
    return os.environ.get("LMSYNC_BROKER_URL") or None


def queue_name() -> str:
    """``$LMSYNC_QUEUE`` or ``lmsync``: the Celery queue syncs go to."""
    return os.environ.get("LMSYNC_QUEUE") or "lmsync"


def _transport_options() -> dict[str, float]:
    from engine.config import env_number

    visibility = env_number("LMSYNC_VISIBILITY_TIMEOUT_S")
    # Sweep for messages of dead workers often enough that they come back soon after
    # the visibility timeout (kombu's default sweep is every ~100 s).
    return {"visibility_timeout": visibility, "unacked_restore_interval": max(1, min(10, int(visibility // 4))),
            "unacked_restore_throttle": 1}


def make_celery(url: str | None = None, queue: str | None = None) -> Celery:
    """A Celery app on broker *url* (default ``$LMSYNC_BROKER_URL``) sending to *queue*."""
    url = url or broker_url() or "redis://127.0.0.1:6379/0"
    queue = queue or queue_name()
    app = Celery("lmsync", broker=url, include=["engine.worker._tasks"])
    app.conf.update(
        task_default_queue=queue,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options=_transport_options(),
        task_serializer="json",
        accept_content=["json"],
    )
    return app

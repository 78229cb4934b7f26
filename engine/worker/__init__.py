"""Production execution: Celery workers on Redis syncing into the PostgreSQL store.

``lmsync worker`` runs ``make_celery()`` workers; ``lmsync scheduler`` queues due syncs;
the API's ``force-sync`` uses ``CelerySyncQueue`` when ``$LMSYNC_BROKER_URL`` is set. The
per-integration lock is the database's (``Store.start_run``), never process memory.
Needs the ``[worker]`` extra (``celery``, ``redis``).

Errors: none of its own; a sync's failure is recorded on its run.
"""

from engine.worker._app import SYNC_TASK, broker_url, make_celery, queue_name
from engine.worker._queue import CelerySyncQueue

__all__ = ["make_celery", "broker_url", "queue_name", "CelerySyncQueue", "SYNC_TASK"]

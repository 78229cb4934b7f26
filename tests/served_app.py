"""The API app as ``lmsync serve`` wires it (scope test, sync queue; no scheduler), on a fresh
SQLite store, served on loopback: shared by the Connect page and scope-config tests."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from engine.api import ApiServices, create_app, serve_in_thread
from engine.cli._tools import tool_services
from engine.jobs import LocalSyncQueue
from engine.store import open_store
from engine.sync import SyncEngine
from engine.transport import RetryPolicy

__all__ = ["served_app"]


@contextlib.contextmanager
def served_app(db: Path) -> Iterator[tuple[Any, str]]:
    """(store, base URL) of the app on a new SQLite file *db*; the queue and store are closed after."""
    store = open_store(f"sqlite://{db}")
    store.migrate()
    engine = SyncEngine(store, policy=RetryPolicy(base_delay=0.01, max_delay=0.05))
    queue = LocalSyncQueue(engine)
    app = create_app(store, services=ApiServices(force_sync=queue.force_sync, **tool_services(engine)))
    try:
        with serve_in_thread(app) as url:
            yield store, url
    finally:
        queue.shutdown()
        store.close()

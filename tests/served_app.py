"""The API app as ``lmsync serve`` wires it (scope test, sync queue; no scheduler), on a fresh
SQLite store, served on loopback: shared by the Connect page and scope-config tests."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from engine.api import ApiServices, create_app, serve_in_thread
from engine.cli._tools import tool_services
from engine.jobs import LocalSyncQueue
from engine.store import open_store
from engine.sync import SyncEngine
from engine.transport import RetryPolicy

__all__ = ["served_app", "csrf_of", "wait_finished"]


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


def csrf_of(page: str) -> str:
    """The CSRF field of a Connect page form."""
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def wait_finished(client: httpx.Client, path: str, timeout: float = 60) -> dict[str, Any]:
    """Poll a Connect link's ``/status`` until its first sync finished (or *timeout* s)."""
    deadline = time.monotonic() + timeout
    while True:
        status = client.get(f"{path}/status").json()
        if status["finished"] or time.monotonic() > deadline:
            return status
        time.sleep(0.2)

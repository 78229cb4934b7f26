"""Read-ahead for clients paging through a list: the next page is ready when it is asked for.

A client mirroring a model pages through it in order and spends as long decoding each page as
the server spends composing it. After answering a page that has a ``next`` cursor, the server
composes that next page on a worker thread while the client is busy, and keeps it (rendered)
under a key of everything that determines it: API key, integration, endpoint, filters, page
size and cursor.

When the request for it comes, the kept page is served only if it is still exactly what would be
composed now: the version token (``Store.versions``) of every model the page reads was read
before composing started and must be unchanged. A write in between, of any process, replaces a
token, and the page is composed again. Authentication, the integration scope and the cursor
are always checked on the request itself. A page whose composition has not started yet is
cancelled and composed by the request (no queueing behind other clients); kept pages expire
after ``ttl_s`` and at most ``max_entries`` are kept (the oldest is dropped).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

__all__ = ["ReadAhead"]

Versions = Callable[[str, Sequence[str]], dict[str, Any]]


@dataclass
class _Kept:
    future: Future
    integration_id: str
    models: tuple[str, ...]
    created: float


class ReadAhead:
    """Pages composed ahead of their request (see the module docstring).

    ``stats`` counts what happened: ``submitted``, ``served``, ``stale`` (a model changed or the
    page expired), ``cancelled`` (asked for before composing started), ``failed`` and
    ``dropped`` (pushed out by newer pages).
    """

    def __init__(self, versions: Versions, *, workers: int = 2, max_entries: int = 64, ttl_s: float = 30.0) -> None:
        self._versions = versions
        self._workers = workers
        self._max = max_entries
        self._ttl = ttl_s
        self._pool: ThreadPoolExecutor | None = None
        self._kept: dict[Hashable, _Kept] = {}
        self._lock = threading.Lock()
        self.stats: Counter[str] = Counter()

    def submit(self, key: Hashable, integration_id: str, models: Sequence[str], compose: Callable[[], Any]) -> None:
        """Compose the page *key* with *compose* on a worker; *models* are the models it reads."""
        models = tuple(models)

        def run() -> tuple[dict[str, Any], Any]:
            before = self._versions(integration_id, models)
            return before, compose()

        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="lmsync-read-ahead")
            self._drop_expired_locked()
            while len(self._kept) >= self._max:
                self._drop_locked(next(iter(self._kept)), "dropped")
            self._kept[key] = _Kept(self._pool.submit(run), integration_id, models, time.monotonic())
            self.stats["submitted"] += 1

    def take(self, key: Hashable) -> Any | None:
        """The page kept under *key* if it is still current, else ``None`` (compose it now)."""
        with self._lock:
            kept = self._kept.pop(key, None)
        if kept is None:
            return None
        if kept.future.cancel():
            self.stats["cancelled"] += 1
            return None
        try:
            before, page = kept.future.result()
        except Exception:  # noqa: BLE001 - the request composes it again and reports the error itself
            self.stats["failed"] += 1
            return None
        fresh = time.monotonic() - kept.created <= self._ttl
        if not fresh or self._versions(kept.integration_id, kept.models) != before:
            self.stats["stale"] += 1
            return None
        self.stats["served"] += 1
        return page

    def close(self) -> None:
        """Drop every kept page and stop the workers."""
        with self._lock:
            for key in list(self._kept):
                self._drop_locked(key, "dropped")
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def _drop_locked(self, key: Hashable, reason: str) -> None:
        self._kept.pop(key).future.cancel()
        self.stats[reason] += 1

    def _drop_expired_locked(self) -> None:
        limit = time.monotonic() - self._ttl
        for key in [k for k, v in self._kept.items() if v.created < limit]:
            self._drop_locked(key, "stale")

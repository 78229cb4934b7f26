"""``BoundedPool``: at most *max_size* open connections, each checked out for one operation.

The SQLite backend's pool (the PostgreSQL backend uses ``psycopg_pool.ConnectionPool``, which
keeps the same promise). A thread takes a connection for one statement or transaction and puts
it back afterwards, so the number of open connections (and their file descriptors and page
caches) is bounded by the pool, not by how many threads have ever run a query.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from engine.store.base import StoreError

__all__ = ["BoundedPool", "PoolStats", "pool_size", "DEFAULT_POOL_SIZE"]

DEFAULT_POOL_SIZE = 8
_ENV = "LMSYNC_DB_POOL_SIZE"


def pool_size() -> int:
    """``$LMSYNC_DB_POOL_SIZE`` (default 8): the most store connections one store object opens
    for its readers and short transactions."""
    from engine.config import env_number
    from engine.errors import ConfigError

    try:
        return int(env_number(_ENV))
    except ConfigError as exc:
        raise StoreError(f"{exc}: expected a whole number of connections (1 or more)") from None


@dataclass(frozen=True)
class PoolStats:
    """A snapshot: connections open (idle + in use), idle, and the bound."""

    open: int
    idle: int
    max_size: int


class BoundedPool:
    """Connections made by *connect*, at most *max_size* open at once.

    *reset* runs on every connection given back (e.g. roll back a transaction left open);
    if it raises, the connection is closed instead of kept. A checkout waits up to
    *timeout* seconds for a free connection, then raises ``StoreError``.
    """

    def __init__(self, connect: Callable[[], Any], max_size: int, *, reset: Callable[[Any], None] | None = None,
                 timeout: float = 60.0) -> None:
        if max_size < 1:
            raise StoreError(f"a connection pool needs at least 1 connection, not {max_size}")
        self._connect = connect
        self._reset = reset
        self.max_size = max_size
        self._timeout = timeout
        self._idle: list[Any] = []
        self._open = 0
        self._closed = False
        self._cond = threading.Condition()

    def __repr__(self) -> str:
        s = self.stats()
        return f"BoundedPool(open={s.open}, idle={s.idle}, max_size={s.max_size})"

    @contextlib.contextmanager
    def connection(self) -> Iterator[Any]:
        """A connection for the length of the block, then given back."""
        conn = self._take()
        try:
            yield conn
        finally:
            self._give_back(conn)

    def stats(self) -> PoolStats:
        """How many connections are open and idle now."""
        with self._cond:
            return PoolStats(open=self._open, idle=len(self._idle), max_size=self.max_size)

    def close(self) -> None:
        """Close the idle connections now and the ones in use when they are given back."""
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._open -= len(idle)
            self._cond.notify_all()
        for conn in idle:
            conn.close()

    def _take(self) -> Any:
        deadline = time.monotonic() + self._timeout
        with self._cond:
            while True:
                if self._closed:
                    raise StoreError("store is closed")
                if self._idle:
                    return self._idle.pop()
                if self._open < self.max_size:
                    self._open += 1  # the slot is reserved; connect outside the lock
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    raise StoreError(f"no free store connection within {self._timeout:g} s"
                                     f" (all {self.max_size} in use; see {_ENV})")
                self._cond.wait(left)
        try:
            return self._connect()
        except BaseException:
            self._release_slot()
            raise

    def _give_back(self, conn: Any) -> None:
        try:
            if self._reset is not None:
                self._reset(conn)
        except Exception:  # noqa: BLE001 - an unusable connection is dropped, not kept
            self._discard(conn)
            return
        with self._cond:
            if not self._closed:
                self._idle.append(conn)
                self._cond.notify()
                return
        self._discard(conn)

    def _discard(self, conn: Any) -> None:
        try:
            conn.close()
        finally:
            self._release_slot()

    def _release_slot(self) -> None:
        with self._cond:
            self._open -= 1
            self._cond.notify()

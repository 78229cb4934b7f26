"""The store's connection pool: bounded however many threads come and go, closed by ``close()``."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from engine.store._pool import BoundedPool, pool_size
from engine.store.base import Integration, StoreError
from storetest_util import PG_DSN, at, rec


class _FakeConn:
    def __init__(self, opened: list["_FakeConn"]) -> None:
        self.closed = False
        opened.append(self)

    def close(self) -> None:
        self.closed = True


def _fds_on(prefix: str) -> int:
    """Descriptors of this process open on files whose path starts with *prefix*."""
    n = 0
    for fd in Path("/proc/self/fd").iterdir():
        try:
            n += os.readlink(fd).startswith(prefix)
        except OSError:
            pass
    return n


def _pg_sessions(application_name: str) -> int:
    import psycopg

    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                            [application_name]).fetchone()[0]


def _open_connections(store) -> int:
    if store.kind == "sqlite":
        return _fds_on(str(store.path))
    return _pg_sessions(store.application_name)


def _until_zero(count, deadline_s: float = 10.0) -> int:
    """*count()* once it reaches 0, or its last value (a server backend exits just after its client)."""
    end = time.monotonic() + deadline_s
    while (n := count()) and time.monotonic() < end:
        time.sleep(0.05)
    return n


def test_bounded_pool_never_opens_more_than_max_size_and_close_closes_all():
    opened: list[_FakeConn] = []
    pool = BoundedPool(lambda: _FakeConn(opened), 3)
    barrier = threading.Barrier(10)
    peak = []

    def work() -> None:
        barrier.wait()
        with pool.connection():
            peak.append(pool.stats().open)

    threads = [threading.Thread(target=work) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(opened) <= 3 and max(peak) <= 3
    with pool.connection() as held:
        pool.close()
        assert not held.closed  # in use: closed when given back
    assert all(c.closed for c in opened) and pool.stats().open == 0
    with pytest.raises(StoreError, match="closed"):
        with pool.connection():
            pass


def test_bounded_pool_checkout_gives_up_with_a_clear_error_when_all_are_in_use():
    pool = BoundedPool(lambda: _FakeConn([]), 1, timeout=0.01)
    with pool.connection():
        with pytest.raises(StoreError, match="all 1 in use; see LMSYNC_DB_POOL_SIZE"):
            with pool.connection():
                pass


def test_a_connection_whose_reset_fails_is_dropped_not_reused():
    opened: list[_FakeConn] = []

    def reset(conn: _FakeConn) -> None:
        raise RuntimeError("broken")

    pool = BoundedPool(lambda: _FakeConn(opened), 2, reset=reset)
    with pool.connection():
        pass
    assert opened[0].closed and pool.stats().open == 0


def test_pool_size_setting(monkeypatch):
    monkeypatch.delenv("LMSYNC_DB_POOL_SIZE", raising=False)
    assert pool_size() == 8
    monkeypatch.setenv("LMSYNC_DB_POOL_SIZE", "3")
    assert pool_size() == 3
    for bad in ("0", "many"):
        monkeypatch.setenv("LMSYNC_DB_POOL_SIZE", bad)
        with pytest.raises(StoreError, match=f"LMSYNC_DB_POOL_SIZE='{bad}'"):
            pool_size()


def _same_store(store, size: int):
    """A second store object on *store*'s database with a pool of *size*."""
    from engine.store.postgres import PostgresStore
    from engine.store.sqlite import SQLiteStore

    other = (SQLiteStore(store.path, secret_box=store.box, pool_size=size) if store.kind == "sqlite"
             else PostgresStore(PG_DSN, schema=store.schema, secret_box=store.box, pool_size=size))
    other.kind = store.kind
    return other


def test_many_short_lived_threads_share_at_most_pool_size_connections_and_close_closes_them(store, iid):
    store.close()
    store = _same_store(store, 3)
    store.add_integration(Integration(id=iid, connector="moodle", base_url="https://x", credentials={}))
    with store.writer(iid, "skills") as w:  # the writer's own connection is given up afterwards too
        w.write([rec(iid, "skills", f"s{n}", name=f"S{n}") for n in range(5)], at(0))
    counts: list[int] = []

    def read(barrier: threading.Barrier) -> None:
        barrier.wait()
        counts.append(store.count(iid, "skills"))
        store.get_integration(iid)

    for _ in range(4):  # four generations of threads, each thread gone after its reads
        barrier = threading.Barrier(8)
        threads = [threading.Thread(target=read, args=(barrier,)) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert counts == [5] * 32
    if store.kind == "sqlite":
        assert store._pool_obj.stats().open <= 3
        assert _open_connections(store) <= 3 * 2 + 1  # main file + WAL per connection, one shared -shm
    else:
        assert _open_connections(store) <= 3
    store.close()
    assert _until_zero(lambda: _open_connections(store)) == 0
    with pytest.raises(StoreError, match="closed"):
        store.count(iid, "skills")


def test_nested_use_on_one_thread_reuses_its_connection(store, iid):
    store = _same_store(store, 1)  # a nested checkout that waited on the pool would never get one
    with store._conn() as outer, store._conn() as inner:
        assert inner is outer
        assert store.get_integration(iid) is None
    store.close()

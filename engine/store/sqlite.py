"""``SQLiteStore``: the store in one SQLite file (stdlib ``sqlite3``, WAL mode).

Connections come from a bounded pool (``engine.store._pool``, ``$LMSYNC_DB_POOL_SIZE``), one
checked out per operation; readers run concurrently with the single writer (WAL). Each
connection has a 16 MiB page cache, so the pool bounds that memory too (8 × 16 MiB by default);
a model writer and its hash scan use connections of their own, closed when they are done.
Write transactions start with ``BEGIN IMMEDIATE`` (one writer at a time, also across
processes) and, inside one process, queue on a lock instead of spinning on ``SQLITE_BUSY``.
Timestamps are stored as fixed-width ISO 8601 UTC text, so text order is time order.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from engine.secrets import SecretBox
from engine.store._dialect import Dialect, utc
from engine.store._pool import BoundedPool
from engine.store._schema import Types
from engine.store._sql import SQLStore
from engine.store._writer import STAGE, stage_columns, stage_ddl
from engine.store.base import StoreError

__all__ = ["SQLiteStore"]


class SQLiteDialect(Dialect):
    """SQLite: ``?`` placeholders, JSON as text, timestamps as ISO text."""

    types = Types(key="TEXT", text="TEXT", json="TEXT", ts="TEXT", boolean="INTEGER")

    def ts_in(self, dt: datetime | None) -> str | None:
        if dt is None:
            return None
        return utc(dt).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"

    def ts_out(self, value: Any) -> datetime | None:
        if value is None:
            return None
        return datetime.fromisoformat(value)  # stored with a trailing Z: parsed as UTC (3.11+)

    def json_out(self, value: Any) -> Any:
        return None if value is None else orjson.loads(value)

    def bool_in(self, value: bool) -> int:
        return 1 if value else 0

    def in_list(self, expr: str, values: Sequence[str]) -> tuple[str, list[Any]]:
        # One JSON array parameter instead of N placeholders: no SQLITE_MAX_VARIABLE_NUMBER limit.
        return f"{expr} IN (SELECT value FROM json_each(?))", [json.dumps(list(values))]

    def json_text(self, column: str, name: str) -> tuple[str, list[Any]]:
        return f"CAST(json_extract({column}, ?) AS TEXT)", ['$."' + name.replace('"', '""') + '"']

    def is_unique_violation(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.IntegrityError)


def _end_transaction(conn: sqlite3.Connection) -> None:
    """Roll back a transaction left open, so the next user of a pooled connection starts clean."""
    if conn.in_transaction:
        conn.rollback()


class SQLiteStore(SQLStore):
    """The SQLite backend. ``path`` is the database file (its directory is created)."""

    def __init__(self, path: str | Path, *, secret_box: SecretBox | None = None,
                 busy_timeout_s: float = 60.0, pool_size: int | None = None) -> None:
        super().__init__(SQLiteDialect(), secret_box, pool_size)
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._timeout = busy_timeout_s
        self._write_lock = threading.RLock()

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"

    # --- connections -----------------------------------------------------------------------
    def _make_pool(self, size: int) -> BoundedPool:
        return BoundedPool(self._open_conn, size, reset=_end_transaction, timeout=self._timeout)

    def _open_conn(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError("store is closed")
        conn = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None,
                               check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA temp_store=MEMORY")
        conn.execute("PRAGMA cache_size=-16384")  # 16 MiB: bulk merges touch several indexes; more costs RSS
        return conn

    def _close_conn(self, conn: sqlite3.Connection) -> None:
        conn.close()

    @contextlib.contextmanager
    def _tx_on(self, conn: sqlite3.Connection) -> Iterator[sqlite3.Cursor]:
        with self._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            cur = conn.cursor()
            try:
                yield cur
            except BaseException:
                conn.rollback()
                raise
            else:
                conn.commit()
            finally:
                cur.close()

    def _load_hashes(self, conn: sqlite3.Connection, integration_id: str, model: str) -> tuple[dict[str, bytes], set[str]]:
        # Scanned on a one-off connection with a small page cache: through the writer's own
        # connection the scan would fill its 16 MiB cache just before the model's answer is
        # parsed (a re-sync's peak RSS).
        scan = self._open_conn()
        try:
            scan.execute("PRAGMA cache_size=-1024")
            return super()._load_hashes(scan, integration_id, model)
        finally:
            scan.close()

    # --- writer staging --------------------------------------------------------------------
    def _create_stage(self, conn: sqlite3.Connection, model: str) -> None:
        # The staging table can hold a whole model (100,000 rows of JSON): keep it in a temp
        # file (OS page cache), not in this process's memory (peak RSS of a large sync).
        conn.execute("PRAGMA temp_store=FILE")
        conn.execute(f"DROP TABLE IF EXISTS temp.{STAGE}")
        conn.execute(stage_ddl(self, model))

    def _stage_rows(self, conn: sqlite3.Connection, model: str, rows: list[tuple[Any, ...]]) -> None:
        cols = stage_columns(model)
        sql = f"INSERT INTO temp.{STAGE} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
        conn.execute("BEGIN")  # only the TEMP database is written: no lock on the main file
        try:
            conn.executemany(sql, rows)
        except BaseException:
            conn.rollback()
            raise
        conn.commit()

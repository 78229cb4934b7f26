"""``PostgresStore``: the store in PostgreSQL (psycopg 3), optionally inside one schema.

Connections come from a ``psycopg_pool.ConnectionPool`` (at most ``$LMSYNC_DB_POOL_SIZE``,
default 8, per store object), each checked out for one operation; they run in autocommit mode
and transactions are explicit. Every connection names itself ``lmsync:<schema>`` in
``application_name`` (unless the DSN sets one), so ``pg_stat_activity`` shows what is whose. JSON columns are
``jsonb``, timestamps ``timestamptz`` (sessions run in UTC), and every id column uses the
``"C"`` collation so ordering is bytewise, identical to SQLite. Writers stage rows with
``COPY`` into a TEMP table. Transactions that must not interleave across processes (the run
lock, migrations) take a transaction-scoped advisory lock.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from typing import Any

import orjson
import psycopg
from psycopg.types.json import set_json_loads
from psycopg import errors as pg_errors
from psycopg import sql as pg_sql
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

from engine.secrets import SecretBox
from engine.store._dialect import Dialect, dump_json, utc
from engine.store._schema import Types
from engine.store._query import check_model
from engine.store._sql import SQLStore
from engine.store._writer import STAGE, stage_columns, stage_ddl
from engine.store.base import StoreError

__all__ = ["PostgresStore"]

# jsonb rejects the NUL character; an escaped NUL (not preceded by an odd run of backslashes)
# becomes U+FFFD.
_JSON_NUL = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


class PostgresDialect(Dialect):
    """PostgreSQL: ``%s`` placeholders, jsonb, timestamptz, ``= ANY(array)``."""

    types = Types(key='TEXT COLLATE "C"', text="TEXT", json="JSONB", ts="TIMESTAMPTZ", boolean="BOOLEAN",
                  add_column="ADD COLUMN IF NOT EXISTS")
    json_cast = "::jsonb"
    json_as_text = "::text"
    placeholder = "%s"

    def ts_in(self, dt: datetime | None) -> datetime | None:
        return None if dt is None else utc(dt)

    def ts_out(self, value: Any) -> datetime | None:
        return None if value is None else value.astimezone(timezone.utc)

    def json_in(self, value: Any) -> str | None:
        if value is None:
            return None
        text = dump_json(value)
        return _JSON_NUL.sub(r"\1\\ufffd", text) if "\\u0000" in text else text

    def json_out(self, value: Any) -> Any:
        return value  # psycopg already parsed jsonb

    def in_list(self, expr: str, values: Sequence[str]) -> tuple[str, list[Any]]:
        return f"{expr} = ANY(?::text[])", [list(values)]

    def json_text(self, column: str, name: str) -> tuple[str, list[Any]]:
        return f"({column} ->> ?::text)", [name]

    def is_unique_violation(self, exc: BaseException) -> bool:
        return isinstance(exc, pg_errors.UniqueViolation)


class PostgresStore(SQLStore):
    """The PostgreSQL backend. *schema* (created by ``migrate``) isolates the tables."""

    def __init__(self, dsn: str, schema: str | None = None, *, secret_box: SecretBox | None = None,
                 pool_size: int | None = None, pool_timeout_s: float = 30.0) -> None:
        super().__init__(PostgresDialect(), secret_box, pool_size)
        self._dsn = dsn
        self.schema = schema
        self._pool_timeout = pool_timeout_s
        named = "application_name" in conninfo_to_dict(dsn)
        self.application_name = None if named else f"lmsync:{schema or 'public'}"[:63]

    def __repr__(self) -> str:
        # The DSN may carry a password: show only the schema.
        return f"PostgresStore(schema={self.schema!r})"

    # --- connections -----------------------------------------------------------------------
    def _connect_kwargs(self) -> dict[str, Any]:
        extra = {"application_name": self.application_name} if self.application_name else {}
        return {"autocommit": True, **extra}

    def _configure(self, conn: psycopg.Connection) -> None:
        set_json_loads(orjson.loads, conn)
        conn.execute("SET TIME ZONE 'UTC'")
        if self.schema:
            conn.execute(pg_sql.SQL("SET search_path TO {}").format(pg_sql.Identifier(self.schema)))

    def _make_pool(self, size: int) -> ConnectionPool:
        # One direct connection first: an unreachable server or a bad password is reported
        # with the server's own message now, not as a pool timeout later.
        self._open_conn().close()
        pool = ConnectionPool(self._dsn, min_size=1, max_size=size, kwargs=self._connect_kwargs(),
                              configure=self._configure, check=ConnectionPool.check_connection,
                              timeout=self._pool_timeout, max_idle=120, open=False,
                              name=self.application_name or "lmsync")
        pool.open()
        return pool

    def _open_conn(self) -> psycopg.Connection:
        if self._closed:
            raise StoreError("store is closed")
        conn = psycopg.connect(self._dsn, **self._connect_kwargs())
        self._configure(conn)
        return conn

    def _close_conn(self, conn: psycopg.Connection) -> None:
        conn.close()

    @contextlib.contextmanager
    def _tx_on(self, conn: psycopg.Connection) -> Iterator[psycopg.Cursor]:
        with conn.transaction(), conn.cursor() as cur:
            yield cur

    def _lock_key(self, cur: psycopg.Cursor, key: str) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"{self.schema}:{key}"])

    def migrate(self) -> None:
        """Create the schema (if one was named) and the tables. Idempotent."""
        if self.schema:
            with self._transaction() as cur:
                self._lock_key(cur, "migrate")
                cur.execute(pg_sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(pg_sql.Identifier(self.schema)))
        super().migrate()

    def _after_bulk_write(self, conn: psycopg.Connection, model: str) -> None:
        # Fresh planner statistics: with the ones from before a first sync of 100,000 rows, a
        # page query was planned as a bitmap scan of the whole table plus a sort (477 ms
        # instead of about 1 ms) until autovacuum got round to it (or never, where it is off).
        conn.execute(f"ANALYZE {check_model(model)}")

    # --- writer staging --------------------------------------------------------------------
    def _create_stage(self, conn: psycopg.Connection, model: str) -> None:
        conn.execute(f"DROP TABLE IF EXISTS pg_temp.{STAGE}")
        conn.execute(stage_ddl(self, model))

    def _stage_rows(self, conn: psycopg.Connection, model: str, rows: list[tuple[Any, ...]]) -> None:
        cols = ", ".join(stage_columns(model))
        with conn.cursor() as cur, cur.copy(f"COPY pg_temp.{STAGE} ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

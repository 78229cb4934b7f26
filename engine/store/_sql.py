"""``SQLStore``: the ``Store`` logic shared by the SQLite and PostgreSQL backends.

A backend supplies a ``Dialect`` and the connection hooks (``_make_pool``, ``_open_conn``,
``_tx_on``, ``_create_stage``, ``_stage_rows``, ``_lock_key``); everything else is here.
"""

from __future__ import annotations

import abc
import contextlib
import threading
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from engine.ids import random_id
from engine.models import MODELS
from engine.secrets import SecretBox, default_box
from engine.store._dialect import Dialect
from engine.store._pool import pool_size as default_pool_size
from engine.store._query import RECORD_COLUMNS, build_query, check_model
from engine.store._schema import migrations
from engine.store._summaries import SummaryCache
from engine.store._writer import SQLWriter, pack_hashes
from engine.store._connect import ConnectSQLMixin
from engine.store._custom_fields import CustomFieldsSQLMixin
from engine.store._fields import FieldsSQLMixin
from engine.store._held import HeldSQLMixin
from engine.store._scope_configs import ScopeConfigSQLMixin
from engine.store._webhooks import WebhookSQLMixin
from engine.store.base import (
    ActionTask,
    ApiKey,
    Integration,
    NotFound,
    Query,
    RawJSON,
    Store,
    StoredRecord,
    StoreError,
    RunFenced,
    SyncAlreadyRunning,
    SyncRun,
)

__all__ = ["SQLStore"]

_INTEGRATION_COLS = "id, connector, base_url, credentials, settings, enabled, created_at, availability"
_KEY_COLS = "key_id, key_hash, name, integration_ids, created_at, expires_at"
_RUN_COLS = "id, integration_id, kind, status, started_at, finished_at, stats, warnings, error, heartbeat_at"
_TASK_COLS = "id, integration_id, kind, status, created_at, completed_at, results, error, warnings"
_ABANDONED = "abandoned (no heartbeat)"
_ID_CHUNK = 20_000


class SQLStore(HeldSQLMixin, WebhookSQLMixin, ConnectSQLMixin, FieldsSQLMixin, ScopeConfigSQLMixin, CustomFieldsSQLMixin, Store, abc.ABC):
    """Shared implementation; see the module docstring for the backend hooks."""

    dialect: Dialect

    def __init__(self, dialect: Dialect, secret_box: SecretBox | None = None, pool_size: int | None = None) -> None:
        self.dialect = dialect
        self._box = secret_box
        self.pool_size = pool_size if pool_size is not None else default_pool_size()
        self._local = threading.local()  # the connection this thread has checked out, if any
        self._pool_obj: Any = None
        self._pool_lock = threading.Lock()
        self._closed = False
        self._summaries = SummaryCache(self._read_summaries, lambda iid, model: self.versions(iid, [model])[model])

    @contextlib.contextmanager
    def _conn(self) -> Iterator[Any]:
        """A pooled autocommit connection for the length of the block (one operation or
        transaction), then given back. Re-entrant: a nested call on the same thread gets the
        connection the thread already holds, so nesting never waits on the pool."""
        held = getattr(self._local, "conn", None)
        if held is not None:
            yield held
            return
        with self._pool().connection() as conn:
            self._local.conn = conn
            try:
                yield conn
            finally:
                self._local.conn = None

    def _pool(self) -> Any:
        with self._pool_lock:
            if self._closed:
                raise StoreError("store is closed")
            if self._pool_obj is None:
                self._pool_obj = self._make_pool(self.pool_size)
            return self._pool_obj

    def close(self) -> None:
        """Close the pool's connections (the ones in use as they are given back). Idempotent."""
        with self._pool_lock:
            pool, self._pool_obj = self._pool_obj, None
            self._closed = True
        if pool is not None:
            pool.close()

    # --- backend hooks ---------------------------------------------------------------------
    @abc.abstractmethod
    def _make_pool(self, size: int) -> Any:
        """The connection pool (``.connection()`` context manager, ``.close()``), at most *size* open."""

    @abc.abstractmethod
    def _open_conn(self) -> Any:
        """A new, unpooled connection in autocommit mode (the caller closes it)."""

    @abc.abstractmethod
    def _close_conn(self, conn: Any) -> None:
        """Close a connection made by ``_open_conn``."""

    @abc.abstractmethod
    def _tx_on(self, conn: Any) -> contextlib.AbstractContextManager[Any]:
        """A write transaction on *conn*, yielding a cursor; commits or rolls back."""

    @abc.abstractmethod
    def _create_stage(self, conn: Any, model: str) -> None:
        """Create the writer's TEMP staging table on *conn*."""

    @abc.abstractmethod
    def _stage_rows(self, conn: Any, model: str, rows: list[tuple[Any, ...]]) -> None:
        """Append *rows* to the staging table on *conn*."""

    def _after_bulk_write(self, conn: Any, model: str) -> None:
        """Called on the writer's connection after a merge of many rows (a no-op by default)."""

    def _lock_key(self, cur: Any, key: str) -> None:
        """Serialise transactions on *key* (a no-op where write transactions are exclusive)."""

    # --- small helpers ---------------------------------------------------------------------
    @property
    def box(self) -> SecretBox:
        """The credentials cipher (the configured default unless one was given)."""
        if self._box is None:
            self._box = default_box()
        return self._box

    def _q(self, sql: str) -> str:
        return self.dialect.sql(sql)

    def _fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._conn() as conn:
            cur = conn.cursor()
            try:
                cur.execute(self._q(sql), list(params))
                return cur.fetchall()
            finally:
                cur.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Any]:
        with self._conn() as conn, self._tx_on(conn) as cur:
            yield cur

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._transaction() as cur:
            cur.execute(self._q(sql), list(params))
            return cur.rowcount

    # --- lifecycle -------------------------------------------------------------------------
    def migrate(self) -> None:
        """Create or upgrade the schema. Idempotent and safe to run from several processes."""
        with self._transaction() as cur:
            self._lock_key(cur, "migrate")
            cur.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY)")
            cur.execute("SELECT version FROM schema_version")
            done = {row[0] for row in cur.fetchall()}
            for version, statements in migrations(self.dialect.types):
                if version in done:
                    continue
                for stmt in statements:
                    cur.execute(stmt)
                cur.execute(self._q("INSERT INTO schema_version (version) VALUES (?)"), [version])

    def schema_version(self) -> int:
        """The highest applied migration (0 before ``migrate``); the code expects ``SCHEMA_VERSION``."""
        try:
            rows = self._fetchall("SELECT MAX(version) FROM schema_version")
        except Exception:  # noqa: BLE001 - the table does not exist yet (autocommit: no aborted tx)
            return 0
        return rows[0][0] or 0

    # --- integrations ----------------------------------------------------------------------
    def _integration_from_row(self, row: Sequence[Any]) -> Integration:
        d = self.dialect
        return Integration(
            id=row[0], connector=row[1], base_url=row[2],
            credentials=self.box.decrypt_json(row[3]),
            settings=d.json_out(row[4]) or {}, enabled=bool(row[5]),
            created_at=d.ts_out(row[6]), availability=d.json_out(row[7]) or {},
        )

    def add_integration(self, integration: Integration) -> None:
        """Insert *integration* (credentials encrypted); ``StoreError`` if the id exists."""
        d = self.dialect
        created = integration.created_at or datetime.now(timezone.utc)
        params = [
            integration.id, integration.connector, integration.base_url,
            self.box.encrypt_json(integration.credentials), d.json_in(integration.settings),
            d.bool_in(integration.enabled), d.ts_in(created), d.json_in(integration.availability),
        ]
        try:
            self._execute(f"INSERT INTO integrations ({_INTEGRATION_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", params)
        except Exception as exc:
            if self.dialect.is_unique_violation(exc):
                raise StoreError(f"integration {integration.id} already exists") from None
            raise
        integration.created_at = created

    def get_integration(self, integration_id: str) -> Integration | None:
        """The integration with credentials decrypted, or ``None``."""
        rows = self._fetchall(f"SELECT {_INTEGRATION_COLS} FROM integrations WHERE id = ?", [integration_id])
        return self._integration_from_row(rows[0]) if rows else None

    def list_integrations(self) -> list[Integration]:
        """All integrations, ordered by id."""
        rows = self._fetchall(f"SELECT {_INTEGRATION_COLS} FROM integrations ORDER BY id")
        return [self._integration_from_row(r) for r in rows]

    def update_integration(self, integration: Integration) -> None:
        """Persist settings, enabled, availability, base_url and credentials; ``NotFound`` if absent."""
        d = self.dialect
        n = self._execute(
            "UPDATE integrations SET base_url = ?, credentials = ?, settings = ?, enabled = ?,"
            " availability = ? WHERE id = ?",
            [integration.base_url, self.box.encrypt_json(integration.credentials),
             d.json_in(integration.settings), d.bool_in(integration.enabled),
             d.json_in(integration.availability), integration.id],
        )
        if n == 0:
            raise NotFound(f"integration {integration.id} does not exist")

    def remove_integration(self, integration_id: str) -> bool:
        """Delete the integration, its records, runs, held changes, fields and connect rows."""
        with self._transaction() as cur:
            for model in MODELS:
                cur.execute(self._q(f"DELETE FROM {check_model(model)} WHERE integration_id = ?"), [integration_id])
            cur.execute(self._q("DELETE FROM sync_runs WHERE integration_id = ?"), [integration_id])
            cur.execute(self._q("DELETE FROM action_tasks WHERE integration_id = ?"), [integration_id])
            # every table with an integration_id (webhook deliveries stay: they are the delivery log)
            for table in ("model_versions", "held_changes", "integration_fields", "integration_field_scans",
                          "integration_scope_configs", "custom_field_mappings", "integration_opt_outs",
                          "integration_data_expiry"):
                cur.execute(self._q(f"DELETE FROM {table} WHERE integration_id = ?"), [integration_id])
            self._remove_connect_rows(cur, integration_id)
            cur.execute(self._q("DELETE FROM integrations WHERE id = ?"), [integration_id])
            removed = cur.rowcount > 0
        self._summaries.clear()
        return removed

    # --- API keys --------------------------------------------------------------------------
    def _key_from_row(self, row: Sequence[Any]) -> ApiKey:
        ids = self.dialect.json_out(row[3])
        return ApiKey(key_id=row[0], key_hash=row[1], name=row[2],
                      integration_ids=list(ids) if ids is not None else None,
                      created_at=self.dialect.ts_out(row[4]), expires_at=self.dialect.ts_out(row[5]))

    def add_api_key(self, key: ApiKey) -> None:
        """Insert *key*; ``StoreError`` if its id or hash exists."""
        d = self.dialect
        ids = d.json_in(list(key.integration_ids)) if key.integration_ids is not None else None
        try:
            self._execute(f"INSERT INTO api_keys ({_KEY_COLS}) VALUES (?, ?, ?, ?, ?, ?)",
                          [key.key_id, key.key_hash, key.name, ids, d.ts_in(key.created_at), d.ts_in(key.expires_at)])
        except Exception as exc:
            if d.is_unique_violation(exc):
                raise StoreError(f"api key {key.key_id} already exists") from None
            raise

    def get_api_key(self, key_id: str) -> ApiKey | None:
        """The key, or ``None``."""
        rows = self._fetchall(f"SELECT {_KEY_COLS} FROM api_keys WHERE key_id = ?", [key_id])
        return self._key_from_row(rows[0]) if rows else None

    def list_api_keys(self) -> list[ApiKey]:
        """All keys, ordered by creation then id."""
        rows = self._fetchall(f"SELECT {_KEY_COLS} FROM api_keys ORDER BY created_at, key_id")
        return [self._key_from_row(r) for r in rows]

    def remove_api_key(self, key_id: str) -> bool:
        """Delete (revoke) a key; False if it did not exist."""
        return self._execute("DELETE FROM api_keys WHERE key_id = ?", [key_id]) > 0

    def set_api_key_expiry(self, key_id: str, expires_at: datetime | None) -> bool:
        """Set (or, with ``None``, clear) a key's expiry; False if the key does not exist."""
        return self._execute("UPDATE api_keys SET expires_at = ? WHERE key_id = ?",
                             [self.dialect.ts_in(expires_at), key_id]) > 0

    # --- runs ------------------------------------------------------------------------------
    def _run_from_row(self, row: Sequence[Any]) -> SyncRun:
        d = self.dialect
        return SyncRun(
            id=row[0], integration_id=row[1], kind=row[2], status=row[3],
            started_at=d.ts_out(row[4]), finished_at=d.ts_out(row[5]),
            stats=d.json_out(row[6]) or {}, warnings=d.json_out(row[7]) or [],
            error=row[8], heartbeat_at=d.ts_out(row[9]),
        )

    def start_run(self, integration_id: str, kind: str, now: datetime, stale_after_s: float = 300,
                  run_id: str | None = None) -> SyncRun:
        """Create a running run or raise ``SyncAlreadyRunning`` (see ``Store.start_run``).

        The check and the insert happen in one serialised transaction, and a partial unique
        index allows one running row per integration, so concurrent processes cannot both win.
        """
        d = self.dialect
        run = SyncRun(id=run_id or random_id(), integration_id=integration_id, kind=kind, status="running",
                      started_at=now, heartbeat_at=now)
        try:
            with self._transaction() as cur:
                self._lock_key(cur, f"run:{integration_id}")
                cur.execute(self._q("SELECT id, heartbeat_at, started_at FROM sync_runs"
                                    " WHERE integration_id = ? AND status = 'running'"), [integration_id])
                row = cur.fetchone()
                if row is not None:
                    beat = d.ts_out(row[1]) or d.ts_out(row[2])
                    if beat > now - timedelta(seconds=stale_after_s):
                        raise SyncAlreadyRunning(integration_id, row[0])
                    cur.execute(self._q("UPDATE sync_runs SET status = 'failed', finished_at = ?, error = ?"
                                        " WHERE id = ?"), [d.ts_in(now), _ABANDONED, row[0]])
                cur.execute(self._q(f"INSERT INTO sync_runs ({_RUN_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
                            [run.id, integration_id, kind, "running", d.ts_in(now), None,
                             d.json_in({}), d.json_in([]), None, d.ts_in(now)])
        except Exception as exc:
            if not d.is_unique_violation(exc):
                raise
            rows = self._fetchall("SELECT id FROM sync_runs WHERE integration_id = ? AND status = 'running'",
                                  [integration_id])
            raise SyncAlreadyRunning(integration_id, rows[0][0] if rows else "?") from None
        return run

    def heartbeat(self, run_id: str, now: datetime) -> bool:
        """Refresh a running run's heartbeat; False (nothing written) if the run no longer holds
        the lock (finished, or taken over as abandoned); ``NotFound`` if it does not exist."""
        n = self._execute("UPDATE sync_runs SET heartbeat_at = ? WHERE id = ? AND status = 'running'",
                          [self.dialect.ts_in(now), run_id])
        if n == 0 and self.get_run(run_id) is None:
            raise NotFound(f"run {run_id} does not exist")
        return n > 0

    def fence(self, cur: Any, integration_id: str, run_id: str | None) -> None:
        """Inside a write transaction: raise ``RunFenced`` unless *run_id* still holds the lock
        of *integration_id*. Serialised with ``start_run`` (same lock key), so a takeover either
        happened before this check or waits until the transaction ends. No-op without a run."""
        if run_id is None:
            return
        self._lock_key(cur, f"run:{integration_id}")
        cur.execute(self._q("SELECT status FROM sync_runs WHERE id = ?"), [run_id])
        row = cur.fetchone()
        if row is None or row[0] != "running":
            raise RunFenced(run_id, row[0] if row else None)

    def finish_run(self, run: SyncRun) -> None:
        """Persist status, finished_at, stats, warnings and error while the run still holds
        the lock; ``RunFenced`` if it lost it (its stored outcome stays), ``NotFound`` if absent."""
        d = self.dialect
        with self._transaction() as cur:
            try:
                self.fence(cur, run.integration_id, run.id)
            except RunFenced as exc:
                cur.execute(self._q("SELECT 1 FROM sync_runs WHERE id = ?"), [run.id])
                if cur.fetchone() is None:
                    raise NotFound(f"run {run.id} does not exist") from None
                raise exc from None
            cur.execute(self._q(
                "UPDATE sync_runs SET status = ?, finished_at = ?, stats = ?, warnings = ?, error = ? WHERE id = ?"),
                [run.status, d.ts_in(run.finished_at), d.json_in(run.stats), d.json_in(run.warnings),
                 run.error, run.id])

    def list_runs(self, integration_id: str | None = None, limit: int = 50) -> list[SyncRun]:
        """Newest first."""
        where, params = ("WHERE integration_id = ?", [integration_id]) if integration_id else ("", [])
        rows = self._fetchall(f"SELECT {_RUN_COLS} FROM sync_runs {where}"
                              " ORDER BY started_at DESC, id DESC LIMIT ?", [*params, max(0, limit)])
        return [self._run_from_row(r) for r in rows]

    def latest_runs(self) -> dict[tuple[str, str, str], datetime]:
        """``{(integration_id, kind, status): newest started_at}`` in one grouped query."""
        rows = self._fetchall("SELECT integration_id, kind, status, MAX(started_at) FROM sync_runs"
                              " GROUP BY integration_id, kind, status")
        return {(r[0], r[1], r[2]): self.dialect.ts_out(r[3]) for r in rows}

    def get_run(self, run_id: str) -> SyncRun | None:
        """The run, or ``None``."""
        rows = self._fetchall(f"SELECT {_RUN_COLS} FROM sync_runs WHERE id = ?", [run_id])
        return self._run_from_row(rows[0]) if rows else None

    # --- action tasks ----------------------------------------------------------------------
    def put_task(self, task: ActionTask) -> None:
        """Insert or overwrite *task* (one statement: ``INSERT … ON CONFLICT (id) DO UPDATE``)."""
        d = self.dialect
        self._execute(
            f"INSERT INTO action_tasks ({_TASK_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET status = excluded.status, completed_at = excluded.completed_at,"
            " results = excluded.results, error = excluded.error, warnings = excluded.warnings",
            [task.id, task.integration_id, task.kind, task.status, d.ts_in(task.created_at),
             d.ts_in(task.completed_at), d.json_in(task.results), d.json_in(task.error), d.json_in(task.warnings)],
        )

    def get_task(self, task_id: str) -> ActionTask | None:
        """The task, or ``None``."""
        rows = self._fetchall(f"SELECT {_TASK_COLS} FROM action_tasks WHERE id = ?", [task_id])
        if not rows:
            return None
        d, row = self.dialect, rows[0]
        return ActionTask(id=row[0], integration_id=row[1], kind=row[2], status=row[3],
                          created_at=d.ts_out(row[4]), completed_at=d.ts_out(row[5]),
                          results=d.json_out(row[6]) or [], error=d.json_out(row[7]),
                          warnings=d.json_out(row[8]) or [])

    # --- records ---------------------------------------------------------------------------
    def writer(self, integration_id: str, model: str, run_id: str | None = None) -> SQLWriter:
        """A ``ModelWriter`` for one model of one integration (use it with ``with``); fenced
        by *run_id* when given (see ``Store.writer``)."""
        return SQLWriter(self, integration_id, model, run_id)

    def _load_hashes(self, conn: Any, integration_id: str, model: str) -> tuple[dict[str, bytes], set[str]]:
        """The stored hashes of one model, read on *conn*: ``{id: packed}`` (see
        ``_writer.pack_hashes``) and the ids marked deleted. Packed and streamed in batches:
        a re-sync of 100,000 records holds them all while it compares (peak RSS)."""
        cur = conn.cursor()
        hashes: dict[str, bytes] = {}
        deleted: set[str] = set()
        try:
            cur.execute(self._q(f"SELECT id, content_hash, raw_hash, remote_deleted_at IS NOT NULL"
                                f" FROM {check_model(model)} WHERE integration_id = ?"), [integration_id])
            while rows := cur.fetchmany(5000):
                for rid, content_hash, raw_hash, gone in rows:
                    hashes[rid] = pack_hashes(content_hash, raw_hash)
                    if gone:
                        deleted.add(rid)
            return hashes, deleted
        finally:
            cur.close()

    def mark_deleted(self, integration_id: str, model: str, seen_ids: set[str], now: datetime,
                     run_id: str | None = None) -> int:
        """Mark live rows not in *seen_ids* deleted (remote_deleted_at = changed_at = now)."""
        table = check_model(model)
        ts = self.dialect.ts_in(now)
        with self._transaction() as cur:
            self.fence(cur, integration_id, run_id)
            cur.execute(self._q(f"SELECT id FROM {table} WHERE integration_id = ? AND remote_deleted_at IS NULL"),
                        [integration_id])
            gone = [r[0] for r in cur.fetchall() if r[0] not in seen_ids]
            for start in range(0, len(gone), _ID_CHUNK):
                in_sql, in_params = self.dialect.in_list("id", gone[start:start + _ID_CHUNK])
                cur.execute(self._q(f"UPDATE {table} SET remote_deleted_at = ?, changed_at = ?"
                                    f" WHERE integration_id = ? AND {in_sql}"),
                            [ts, ts, integration_id, *in_params])
            if gone:
                self._bump_version(cur, integration_id, model)
        return len(gone)

    def _bump_version(self, cur: Any, integration_id: str, model: str) -> None:
        """Give *model* a new version token; call inside the transaction that wrote its rows."""
        cur.execute(self._q("INSERT INTO model_versions (integration_id, model, token) VALUES (?, ?, ?)"
                            " ON CONFLICT (integration_id, model) DO UPDATE SET token = excluded.token"),
                    [integration_id, model, random_id()])

    def versions(self, integration_id: str, models: Sequence[str]) -> dict[str, str | None]:
        """The version token of each of *models* (``None`` before its first write)."""
        rows = self._fetchall("SELECT model, token FROM model_versions WHERE integration_id = ?", [integration_id])
        tokens = dict(rows)
        return {m: tokens.get(m) for m in models}

    def _record(self, row: Sequence[Any], raw_remote_data: bool = False) -> StoredRecord:
        d = self.dialect
        remote = row[3]
        if raw_remote_data:  # the column was selected as text (see ``Query.raw_remote_data``)
            remote_data = None if remote is None else RawJSON(remote)
        else:
            remote_data = d.json_out(remote)
        return StoredRecord(id=row[0], remote_id=row[1], fields=d.json_out(row[2]), remote_data=remote_data,
                            changed_at=d.ts_out(row[4]), remote_deleted_at=d.ts_out(row[5]))

    def query(self, q: Query) -> list[StoredRecord]:
        """One page ordered by id (see ``Query``)."""
        sql, params = build_query(self.dialect, q)
        with self._conn() as conn:
            cur = conn.cursor()
            try:
                cur.execute(sql, params)
                rows = cur.fetchall()
            finally:
                cur.close()
        return [self._record(r, q.raw_remote_data) for r in rows]

    def summaries(self, integration_id: str, model: str, ids: Sequence[str],
                  fields: Sequence[str]) -> dict[str, dict[str, Any]]:
        """``{"id", "remote_id", *fields}`` by id; kept in memory while the model is unchanged
        (see ``engine.store._summaries``)."""
        check_model(model)
        if unknown := [f for f in fields if f not in MODELS[model].fields]:
            raise StoreError(f"{model} has no field {unknown[0]!r}")
        return self._summaries.get(integration_id, model, [str(i) for i in ids], fields)

    def _read_summaries(self, integration_id: str, model: str, ids: Sequence[str],
                        fields: Sequence[str]) -> dict[str, dict[str, Any]]:
        names = ("id", "remote_id", *fields)
        columns, params = ["t.id", "t.remote_id"], []
        for name in fields:
            sql, p = self.dialect.json_text("t.data", name)
            columns.append(sql)
            params.extend(p)
        in_sql, in_params = self.dialect.in_list("t.id", ids)
        rows = self._fetchall(f"SELECT {', '.join(columns)} FROM {check_model(model)} t"
                              f" WHERE t.integration_id = ? AND {in_sql}", [*params, integration_id, *in_params])
        return {row[0]: dict(zip(names, row)) for row in rows}

    def _select_in(self, model: str, column: str, integration_id: str, values: Sequence[str],
                   with_remote_data: bool = True) -> list[StoredRecord]:
        in_sql, in_params = self.dialect.in_list(f"t.{column}", [str(v) for v in values])
        columns = RECORD_COLUMNS if with_remote_data else RECORD_COLUMNS.replace("t.remote_data", "NULL")
        rows = self._fetchall(
            f"SELECT {columns} FROM {check_model(model)} t WHERE t.integration_id = ? AND {in_sql}"
            " ORDER BY t.id", [integration_id, *in_params])
        return [self._record(r) for r in rows]

    def get_many(self, integration_id: str, model: str, ids: Sequence[str], *,
                 with_remote_data: bool = True) -> dict[str, StoredRecord]:
        """Rows by id, deleted ones included (``remote_data`` None unless asked for)."""
        if not ids:
            return {}
        return {r.id: r for r in self._select_in(model, "id", integration_id, ids, with_remote_data)}

    def children(self, integration_id: str, model: str, ref_field: str, parent_ids: Sequence[str]) -> list[StoredRecord]:
        """Rows of *model* whose *ref_field* is in *parent_ids*, deleted included, by id."""
        check_model(model)
        if ref_field not in MODELS[model].refs:
            raise StoreError(f"{ref_field!r} is not a ref field of {model}")
        if not parent_ids:
            return []
        return self._select_in(model, ref_field, integration_id, parent_ids)

    def find_by_remote_id(self, integration_id: str, model: str, remote_id: str) -> StoredRecord | None:
        """The row with this remote id (deleted included), or ``None``."""
        rows = self._fetchall(f"SELECT {RECORD_COLUMNS} FROM {check_model(model)} t"
                              " WHERE t.integration_id = ? AND t.remote_id = ? ORDER BY t.id LIMIT 1",
                              [integration_id, remote_id])
        return self._record(rows[0]) if rows else None

    def count(self, integration_id: str, model: str, include_deleted: bool = False) -> int:
        """Number of rows of one model of one integration."""
        live = "" if include_deleted else " AND remote_deleted_at IS NULL"
        rows = self._fetchall(f"SELECT COUNT(*) FROM {check_model(model)} WHERE integration_id = ?{live}",
                              [integration_id])
        return int(rows[0][0])


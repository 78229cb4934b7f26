"""The shared ``ModelWriter``: classify in memory, stage changed rows, merge on commit.

Rows that are new or changed go to a per-connection TEMP staging table while the stream is
read (this holds no lock on the real tables, so readers and other writers are not blocked for
the length of a sync). On a normal exit the staged rows are merged into the model table with
two set-based statements inside one short write transaction; on an exception the staging
table is simply discarded, so the previous rows are untouched.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.store._query import check_model
from engine.store._schema import ref_columns
from engine.store.base import MappedRecord, ModelWriter, StoreError, WriteCounts

if TYPE_CHECKING:
    from engine.store._sql import SQLStore

__all__ = ["SQLWriter", "pack_hashes"]

_FLUSH_ROWS = 5000
_BULK_ROWS = 10_000  # a merge this large refreshes the planner's statistics (see _after_bulk_write)
STAGE = "_lmsync_stage"


def _digest(hex_hash: str) -> bytes:
    try:
        return bytes.fromhex(hex_hash)  # half the size of the text
    except ValueError:  # not hex: kept as its text, compared the same way
        return hex_hash.encode()


def pack_hashes(content_hash: str, raw_hash: str) -> bytes:
    """A stored row's two hashes as one bytes object (the content digest first): a re-sync
    keeps one per record of the model in memory, a third of a tuple of two strings."""
    return _digest(content_hash) + _digest(raw_hash)


def stage_columns(model: str) -> tuple[str, ...]:
    """Column order of the staging table (and of the staged row tuples)."""
    return ("id", "remote_id", "data", "remote_data", "content_hash", "raw_hash", "ts", "moved",
            *ref_columns(model))


def stage_ddl(store: "SQLStore", model: str) -> str:
    """CREATE TEMP TABLE statement of the staging table of *model*."""
    t = store.dialect.types
    refs = "".join(f", {c} {t.key}" for c in ref_columns(model))
    return (
        f"CREATE TEMP TABLE {STAGE} (id {t.key}, remote_id {t.key}, data {t.text},"
        f" remote_data {t.text}, content_hash {t.text}, raw_hash {t.text}, ts {t.ts},"
        f" moved {t.boolean}{refs})"
    )


def _merge_sql(store: "SQLStore", model: str) -> tuple[str, str]:
    d = store.dialect
    table = check_model(model)
    refs = ref_columns(model)
    cast = d.json_cast
    cols = ", ".join(("integration_id", "id", "remote_id", "data", "remote_data", "content_hash",
                      "raw_hash", "changed_at", "remote_deleted_at", "created_at", *refs))
    select = ", ".join(("?", "s.id", "s.remote_id", f"s.data{cast}", f"s.remote_data{cast}",
                        "s.content_hash", "s.raw_hash", "s.ts", "NULL", "s.ts",
                        *(f"s.{c}" for c in refs)))
    updates = ", ".join(
        f"{c} = excluded.{c}"
        for c in ("remote_id", "data", "remote_data", "content_hash", "raw_hash", "changed_at", *refs)
    )
    upsert = (
        f"INSERT INTO {table} ({cols}) SELECT {select} FROM {STAGE} s WHERE s.moved ORDER BY s.id"
        f" ON CONFLICT (integration_id, id) DO UPDATE SET {updates}, remote_deleted_at = NULL"
    )
    raw_only = (
        f"UPDATE {table} SET remote_data = s.remote_data{cast}, raw_hash = s.raw_hash"
        f" FROM {STAGE} s WHERE {table}.integration_id = ? AND {table}.id = s.id AND NOT s.moved"
    )
    return d.sql(upsert), d.sql(raw_only)


class SQLWriter(ModelWriter):
    """One model of one integration, written in one transaction (see module docstring)."""

    def __init__(self, store: "SQLStore", integration_id: str, model: str, run_id: str | None = None) -> None:
        check_model(model)
        self._store = store
        self._run_id = run_id
        self._d = store.dialect
        self.integration_id = integration_id
        self.model = model
        self._refs = ref_columns(model)
        self.seen_ids: set[str] = set()
        self._existing: dict[str, bytes] = {}
        self._deleted: set[str] = set()
        self._pending: list[tuple[Any, ...]] = []
        self._conn: Any = None
        self._staged = 0

    def __repr__(self) -> str:
        return f"SQLWriter({self.integration_id!r}, {self.model!r})"

    def __enter__(self) -> "SQLWriter":
        if self._conn is not None or self.seen_ids:
            raise StoreError("a writer can be entered only once")
        self._conn = self._store._open_conn()
        try:
            self._existing, self._deleted = self._store._load_hashes(self._conn, self.integration_id, self.model)
            self._store._create_stage(self._conn, self.model)
        except BaseException:
            self._store._close_conn(self._conn)
            raise
        return self

    def write(self, records: Iterable[MappedRecord], now: datetime) -> WriteCounts:
        """Classify and stage a batch (see ``ModelWriter.write``)."""
        if self._conn is None:
            raise StoreError("use the writer as a context manager")
        counts = WriteCounts()
        ts = self._d.ts_in(now)
        for rec in records:
            if rec.id in self.seen_ids:
                raise StoreError(f"record {rec.id} written twice in one {self.model} writer")
            self.seen_ids.add(rec.id)
            moved = self._classify(rec, counts)
            if moved is not None:
                self._pending.append(self._row(rec, ts, moved))
        if len(self._pending) >= _FLUSH_ROWS:
            self._flush()
        return counts

    def maybe_changed(self, records: Iterable[MappedRecord]) -> list[MappedRecord]:
        """Records with a live stored row whose content hash differs (``ModelWriter.maybe_changed``)."""
        existing, deleted = self._existing, self._deleted
        out = []
        for rec in records:
            old = existing.get(rec.id)
            if old is not None and rec.id not in deleted:
                content = _digest(rec.content_hash)
                if old[:len(content)] != content:
                    out.append(rec)
        return out

    def _classify(self, rec: MappedRecord, counts: WriteCounts) -> bool | None:
        """True: write and move changed_at; False: rewrite raw data only; None: skip."""
        old = self._existing.get(rec.id)
        if old is None:
            counts.created += 1
            return True
        content = _digest(rec.content_hash)
        if rec.id in self._deleted or old[:len(content)] != content:
            counts.updated += 1
            return True
        if old[len(content):] != _digest(rec.raw_hash):
            counts.updated += 1
            return False
        counts.unchanged += 1
        return None

    def _row(self, rec: MappedRecord, ts: Any, moved: bool) -> tuple[Any, ...]:
        fields = rec.fields
        data = self._d.json_in(fields) if moved else None
        return (rec.id, rec.remote_id, data, self._d.json_in(rec.remote_data), rec.content_hash,
                rec.raw_hash, ts, self._d.bool_in(moved), *(fields.get(c) for c in self._refs))

    def _flush(self) -> None:
        if self._pending:
            self._store._stage_rows(self._conn, self.model, self._pending)
            self._staged += len(self._pending)
            self._pending = []

    def __exit__(self, exc_type, exc, tb) -> None:
        conn = self._conn
        try:
            if exc_type is None:
                self._flush()
                if self._staged:
                    self._merge(conn)
        finally:
            self._conn = None
            self._pending = []
            self._store._close_conn(conn)

    def _merge(self, conn: Any) -> None:
        upsert, raw_only = _merge_sql(self._store, self.model)
        with self._store._tx_on(conn) as cur:
            self._store.fence(cur, self.integration_id, self._run_id)
            cur.execute(upsert, [self.integration_id])
            cur.execute(raw_only, [self.integration_id])
            self._store._bump_version(cur, self.integration_id, self.model)
        if self._staged >= _BULK_ROWS:
            self._store._after_bulk_write(conn, self.model)


"""An in-memory ``Store`` with the semantics of ``engine.store.base`` (for API tests).

Writers buffer their upserts and publish them on commit, like a transaction.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from engine.models import MODELS
from engine.store.base import (
    ApiKey,
    Integration,
    MappedRecord,
    ModelWriter,
    Query,
    Store,
    StoredRecord,
    SyncRun,
    WriteCounts,
)


@dataclass
class _Row:
    rec: StoredRecord
    created_at: datetime
    content_hash: str
    raw_hash: str


class _Writer(ModelWriter):
    def __init__(self, store: "FakeStore", iid: str, model: str) -> None:
        self.store, self.iid, self.model = store, iid, model
        self.seen_ids: set[str] = set()
        self.pending: list[tuple[MappedRecord, datetime]] = []

    def write(self, records: Iterable[MappedRecord], now: datetime) -> WriteCounts:
        counts = WriteCounts()
        for r in records:
            self.seen_ids.add(r.id)
            self.pending.append((r, now))
            counts.created += 1
        return counts

    def __enter__(self) -> "_Writer":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            with self.store.lock:
                for r, now in self.pending:
                    self.store._upsert(self.iid, self.model, r, now)


class FakeStore(Store):
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.integrations: dict[str, Integration] = {}
        self.keys: dict[str, ApiKey] = {}
        self.rows: dict[tuple[str, str], dict[str, _Row]] = {}
        self.runs: list[SyncRun] = []
        self.calls: list[str] = []

    def migrate(self) -> None: ...

    def close(self) -> None: ...

    def add_integration(self, integration: Integration) -> None:
        self.integrations[integration.id] = integration

    def get_integration(self, integration_id: str) -> Integration | None:
        i = self.integrations.get(integration_id)
        return replace(i) if i else None

    def list_integrations(self) -> list[Integration]:
        return list(self.integrations.values())

    def update_integration(self, integration: Integration) -> None:
        self.integrations[integration.id] = replace(integration)

    def remove_integration(self, integration_id: str) -> bool:
        with self.lock:
            for key in [k for k in self.rows if k[0] == integration_id]:
                del self.rows[key]
            return self.integrations.pop(integration_id, None) is not None

    def add_api_key(self, key: ApiKey) -> None:
        self.keys[key.key_id] = key

    def get_api_key(self, key_id: str) -> ApiKey | None:
        return self.keys.get(key_id)

    def remove_api_key(self, key_id: str) -> bool:
        return self.keys.pop(key_id, None) is not None

    def list_api_keys(self) -> list[ApiKey]:
        return list(self.keys.values())

    def start_run(self, integration_id, kind, now, stale_after_s=300) -> SyncRun:
        run = SyncRun(f"run{len(self.runs)}", integration_id, kind, "running", now)
        self.runs.append(run)
        return run

    def heartbeat(self, run_id, now) -> None: ...

    def finish_run(self, run: SyncRun) -> None: ...

    def list_runs(self, integration_id=None, limit=50) -> list[SyncRun]:
        return [r for r in reversed(self.runs) if integration_id in (None, r.integration_id)][:limit]

    def get_run(self, run_id):
        return next((r for r in self.runs if r.id == run_id), None)

    def writer(self, integration_id: str, model: str) -> ModelWriter:
        return _Writer(self, integration_id, model)

    def _upsert(self, iid: str, model: str, r: MappedRecord, now: datetime) -> None:
        table = self.rows.setdefault((iid, model), {})
        old = table.get(r.id)
        if old and old.content_hash == r.content_hash and old.raw_hash == r.raw_hash and not old.rec.remote_deleted_at:
            return
        changed = now if not old or old.content_hash != r.content_hash or old.rec.remote_deleted_at else old.rec.changed_at
        rec = StoredRecord(r.id, r.remote_id, dict(r.fields), r.remote_data, changed, None)
        table[r.id] = _Row(rec, old.created_at if old else now, r.content_hash, r.raw_hash)

    def mark_deleted(self, integration_id, model, seen_ids, now) -> int:
        n = 0
        with self.lock:
            for row in self.rows.get((integration_id, model), {}).values():
                if row.rec.id not in seen_ids and row.rec.remote_deleted_at is None:
                    row.rec.remote_deleted_at = row.rec.changed_at = now
                    n += 1
        return n

    def _table(self, iid: str, model: str) -> dict[str, _Row]:
        return self.rows.get((iid, model), {})

    def _matches(self, q: Query, row: _Row) -> bool:
        r = row.rec
        checks = [
            q.after_id is None or r.id > q.after_id,
            q.ids is None or r.id in q.ids,
            q.remote_ids is None or r.remote_id in q.remote_ids,
            q.include_deleted or r.remote_deleted_at is None,
            q.snapshot is None or row.created_at <= q.snapshot,
            all(str(r.fields.get(f)) in map(str, vs) for f, vs in q.field_in.items()),
        ]
        for name, values in q.refs.items():
            if name in MODELS[q.model].refs:
                checks.append(r.fields.get(name) in values)
            else:  # course_id on progressions, through the revision
                rev = self._table(q.integration_id, "course_revisions").get(r.fields.get("course_revision_id"))
                checks.append(rev is not None and rev.rec.fields.get("course_id") in values)
        if q.updated_after is not None:
            changed = r.changed_at > q.updated_after
            if q.model == "courses":
                revs = self._table(q.integration_id, "course_revisions").values()
                changed = changed or any(
                    x.rec.fields.get("course_id") == r.id and x.rec.changed_at > q.updated_after for x in revs
                )
            checks.append(changed)
        return all(checks)

    def query(self, q: Query) -> list[StoredRecord]:
        self.calls.append(f"query:{q.model}")
        with self.lock:
            rows = sorted(self._table(q.integration_id, q.model).values(), key=lambda x: x.rec.id)
            return [replace(x.rec) for x in rows if self._matches(q, x)][: q.limit]

    def get_many(self, integration_id, model, ids: Sequence[str]) -> dict[str, StoredRecord]:
        self.calls.append(f"get_many:{model}")
        table = self._table(integration_id, model)
        return {i: replace(table[i].rec) for i in ids if i in table}

    def children(self, integration_id, model, ref_field, parent_ids) -> list[StoredRecord]:
        self.calls.append(f"children:{model}")
        parents = set(parent_ids)
        rows = sorted(self._table(integration_id, model).values(), key=lambda x: x.rec.id)
        return [replace(x.rec) for x in rows if x.rec.fields.get(ref_field) in parents]

    def find_by_remote_id(self, integration_id, model, remote_id):
        return next((x.rec for x in self._table(integration_id, model).values() if x.rec.remote_id == remote_id), None)

    def count(self, integration_id, model, include_deleted=False) -> int:
        return sum(1 for x in self._table(integration_id, model).values() if include_deleted or not x.rec.remote_deleted_at)

"""Helpers of the store tests: record builders and fixed times."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, timedelta, timezone
from typing import Any

from engine.ids import record_id
from engine.store.base import MappedRecord

PG_DSN = os.environ.get("LMSYNC_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def at(seconds: float) -> datetime:
    """T0 plus *seconds*."""
    return T0 + timedelta(seconds=seconds)


def _hash(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def rec(iid: str, model: str, remote_id: str, raw: Any = None, **fields: Any) -> MappedRecord:
    """A ``MappedRecord`` with hashes computed the way the engine does (canonical JSON)."""
    remote_data = {"src": raw if raw is not None else {"id": remote_id}}
    return MappedRecord(
        id=record_id(iid, model, remote_id), remote_id=remote_id, fields=dict(fields),
        remote_data=remote_data, content_hash=_hash(fields), raw_hash=_hash(remote_data),
    )




def open_backend(kind: str, location: str):
    """A store on an existing database: SQLite file path, or PostgreSQL schema name."""
    if kind == "sqlite":
        from engine.store.sqlite import SQLiteStore

        return SQLiteStore(location)
    from engine.store.postgres import PostgresStore

    return PostgresStore(PG_DSN, schema=location)


def race_start_run(kind: str, location: str, integration_id: str, barrier, results) -> None:
    """Child process body: wait for the others, then try to take the run lock."""
    from engine.store import SyncAlreadyRunning

    store = open_backend(kind, location)
    store.list_runs(limit=1)  # connect before the start signal, so the race is on the lock
    barrier.wait()
    try:
        run = store.start_run(integration_id, "FULL", at(0))
        results.put(("won", run.id))
    except SyncAlreadyRunning as exc:
        results.put(("lost", exc.run_id))
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        results.put(("error", repr(exc)))
    finally:
        store.close()

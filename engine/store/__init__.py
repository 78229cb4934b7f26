"""The sync store: where synced records, integrations, API keys and runs live.

``open_store(url)`` picks the backend from a URL:

* ``sqlite:///abs/path.sqlite3``, ``sqlite:relative.sqlite3`` or a bare file path: ``SQLiteStore``
* ``postgresql://…`` / ``postgres://…`` (optional ``?schema=name`` or ``options``): ``PostgresStore``

Exception tree (all from ``engine.store.base``)::

    StoreError
    ├── SyncAlreadyRunning   start_run while a fresh running run exists
    ├── RunFenced            a run that lost its lock (taken over) tried to write
    └── NotFound             a named integration, run or key does not exist

(``engine.secrets.SecretError`` is raised when stored credentials cannot be decrypted.)
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from engine.store.base import (
    ActionTask,
    ApiKey,
    Integration,
    MappedRecord,
    ModelWriter,
    NotFound,
    Query,
    Store,
    StoredRecord,
    StoreError,
    RunFenced,
    SyncAlreadyRunning,
    SyncRun,
    WriteCounts,
)

__all__ = [
    "open_store",
    "Integration",
    "ApiKey",
    "SyncRun",
    "ActionTask",
    "MappedRecord",
    "StoredRecord",
    "Query",
    "WriteCounts",
    "ModelWriter",
    "Store",
    "StoreError",
    "RunFenced",
    "SyncAlreadyRunning",
    "NotFound",
]


def _open_postgres(url: str) -> Store:
    from engine.store.postgres import PostgresStore  # psycopg is an optional dependency

    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((v for k, v in query if k == "schema"), None)
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    dsn = urlunsplit(("postgresql", parts.netloc, parts.path, rest, parts.fragment))
    return PostgresStore(dsn, schema=schema or None)


def open_store(url: str) -> Store:
    """A store for *url* (see the module docstring). The schema is not migrated here."""
    from engine.store.sqlite import SQLiteStore

    if url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        return _open_postgres(url.replace("postgresql+psycopg://", "postgresql://", 1))
    if url.startswith("sqlite://"):
        rest = url[len("sqlite://"):]
        if not rest.startswith("/"):
            raise StoreError(f"cannot open store URL {url!r}: expected sqlite:///absolute/path")
        return SQLiteStore(Path("/" + rest.lstrip("/")))  # sqlite:////abs is accepted too
    if url.startswith("sqlite:"):
        return SQLiteStore(Path(url[len("sqlite:"):]))
    if "://" in url:
        raise StoreError(f"unsupported store URL scheme in {url.split('://', 1)[0]!r}")
    return SQLiteStore(Path(url).expanduser())

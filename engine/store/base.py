"""The storage interface shared by the SQLite and PostgreSQL backends.

Write rule (the one users rely on):

* A sync run writes model by model. Each model's upserts happen inside one ``ModelWriter``
  transaction that commits only when the whole stream of that model was read and mapped; if
  anything fails (an error, a kill), that model's transaction is rolled back and its previous
  rows stay as they were, readable throughout (readers never see a half-written model).
* Deletions are never written by a writer. Only after a **complete, successful FULL** run does
  the engine call ``mark_deleted`` for each model with the ids that run saw. A failed, partial
  or delta run therefore marks nothing deleted.
* Change detection is by hash: ``content_hash`` covers the unified fields (a change moves
  ``changed_at``); ``raw_hash`` covers ``remote_data`` (a change rewrites the row but keeps
  ``changed_at``). A record whose two hashes are unchanged is not written at all, so a
  re-sync with nothing changed writes nothing.

Timestamps are timezone-aware UTC ``datetime`` objects in Python and ISO 8601 on the wire.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

__all__ = [
    "RawJSON",
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
    "SyncAlreadyRunning",
    "RunFenced",
    "NotFound",
    "WebhookEndpoint",
    "WebhookDelivery",
]


class StoreError(Exception):
    """Base class of every error raised by a store backend."""


class SyncAlreadyRunning(StoreError):
    """``start_run`` was called while another run of the same integration holds the lock."""

    def __init__(self, integration_id: str, run_id: str) -> None:
        super().__init__(f"a sync of integration {integration_id} is already running (run {run_id})")
        self.integration_id = integration_id
        self.run_id = run_id


class RunFenced(StoreError):
    """A run tried to write after it lost the integration's lock (it was taken over as stale,
    or cancelled): the write is refused in the same transaction, nothing is changed."""

    def __init__(self, run_id: str, status: str | None) -> None:
        super().__init__(f"run {run_id} no longer holds the integration's lock (it is {status or 'gone'}); "
                         "it stops without writing")
        self.run_id = run_id


class NotFound(StoreError):
    """A named integration, run or key does not exist."""


@dataclass
class Integration:
    """A connector plus credentials and settings.

    ``credentials`` is plaintext in memory only; backends store it encrypted (see
    ``engine.secrets``) and never log it. ``settings`` is connector-specific, JSON-serialisable.
    ``availability`` caches the last scope test: ``{model_or_action: "OK"|"MISSING"|...}``.
    """

    id: str
    connector: str
    base_url: str
    credentials: dict[str, str]
    settings: dict[str, Any] = field(default_factory=dict)
    enabled: bool = True
    created_at: datetime | None = None
    availability: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        """Like the dataclass repr, but credential values are never shown."""
        creds = {k: "***" for k in self.credentials}
        return (
            f"Integration(id={self.id!r}, connector={self.connector!r}, base_url={self.base_url!r}, "
            f"credentials={creds!r}, settings={self.settings!r}, enabled={self.enabled!r}, "
            f"created_at={self.created_at!r}, availability={self.availability!r})"
        )


@dataclass
class ApiKey:
    """An API key record. Only ``key_hash`` (SHA-256 hex of the whole key) is stored.

    ``integration_ids`` is ``None`` for a key that may read every integration (an admin key).
    ``expires_at`` is ``None`` for a key that never expires.
    """

    key_id: str
    key_hash: str
    name: str
    integration_ids: list[str] | None
    created_at: datetime
    expires_at: datetime | None = None

    def expired(self, now: datetime) -> bool:
        """Whether the key has expired at *now* (an aware datetime)."""
        return self.expires_at is not None and self.expires_at <= now


@dataclass
class SyncRun:
    """One sync run of one integration. ``stats`` is ``{model: {created, updated, unchanged,
    deleted, invalid, calls, seconds}}``; ``status`` is ``running``, ``succeeded`` or ``failed``."""

    id: str
    integration_id: str
    kind: str  # "FULL" | "DELTA"
    status: str
    started_at: datetime
    finished_at: datetime | None = None
    stats: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    heartbeat_at: datetime | None = None


@dataclass
class ActionTask:
    """One asynchronous write action (e.g. a bulk course upsert) of one integration.

    ``status`` is ``PENDING``, ``COMPLETED`` or ``FAILED``. ``results`` holds one JSON object
    per input item (``{"origin_id", "status": "SUCCEEDED"|"FAILED", "data"|"error"}``);
    ``error`` (``{"code", "title", "message"}``) is set when the task as a whole failed;
    ``warnings`` are plain messages.
    """

    id: str
    integration_id: str
    kind: str
    status: str
    created_at: datetime
    completed_at: datetime | None = None
    results: list[dict[str, Any]] = field(default_factory=list)
    error: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class WebhookEndpoint:
    """A URL that receives signed webhook events.

    ``secret`` is plaintext in memory only; backends store it encrypted (like credentials) and
    it is never shown after creation. ``events`` lists the event types sent (``data-changed``,
    ``sync-finished``, ``integration-created``, ``connection-flow-failed``).
    """

    id: str
    url: str
    secret: str
    events: list[str] = field(default_factory=lambda: ["data-changed", "sync-finished", "integration-created",
                                                       "connection-flow-failed"])
    enabled: bool = True
    created_at: datetime | None = None

    def __repr__(self) -> str:
        """Like the dataclass repr, without the secret."""
        return (f"WebhookEndpoint(id={self.id!r}, url={self.url!r}, secret='***', events={self.events!r}, "
                f"enabled={self.enabled!r}, created_at={self.created_at!r})")


@dataclass
class WebhookDelivery:
    """One event sent (or being sent) to one endpoint: the delivery log entry.

    ``status`` is ``pending`` (attempts left, next at ``next_attempt_at``), ``delivered`` or
    ``failed`` (gave up). ``body`` is the exact JSON text that is signed and sent.
    """

    id: str
    endpoint_id: str
    event_id: str
    event_type: str
    integration_id: str
    status: str
    body: str
    created_at: datetime
    attempts: int = 0
    last_attempt_at: datetime | None = None
    next_attempt_at: datetime | None = None
    response_status: int | None = None
    error: str | None = None


@dataclass
class MappedRecord:
    """A record as the engine hands it to the store.

    ``fields`` holds the model's unified fields (see ``engine.models``), already validated.
    ``remote_data`` is keyed by the source endpoint/function. Hashes are hex strings computed by
    the engine over canonical JSON.
    """

    id: str
    remote_id: str
    fields: dict[str, Any]
    remote_data: dict[str, Any]
    content_hash: str
    raw_hash: str


#: JSON text served as is (``orjson`` embeds it without decoding): ``remote_data`` of a
#: ``Query`` with ``raw_remote_data``.
RawJSON = orjson.Fragment


@dataclass
class StoredRecord:
    """A record as read back: the unified fields plus bookkeeping."""

    id: str
    remote_id: str
    fields: dict[str, Any]
    remote_data: dict[str, Any] | None
    changed_at: datetime
    remote_deleted_at: datetime | None


@dataclass
class Query:
    """A page request on one model of one integration.

    Keyset pagination: results are ordered by ``id`` ascending and start strictly after
    ``after_id``. ``snapshot`` (if set) hides rows first created after that instant, so a
    client paging through while a sync writes sees every record that existed at its start
    exactly once. Filters combine with AND; each list filter is an OR over its values.
    ``updated_after`` follows the nested rules of ``engine.models`` (a course matches when one
    of its revisions changed, was added or was removed).
    ``refs`` filters a ref field by lmsync ids, e.g. ``{"user_id": [...]}``; the special key
    ``"course_id"`` on ``course_progressions`` filters through the revision's course.
    """

    integration_id: str
    model: str
    limit: int = 100
    after_id: str | None = None
    ids: Sequence[str] | None = None
    remote_ids: Sequence[str] | None = None
    updated_after: datetime | None = None
    include_deleted: bool = False
    refs: dict[str, Sequence[str]] = field(default_factory=dict)
    field_in: dict[str, Sequence[str]] = field(default_factory=dict)  # e.g. {"work_email": [...]}
    #: like ``field_in``, compared case-insensitively (lower-cased on both sides; SQLite folds ASCII only)
    field_in_lower: dict[str, Sequence[str]] = field(default_factory=dict)
    snapshot: datetime | None = None
    #: return ``remote_data`` as ``RawJSON`` (the stored text) instead of decoding it; for
    #: readers that only pass it on, such as the API
    raw_remote_data: bool = False


@dataclass
class WriteCounts:
    """What a batch write did."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, other: "WriteCounts") -> None:
        """Accumulate *other* into this object."""
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged


class ModelWriter(abc.ABC):
    """Writes one model of one integration inside one transaction (a context manager).

    On entry it loads ``{id: (content_hash, raw_hash)}`` of the existing rows, so each record is
    classified created / updated / unchanged in memory and unchanged rows are not touched.
    On normal exit it commits; on an exception it rolls back and re-raises.
    A record that was deleted (``remote_deleted_at`` set) and is written again is restored:
    ``remote_deleted_at`` is cleared and ``changed_at`` moves.
    """

    seen_ids: set[str]

    @abc.abstractmethod
    def write(self, records: Iterable[MappedRecord], now: datetime) -> WriteCounts:
        """Upsert a batch. Records with an id already seen in this writer are a caller error."""

    def maybe_changed(self, records: Iterable[MappedRecord]) -> list[MappedRecord]:
        """The *records* whose stored row exists and may hold other unified fields (what a status
        regression needs); a writer that knows the stored content hashes leaves out new and
        unchanged ones. The default keeps every record."""
        return list(records)

    @abc.abstractmethod
    def __enter__(self) -> "ModelWriter": ...

    @abc.abstractmethod
    def __exit__(self, exc_type, exc, tb) -> None: ...


class Store(abc.ABC):
    """A storage backend. Implementations: ``SQLiteStore``, ``PostgresStore``.

    Every method is safe to call from several threads; a backend serialises writes itself.
    """

    # --- lifecycle -------------------------------------------------------------------------
    @abc.abstractmethod
    def migrate(self) -> None:
        """Create or upgrade the schema. Idempotent."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections."""

    # --- integrations ----------------------------------------------------------------------
    @abc.abstractmethod
    def add_integration(self, integration: Integration) -> None: ...

    @abc.abstractmethod
    def get_integration(self, integration_id: str) -> Integration | None: ...

    @abc.abstractmethod
    def list_integrations(self) -> list[Integration]: ...

    @abc.abstractmethod
    def update_integration(self, integration: Integration) -> None:
        """Persist settings, enabled flag, availability and credentials of an existing row."""

    @abc.abstractmethod
    def remove_integration(self, integration_id: str) -> bool:
        """Delete the integration with all its records and runs. False if it did not exist."""

    # --- API keys --------------------------------------------------------------------------
    @abc.abstractmethod
    def add_api_key(self, key: ApiKey) -> None: ...

    @abc.abstractmethod
    def get_api_key(self, key_id: str) -> ApiKey | None: ...

    @abc.abstractmethod
    def list_api_keys(self) -> list[ApiKey]: ...

    @abc.abstractmethod
    def remove_api_key(self, key_id: str) -> bool:
        """Delete (revoke) an API key. False if it did not exist."""

    @abc.abstractmethod
    def set_api_key_expiry(self, key_id: str, expires_at: datetime | None) -> bool:
        """Set (``None``: clear) when an API key expires. False if it does not exist."""

    # --- runs and the per-integration lock -------------------------------------------------
    @abc.abstractmethod
    def start_run(self, integration_id: str, kind: str, now: datetime, stale_after_s: float = 300,
                  run_id: str | None = None) -> SyncRun:
        """Create a ``running`` run (id *run_id*, or a fresh one), or raise ``SyncAlreadyRunning``.

        A running run whose ``heartbeat_at`` is older than ``stale_after_s`` belongs to a dead
        process: it is marked ``failed`` ("abandoned") and the new run starts.
        """

    @abc.abstractmethod
    def heartbeat(self, run_id: str, now: datetime) -> bool:
        """Refresh a running run's heartbeat. False when the run no longer holds the lock
        (taken over, finished): its owner must stop. ``NotFound`` if it does not exist."""

    @abc.abstractmethod
    def finish_run(self, run: SyncRun) -> None:
        """Persist status, finished_at, stats, warnings and error of *run*, only while it still
        holds the lock (status ``running`` in the store): else ``RunFenced``, nothing written."""

    @abc.abstractmethod
    def list_runs(self, integration_id: str | None = None, limit: int = 50) -> list[SyncRun]:
        """Newest first."""

    @abc.abstractmethod
    def get_run(self, run_id: str) -> SyncRun | None: ...

    # --- action tasks ----------------------------------------------------------------------
    @abc.abstractmethod
    def put_task(self, task: ActionTask) -> None:
        """Insert *task* or overwrite the stored task with the same id (status, results...)."""

    @abc.abstractmethod
    def get_task(self, task_id: str) -> ActionTask | None:
        """The task, or ``None``."""

    def latest_runs(self) -> dict[tuple[str, str, str], datetime]:
        """``{(integration_id, kind, status): newest started_at}`` over every run (the
        scheduler's input). Backends may answer this with one query."""
        found: dict[tuple[str, str, str], datetime] = {}
        for integration in self.list_integrations():
            for run in self.list_runs(integration.id, limit=200):
                found.setdefault((run.integration_id, run.kind, run.status), run.started_at)
        return found

    # --- webhooks --------------------------------------------------------------------------
    @abc.abstractmethod
    def add_webhook(self, endpoint: WebhookEndpoint) -> None:
        """Insert *endpoint* (secret encrypted); ``StoreError`` if the id exists."""

    @abc.abstractmethod
    def list_webhooks(self) -> list[WebhookEndpoint]:
        """All endpoints (secrets decrypted), oldest first."""

    @abc.abstractmethod
    def remove_webhook(self, endpoint_id: str) -> bool:
        """Delete an endpoint (its delivery log stays). False if it did not exist."""

    @abc.abstractmethod
    def put_delivery(self, delivery: WebhookDelivery) -> None:
        """Insert *delivery* or overwrite the stored one with the same id."""

    @abc.abstractmethod
    def get_delivery(self, delivery_id: str) -> WebhookDelivery | None: ...

    @abc.abstractmethod
    def list_deliveries(self, limit: int = 50, status: str | None = None) -> list[WebhookDelivery]:
        """Newest first, optionally only those with *status*."""

    # --- records ---------------------------------------------------------------------------
    @abc.abstractmethod
    def writer(self, integration_id: str, model: str, run_id: str | None = None) -> ModelWriter:
        """A writer for one model. With *run_id* (fencing) its commit checks, in the same
        transaction, that the run still holds the lock, else raises ``RunFenced``."""

    @abc.abstractmethod
    def mark_deleted(self, integration_id: str, model: str, seen_ids: set[str], now: datetime,
                     run_id: str | None = None) -> int:
        """Set ``remote_deleted_at`` (and ``changed_at``) on live rows whose id is not in
        *seen_ids*. Returns how many were marked. Called only after a complete FULL run."""

    @abc.abstractmethod
    def query(self, q: Query) -> list[StoredRecord]:
        """One page, ordered by id; at most ``q.limit`` rows."""

    @abc.abstractmethod
    def get_many(self, integration_id: str, model: str, ids: Sequence[str], *,
                 with_remote_data: bool = True) -> dict[str, StoredRecord]:
        """Rows by id (deleted ones included), for composing embedded shapes. Summaries that
        never show ``remote_data`` pass ``with_remote_data=False`` (it is then ``None``) and
        skip reading and parsing it."""

    @abc.abstractmethod
    def versions(self, integration_id: str, models: Sequence[str]) -> dict[str, str | None]:
        """An opaque version token per model of *models* (``None`` before any write). A model's
        token is replaced in the same transaction as every write to its rows of this integration
        (a writer's commit, ``mark_deleted``), so equal tokens mean unchanged rows — what caches
        of derived data (embedded summaries, pages read ahead) check before answering."""

    @abc.abstractmethod
    def summaries(self, integration_id: str, model: str, ids: Sequence[str],
                  fields: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Small embedded shapes by id (deleted rows included, unknown ids absent): for each
        row ``{"id", "remote_id", *fields}``, where *fields* are top-level text fields of the
        model, read as text inside the database without decoding whole records — e.g. the user
        summary of a page of progressions. The dicts are cached and shared between calls: do
        not change them."""

    @abc.abstractmethod
    def children(self, integration_id: str, model: str, ref_field: str, parent_ids: Sequence[str]) -> list[StoredRecord]:
        """Rows of *model* whose *ref_field* is one of *parent_ids* (deleted ones included),
        ordered by id — e.g. the revisions of a page of courses."""

    @abc.abstractmethod
    def find_by_remote_id(self, integration_id: str, model: str, remote_id: str) -> StoredRecord | None: ...

    @abc.abstractmethod
    def count(self, integration_id: str, model: str, include_deleted: bool = False) -> int: ...

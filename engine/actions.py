"""Write actions: validate the input, resolve ids, run the connector's hook, re-read the result.

Flow of every action (generic: no connector is named here)::

    input ──validate (schemas/)──► resolve ids ──► hook lmsync_run_action ──► SyncEngine.refresh
                                   lmsync id → stored record's remote id      (re-read what changed,
                                   "remote:<id>" → used as is                  so reads show it at once)

An id is either an lmsync id (looked up in the store; unknown → ``ActionRecordNotFound``) or
``remote:<remote id>`` (used directly; its lmsync id is derived, records need not be synced yet).
The hook receives the payload with both: for every id field ``<x>_id`` there is ``<x>_remote_id``.

The hook answers ``{"remote_id": <remote id of the record the action produced>, "refresh":
[{"model", "remote_ids", "parents"?}], "warnings": [str]}``. A failed re-read after a successful
write does not fail the action: it becomes a warning (the next sync brings the record).

Bulk course upserts run in a background thread pool. Their ``ActionTask`` is persisted in the
store (``put_task``/``get_task``), so a task can be polled from any process sharing the store;
a task still ``PENDING`` after ``task_timeout_s`` (e.g. its process died) is reported ``FAILED``
with ``PLATFORM.TASK_TIMED_OUT``.

Error codes (the contract's) for an exception: see ``error_code``.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator

from engine.errors import (
    AccessDenied,
    ActionError,
    ActionInputInvalid,
    ActionRecordNotFound,
    AuthenticationFailed,
    BadResponse,
    LmsyncError,
    PermissionMissing,
    RateLimited,
    RemoteError,
    RemoteInputInvalid,
    RemoteNotFound,
    TransientError,
)
from engine.ids import random_id, record_id
from engine.scope_config import scope_config_for
from engine.store.base import ActionTask, Integration, StoredRecord
from engine.sync import SyncEngine, now_utc
from engine.transport import Transport
from schemas._loader import load_schema

__all__ = [
    "ActionService",
    "ActionResult",
    "ACTIONS",
    "UPSERT_TASK",
    "error_code",
    "error_json",
    "KNOWN_CODES",
]

log = logging.getLogger("lmsync.actions")

UPSERT_TASK = "upsert_courses"
# hook action name -> (input schema, model of the record the action returns)
ACTIONS: dict[str, tuple[str, str]] = {
    "upsert_course": ("upsert-courses-item", "courses"),
    "deactivate_course": ("deactivate", "courses"),
    "enroll": ("enroll", "course_progressions"),
    "complete": ("complete", "course_progressions"),
}
REMOTE_PREFIX = "remote:"

_TITLES = {
    "PLATFORM.INPUT_INVALID": "The input is invalid.",
    "PLATFORM.INTEGRATION_NOT_FOUND": "The integration was not found.",
    "PLATFORM.UNKNOWN_ERROR": "An unknown error occurred.",
    "PLATFORM.TASK_TIMED_OUT": "The task timed out.",
    "INTEGRATION.ACTION_NOT_AVAILABLE": "This action isn't available for the integration.",
    "INTEGRATION.INACTIVE": "The integration is inactive.",
    "INTEGRATION.ACTION_DISABLED": "The action is disabled in the integration's scope config.",
    "INTEGRATION.AUTHENTICATION_INVALID": "The integration's credentials are invalid.",
    "INTEGRATION.PERMISSION_MISSING": "The integration's credentials lack a permission.",
    "REMOTE.INPUT_INVALID": "The remote system rejected the input.",
    "REMOTE.RATE_LIMIT_EXCEEDED": "The remote system's rate limit was exceeded.",
    "REMOTE.SERVICE_UNAVAILABLE": "The remote system is unavailable.",
    "REMOTE.UNKNOWN_HTTP_ERROR": "The remote system answered with an error.",
}
KNOWN_CODES = frozenset(_TITLES)

# most specific first: (exception type, contract error code)
_CODES: tuple[tuple[type[BaseException], str], ...] = (
    (AuthenticationFailed, "INTEGRATION.AUTHENTICATION_INVALID"),
    (PermissionMissing, "INTEGRATION.PERMISSION_MISSING"),
    (AccessDenied, "INTEGRATION.PERMISSION_MISSING"),
    (RemoteInputInvalid, "REMOTE.INPUT_INVALID"),
    (RemoteNotFound, "REMOTE.INPUT_INVALID"),
    (RateLimited, "REMOTE.RATE_LIMIT_EXCEEDED"),
    (TransientError, "REMOTE.SERVICE_UNAVAILABLE"),
    (BadResponse, "REMOTE.SERVICE_UNAVAILABLE"),
    (RemoteError, "REMOTE.UNKNOWN_HTTP_ERROR"),
)


def error_code(exc: BaseException) -> str:
    """The contract error code for *exc* (by type; an ``ActionError`` carries its own code)."""
    if isinstance(exc, ActionError):
        return exc.code if exc.code in KNOWN_CODES else "PLATFORM.UNKNOWN_ERROR"
    for cls, code in _CODES:
        if isinstance(exc, cls):
            return code
    return "PLATFORM.UNKNOWN_ERROR"


def error_json(exc: BaseException) -> dict[str, Any]:
    """The contract's error object for *exc*; unexpected exceptions carry no details."""
    code = error_code(exc)
    message = str(exc) if isinstance(exc, LmsyncError) else "An internal error occurred."
    return {"code": code, "title": _TITLES.get(code), "message": message, "log_url": None}


@lru_cache(maxsize=None)
def _validator(schema: str) -> Draft202012Validator:
    # No format checker on purpose: complete.completed_at is typed date-time but its pattern
    # (and the contract's example "2024-04-15") allows a bare date; the pattern is what we check.
    return Draft202012Validator(load_schema(schema))


def _validate(schema: str, data: Any) -> None:
    errors = sorted(_validator(schema).iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        where = "/".join(map(str, errors[0].absolute_path)) or "body"
        raise ActionInputInvalid(f"Invalid input at {where}: {errors[0].message}")


@dataclass
class ActionResult:
    """What a synchronous action gives back: the affected record as now stored, and warnings."""

    model: str
    record: StoredRecord
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Done:
    """One hook call's outcome before the re-read."""

    remote_id: str
    refresh: list[dict[str, Any]]
    warnings: list[str]


class ActionService:
    """Runs write actions of any connector against a store through a ``SyncEngine``."""

    def __init__(self, engine: SyncEngine, *, workers: int = 2, task_timeout_s: float = 3600.0) -> None:
        self.engine = engine
        self.store = engine.store
        self.task_timeout = timedelta(seconds=task_timeout_s)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lmsync-action")
        self._done: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    # --- synchronous actions ------------------------------------------------------------------
    def deactivate_course(self, integration_id: str, course_id: str) -> ActionResult:
        """Deactivate a course (its revisions become INACTIVE; progress is kept)."""
        integration = self._integration(integration_id, "deactivate_course")
        payload = self._with_ids(integration.id, {"course_id": course_id}, {"course_id": "courses"})
        return self._run(integration, "deactivate_course", payload)

    def enroll(self, integration_id: str, body: dict[str, Any]) -> ActionResult:
        """Enroll ``body["user_id"]`` in ``body["course_revision_id"]``; returns the progression."""
        integration = self._integration(integration_id, "enroll")
        _validate("enroll", body)
        refs = {"user_id": "users", "course_revision_id": "course_revisions"}
        return self._run(integration, "enroll", self._with_ids(integration.id, body, refs))

    def complete(self, integration_id: str, progression_id: str, body: dict[str, Any] | None = None) -> ActionResult:
        """Complete a progression; ``body`` may carry ``completed_at`` and ``score`` (0-100)."""
        integration = self._integration(integration_id, "complete")
        body = dict(body or {})
        _validate("complete", body)
        body["course_progression_id"] = progression_id
        payload = self._with_ids(integration.id, body, {"course_progression_id": "course_progressions"})
        return self._run(integration, "complete", payload)

    # --- bulk upsert ------------------------------------------------------------------------
    def submit_upsert(self, integration_id: str, items: list[dict[str, Any]]) -> ActionTask:
        """Store a ``PENDING`` task and upsert *items* in the background; returns the task."""
        integration = self._integration(integration_id, "upsert_course")
        task = self._new_task(integration.id)
        event = threading.Event()
        with self._lock:
            self._done[task.id] = event
        self._pool.submit(self._background, integration, list(items), task, event)
        return task

    def run_upsert(self, integration_id: str, items: list[dict[str, Any]]) -> ActionTask:
        """Upsert *items* now (in this thread) and return the finished, stored task."""
        integration = self._integration(integration_id, "upsert_course")
        task = self._new_task(integration.id)
        self._upsert_all(integration, items, task)
        return task

    def get_task(self, integration_id: str, task_id: str) -> ActionTask | None:
        """The task if it belongs to *integration_id* (``None`` otherwise, like a missing one)."""
        task = self.store.get_task(task_id)
        if task is None or task.integration_id != integration_id:
            return None
        if task.status == "PENDING" and now_utc() - task.created_at > self.task_timeout:
            err = ActionError("The task did not finish in time (its worker may have stopped).", code="PLATFORM.TASK_TIMED_OUT")
            return replace(task, status="FAILED", completed_at=task.created_at + self.task_timeout, error=error_json(err))
        return task

    def wait(self, task_id: str, timeout: float | None = None) -> bool:
        """Block until a task submitted by this service finished; False on timeout."""
        with self._lock:
            event = self._done.get(task_id)
        return True if event is None else event.wait(timeout)

    def close(self) -> None:
        """Finish queued tasks and stop the worker threads."""
        self._pool.shutdown(wait=True)

    # --- internals --------------------------------------------------------------------------
    def _integration(self, integration_id: str, action: str | None = None) -> Integration:
        integration = self.store.get_integration(integration_id)
        if integration is None:
            raise ActionError(f"No integration with id {integration_id!r} was found.", code="PLATFORM.INTEGRATION_NOT_FOUND")
        if not integration.enabled:
            raise ActionError("The integration is disabled; enable it before writing to it.", code="INTEGRATION.INACTIVE")
        scope = scope_config_for(self.store, integration_id) if action is not None else None
        if action is not None and scope is not None and not scope.action_enabled(action):
            raise ActionError(f"The {action} action is disabled by the integration's scope config {scope.name!r}.",
                              code="INTEGRATION.ACTION_DISABLED")
        return integration

    def _with_ids(self, iid: str, body: dict[str, Any], refs: dict[str, str]) -> dict[str, Any]:
        """*body* with every id of *refs* resolved: ``<x>_id`` (lmsync) and ``<x>_remote_id``."""
        out = dict(body)
        for key, model in refs.items():
            given = str(body.get(key) or "").strip()
            if given.startswith(REMOTE_PREFIX):
                remote = given[len(REMOTE_PREFIX):].strip()
                if not remote:
                    raise ActionInputInvalid(f"{key}: {given!r} names no remote id (expected 'remote:<id>').")
                out[key] = record_id(iid, model, remote)
            else:
                rec = self.store.get_many(iid, model, [given]).get(given) if given else None
                if rec is None:
                    raise ActionRecordNotFound(f"{key}: no {model.replace('_', ' ').rstrip('s')} with id {given!r} was found.")
                remote = rec.remote_id
            out[key[:-3] + "_remote_id"] = remote
        return out

    def _call_hook(self, integration: Integration, transport: Transport, action: str, payload: dict[str, Any]) -> _Done:
        out = self.engine.pm.hook.lmsync_run_action(integration=integration, transport=transport, action=action, payload=payload)
        if not isinstance(out, dict) or out.get("remote_id") in (None, ""):
            raise ActionError(f"the {integration.connector} connector gave no result for {action}", code="PLATFORM.UNKNOWN_ERROR")
        return _Done(str(out["remote_id"]), list(out.get("refresh") or []), [str(w) for w in out.get("warnings") or []])

    def _refresh(self, integration: Integration, transport: Transport, requests: Iterable[dict[str, Any]]) -> list[str]:
        """Re-read every requested record; failures become warnings (the write already happened)."""
        warnings: list[str] = []
        for req in _merged(requests):
            try:
                self.engine.refresh(integration, req["model"], req["remote_ids"], req.get("parents"), transport=transport)
            except LmsyncError as exc:
                log.warning("re-reading %s after an action failed: %s", req["model"], exc)
                warnings.append(f"The change was made, but re-reading {req['model']} failed ({exc}); "
                                "it will show after the next sync.")
        return warnings

    def _run(self, integration: Integration, action: str, payload: dict[str, Any]) -> ActionResult:
        model = ACTIONS[action][1]
        with self.engine.transport(integration) as transport:
            done = self._call_hook(integration, transport, action, payload)
            warnings = done.warnings + self._refresh(integration, transport, done.refresh)
        rid = record_id(integration.id, model, done.remote_id)
        record = self.store.get_many(integration.id, model, [rid]).get(rid)
        if record is None:
            raise ActionError(f"The action was carried out (remote id {done.remote_id}), but the {model} record "
                              "could not be read back; it will show after the next sync.", code="PLATFORM.UNKNOWN_ERROR")
        return ActionResult(model, record, warnings)

    def _new_task(self, iid: str) -> ActionTask:
        task = ActionTask(id=random_id(), integration_id=iid, kind=UPSERT_TASK, status="PENDING", created_at=now_utc())
        self.store.put_task(task)
        return task

    def _background(self, integration: Integration, items: list[dict[str, Any]], task: ActionTask, event: threading.Event) -> None:
        try:
            self._upsert_all(integration, items, task)
        except Exception as exc:  # noqa: BLE001 - a task must always end
            log.exception("upsert task %s failed", task.id)
            self._finish(task, "FAILED", error=error_json(exc))
        finally:
            event.set()
            with self._lock:
                self._done.pop(task.id, None)

    def _upsert_all(self, integration: Integration, items: list[dict[str, Any]], task: ActionTask) -> None:
        """Upsert item by item (per-item results), then re-read every touched course once."""
        results: list[dict[str, Any]] = []
        refresh: list[dict[str, Any]] = []
        with self.engine.transport(integration) as transport:
            for item in items:
                origin = str(item.get("origin_id", "")) if isinstance(item, dict) else ""
                try:
                    _validate("upsert-courses-item", item)
                    done = self._call_hook(integration, transport, "upsert_course", dict(item))
                except AuthenticationFailed as exc:  # nothing else can succeed either
                    self._finish(task, "FAILED", results=results, error=error_json(exc))
                    return
                except LmsyncError as exc:
                    results.append({"origin_id": origin, "status": "FAILED", "error": error_json(exc)})
                    continue
                refresh += done.refresh
                task.warnings += [f"{origin}: {w}" for w in done.warnings]
                cid = record_id(integration.id, "courses", done.remote_id)
                results.append({"origin_id": origin, "status": "SUCCEEDED", "data": {"id": cid}})
            task.warnings += self._refresh(integration, transport, refresh)
        self._finish(task, "COMPLETED", results=results)

    def _finish(self, task: ActionTask, status: str, *, results: list[dict[str, Any]] | None = None,
                error: dict[str, Any] | None = None) -> None:
        task.status, task.completed_at, task.error = status, now_utc(), error
        if results is not None:
            task.results = results
        self.store.put_task(task)


def _merged(requests: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Refresh requests with equal model and parents merged (their remote ids united, in order)."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for req in requests:
        key = (req["model"], json.dumps(req.get("parents") or {}, sort_keys=True, default=str))
        entry = merged.setdefault(key, {"model": req["model"], "remote_ids": [], "parents": req.get("parents")})
        for rid in req["remote_ids"]:
            if str(rid) not in entry["remote_ids"]:
                entry["remote_ids"].append(str(rid))
    return list(merged.values())

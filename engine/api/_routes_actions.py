"""Write actions: bulk course upsert (async task), deactivate course, enroll, complete.

Every route authenticates, scopes the integration (a key limited to A gets the same 404 for B
as for a missing integration), checks that actions are served (else 403
``INTEGRATION.ACTION_NOT_AVAILABLE``), validates its body against the contract, then calls the
engine's ``ActionService`` (``ApiServices.actions``) in a worker thread. Engine errors become
the contract's envelope with the code ``engine.actions.error_code`` picks; the HTTP status
follows from the code (404 for ids that name nothing).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from engine.actions import ActionResult, error_json
from engine.errors import ActionNotAvailable, ActionRecordNotFound, LmsyncError, RemoteNotFound
from engine.store.base import ActionTask, Integration, Store

from ._auth import authenticate, header_integration_id, scoped_integration
from ._body import read_json_body
from ._compose import compose_page
from ._errors import ApiError, contract_code
from ._serialize import iso

if TYPE_CHECKING:
    from engine.actions import ActionService

__all__ = ["action_routes", "ActionFailed", "record_json", "task_json", "result_json"]

_STATUS = {
    "PLATFORM.INPUT_INVALID": 400,
    "PLATFORM.INTEGRATION_NOT_FOUND": 404,
    "PLATFORM.TASK_TIMED_OUT": 504,
    "INTEGRATION.ACTION_NOT_AVAILABLE": 403,
    "INTEGRATION.INACTIVE": 403,
    "INTEGRATION.ACTION_DISABLED": 403,
    "INTEGRATION.AUTHENTICATION_INVALID": 403,
    "INTEGRATION.PERMISSION_MISSING": 403,
    "REMOTE.INPUT_INVALID": 400,
    "REMOTE.RATE_LIMIT_EXCEEDED": 429,
    "REMOTE.SERVICE_UNAVAILABLE": 503,
    "REMOTE.UNKNOWN_HTTP_ERROR": 502,
}


class ActionFailed(ApiError):
    """An engine error of a write action, in the contract's envelope."""

    def __init__(self, exc: BaseException) -> None:
        body = error_json(exc)
        code = body["code"]
        message = body["message"] if code.startswith("PLATFORM.") else f"[{code}] {body['message']}"
        super().__init__(message)
        self.code, self.title = contract_code(code), body["title"]
        self.status = 404 if isinstance(exc, ActionRecordNotFound | RemoteNotFound) else _STATUS.get(code, 500)


def _not_available() -> ActionFailed:
    return ActionFailed(ActionNotAvailable("Write actions are not enabled on this server."))


def record_json(store: Store, integration_id: str, model: str, record: Any) -> dict[str, Any]:
    """The API JSON of one stored record (a course with its revisions, a progression with its
    user and revision summaries), as the list endpoints render it."""
    return compose_page(store, integration_id, model, [record], include_deleted=False)[0]


def result_json(store: Store, integration_id: str, result: ActionResult) -> dict[str, Any]:
    """The positive response of a synchronous action: record and warnings."""
    return {
        "status": "success",
        "data": record_json(store, integration_id, result.model, result.record),
        "warnings": [{"message": w} for w in result.warnings],
    }


def task_json(task: ActionTask) -> dict[str, Any]:
    """A task in the GetLmsCoursesBulkTaskId ``data`` shape (PENDING / COMPLETED / FAILED)."""
    out: dict[str, Any] = {"task_id": task.id, "created_at": iso(task.created_at), "status": task.status}
    if task.status == "COMPLETED":
        out["data"] = task.results
    elif task.status == "FAILED":
        out["error"] = task.error or {"code": "PLATFORM.UNKNOWN_ERROR", "title": None, "message": "The task failed.", "log_url": None}
    out["completed_at"] = iso(task.completed_at) if task.status != "PENDING" else None
    return out


def _services(request: Request) -> tuple[Store, "ActionService"]:
    actions = request.app.state.services.actions
    if actions is None:
        raise _not_available()
    return request.app.state.store, actions


async def _integration(request: Request) -> Integration:
    store: Store = request.app.state.store

    def work() -> Integration:
        key = authenticate(store, request)
        return scoped_integration(store, key, header_integration_id(request))

    return await run_in_threadpool(work)


async def _engine(fn: Callable[..., Any], *args: Any) -> Any:
    """Run an engine call in a worker thread; its errors become the contract envelope."""
    def work() -> Any:
        try:
            return fn(*args)
        except LmsyncError as exc:
            raise ActionFailed(exc) from None

    return await run_in_threadpool(work)


async def upsert_courses(request: Request) -> JSONResponse:
    integration = await _integration(request)
    _, actions = _services(request)
    body = await read_json_body(request, "PostLmsCoursesBulkRequestBody", required=True, count_items="items")
    task = await _engine(actions.submit_upsert, integration.id, body["items"])
    return JSONResponse({"status": "success", "data": {"task_id": task.id}, "warnings": []})


async def upsert_task(request: Request) -> JSONResponse:
    integration = await _integration(request)
    task_id = request.path_params["task_id"]
    actions = request.app.state.services.actions
    task = await _engine(actions.get_task, integration.id, task_id) if actions is not None else None
    if task is None:
        raise ActionFailed(ActionRecordNotFound(f"No task with id {task_id!r} was found."))
    warnings = [{"message": w} for w in task.warnings]
    return JSONResponse({"status": "success", "data": task_json(task), "warnings": warnings})


async def deactivate_course(request: Request) -> JSONResponse:
    integration = await _integration(request)
    store, actions = _services(request)
    await read_json_body(request, "PostLmsCoursesCourseIdDeactivateRequestBody", required=False)
    result = await _engine(actions.deactivate_course, integration.id, request.path_params["course_id"])
    return JSONResponse(await run_in_threadpool(result_json, store, integration.id, result))


async def enroll(request: Request) -> JSONResponse:
    integration = await _integration(request)
    store, actions = _services(request)
    body = await read_json_body(request, "PostLmsCourseProgressionsRequestBody", required=True)
    result = await _engine(actions.enroll, integration.id, body)
    return JSONResponse(await run_in_threadpool(result_json, store, integration.id, result))


async def complete(request: Request) -> JSONResponse:
    integration = await _integration(request)
    store, actions = _services(request)
    body = await read_json_body(request, "PostLmsCourseProgressionsCourseProgressionIdCompleteRequestBody", required=False)
    result = await _engine(actions.complete, integration.id, request.path_params["course_progression_id"], body)
    return JSONResponse(await run_in_threadpool(result_json, store, integration.id, result))


def action_routes() -> list[Route]:
    """The write-action routes, mounted under ``/v1``."""
    return [
        Route("/v1/lms/courses/bulk", upsert_courses, methods=["POST"]),
        Route("/v1/lms/courses/bulk/{task_id}", upsert_task, methods=["GET"]),
        Route("/v1/lms/courses/{course_id}/deactivate", deactivate_course, methods=["POST"]),
        Route("/v1/lms/course-progressions", enroll, methods=["POST"]),
        Route("/v1/lms/course-progressions/{course_progression_id}/complete", complete, methods=["POST"]),
    ]

"""``GET /v1/lms/{users,skills,courses,course-progressions}``: filtered, cursor-paged reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from engine.store.base import Query, Store

from ._auth import authenticate, header_integration_id, scoped_integration
from ._compose import compose_page
from ._cursor import Cursor, decode_cursor, encode_cursor, filters_hash
from ._errors import FastJSONResponse
from ._params import ListParams, parse_list_params

__all__ = ["read_routes", "ListEndpoint", "LIST_ENDPOINTS"]


@dataclass(frozen=True)
class ListEndpoint:
    """One list endpoint: its path under ``/v1``, model and endpoint-specific list filters."""

    path: str
    model: str
    extra_lists: tuple[str, ...] = ()


LIST_ENDPOINTS = (
    ListEndpoint("/lms/users", "users", ("work_emails",)),
    ListEndpoint("/lms/skills", "skills"),
    ListEndpoint("/lms/courses", "courses"),
    ListEndpoint("/lms/course-progressions", "course_progressions", ("user_ids", "course_ids")),
)


def _or_none(values: list[str] | None) -> list[str] | None:
    return values or None  # an empty list (``ids=``) means "no filter"


def _build_query(iid: str, ep: ListEndpoint, p: ListParams) -> Query:
    q = Query(
        integration_id=iid,
        model=ep.model,
        limit=p.page_size + 1,  # one extra row tells whether there is a next page
        ids=_or_none(p.ids),
        remote_ids=_or_none(p.remote_ids),
        updated_after=p.updated_after,
        include_deleted=p.include_deleted,
    )
    if emails := _or_none(p.lists.get("work_emails")):
        # the contract matches emails case-insensitively; the store compares exactly, so ask for
        # the given spelling and its lower-case form (mappings store emails as the LMS has them)
        q.field_in = {"work_email": list(dict.fromkeys([*emails, *(e.lower() for e in emails)]))}
    for param, ref in (("user_ids", "user_id"), ("course_ids", "course_id")):
        if values := _or_none(p.lists.get(param)):
            q.refs[ref] = values
    return q


def _list_page(store: Store, request: Request, ep: ListEndpoint) -> dict[str, Any]:
    key = authenticate(store, request)
    iid = scoped_integration(store, key, header_integration_id(request)).id
    params = parse_list_params(request.query_params, ep.extra_lists)
    now = datetime.now(timezone.utc)
    q_hash = filters_hash({"model": ep.model, "iid": iid, **params.filter_parts()})
    query = _build_query(iid, ep, params)
    query.snapshot = now
    if params.cursor is not None:
        cur = decode_cursor(params.cursor, q_hash, now)
        query.after_id, query.snapshot = cur.after, cur.snapshot
    rows = store.query(query)
    page = rows[: params.page_size]
    nxt = None
    if len(rows) > params.page_size:
        nxt = encode_cursor(Cursor(page[-1].id, query.snapshot, q_hash))
    results = compose_page(store, iid, ep.model, page, params.include_deleted)
    return {"status": "success", "data": {"next": nxt, "results": results}}


def _handler(ep: ListEndpoint):
    async def handle(request: Request) -> JSONResponse:
        store: Store = request.app.state.store
        return FastJSONResponse(await run_in_threadpool(_list_page, store, request, ep))

    handle.__name__ = f"list_{ep.model}"
    return handle


def read_routes() -> list[Route]:
    """The list routes, mounted under ``/v1``."""
    return [Route(f"/v1{ep.path}", _handler(ep), methods=["GET"]) for ep in LIST_ENDPOINTS]

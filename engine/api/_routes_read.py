"""``GET /v1/lms/{users,skills,courses,course-progressions}``: filtered, cursor-paged reads."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timezone

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from engine.scope_config import ScopeConfig, scope_config_for
from engine.store.base import Query, Store

from ._auth import authenticate, header_integration_id, scoped_integration
from ._compose import compose_page
from ._cursor import Cursor, decode_cursor, encode_cursor, filters_hash
from ._errors import FastJSONResponse
from ._params import ListParams, parse_list_params
from ._readahead import ReadAhead
from ._routes_custom_fields import with_custom_fields
from ._routes_fields import with_integration_fields
from ._scope_configs import apply_scope, check_filters, check_model_enabled

__all__ = ["read_routes", "ListEndpoint", "LIST_ENDPOINTS"]


@dataclass(frozen=True)
class ListEndpoint:
    """One list endpoint: its path under ``/v1``, model, endpoint-specific list filters and the
    models a page of it is composed from (what read-ahead checks for changes)."""

    path: str
    model: str
    extra_lists: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()


LIST_ENDPOINTS = (
    ListEndpoint("/lms/users", "users", ("work_emails",), ("users",)),
    ListEndpoint("/lms/skills", "skills", (), ("skills",)),
    ListEndpoint("/lms/courses", "courses", (), ("courses", "course_revisions", "revision_skills", "skills")),
    ListEndpoint("/lms/course-progressions", "course_progressions", ("user_ids", "course_ids"),
                 ("course_progressions", "users", "course_revisions", "courses")),
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
        raw_remote_data=True,  # passed on to the client as stored
    )
    if emails := _or_none(p.lists.get("work_emails")):
        q.field_in_lower = {"work_email": emails}  # "the format of the emails is case-insensitive"
    for param, ref in (("user_ids", "user_id"), ("course_ids", "course_id")):
        if values := _or_none(p.lists.get(param)):
            q.refs[ref] = values
    return q


@dataclass(frozen=True)
class _Page:
    body: bytes  # the rendered envelope
    next_after: str | None  # the last id, when there is a next page


def _render_page(store: Store, iid: str, ep: ListEndpoint, params: ListParams, q_hash: str,
             after: str | None, snapshot: datetime, scope: ScopeConfig | None = None) -> _Page:
    """One page after *after* (keyset) as of *snapshot*, rendered as *scope* (the integration's
    scope config, looked up when not given) lets it be served."""
    query = _build_query(iid, ep, params)
    query.after_id, query.snapshot = after, snapshot
    rows = store.query(query)
    page = rows[: params.page_size]
    more = len(rows) > params.page_size
    nxt = encode_cursor(Cursor(page[-1].id, snapshot, q_hash)) if more else None
    results = apply_scope(compose_page(store, iid, ep.model, page, params.include_deleted), ep.model,
                          scope or scope_config_for(store, iid))
    with_integration_fields(store, iid, ep.model, page, results)
    with_custom_fields(store, iid, ep.model, page, results, scope)
    body = {"status": "success", "data": {"next": nxt, "results": results}}
    return _Page(FastJSONResponse.render_bytes(body), page[-1].id if more else None)


def _list_page(store: Store, ahead: ReadAhead | None, request: Request, ep: ListEndpoint) -> bytes:
    key = authenticate(store, request)
    iid = scoped_integration(store, key, header_integration_id(request)).id
    scope = check_model_enabled(store, iid, ep.model)
    params = parse_list_params(request.query_params, ep.extra_lists)
    check_filters(scope, params.lists)
    now = datetime.now(timezone.utc)
    q_hash = filters_hash({"model": ep.model, "iid": iid, **params.filter_parts()})
    after, snapshot = None, now
    if params.cursor is not None:
        cur = decode_cursor(params.cursor, q_hash, now)
        after, snapshot = cur.after, cur.snapshot
    ident = (key.key_id, iid, ep.path, q_hash, params.page_size, snapshot)
    page = ahead.take((*ident, after)) if ahead is not None and after is not None else None
    if page is None:
        page = _render_page(store, iid, ep, params, q_hash, after, snapshot, scope)
    if ahead is not None and page.next_after is not None:
        ahead.submit((*ident, page.next_after), iid, ep.reads,
                     functools.partial(_render_page, store, iid, ep, params, q_hash, page.next_after, snapshot, scope))
    return page.body


def _handler(ep: ListEndpoint):
    async def handle(request: Request) -> Response:
        state = request.app.state
        body = await run_in_threadpool(_list_page, state.store, getattr(state, "read_ahead", None), request, ep)
        return Response(body, media_type="application/json")

    handle.__name__ = f"list_{ep.model}"
    return handle


def read_routes() -> list[Route]:
    """The list routes, mounted under ``/v1``."""
    return [Route(f"/v1{ep.path}", _handler(ep), methods=["GET"]) for ep in LIST_ENDPOINTS]

"""Executes compiled specs: pagination, fan-out, joins, look-ups → raw records, streamed.

Memory: a model's records flow through as an iterator. What is held in memory, by design:
the parent list of a fan-out (projected by ``fan_out.keep``), the index of a join (projected by
``join.keep``), the records of a model reused with ``from``, and the pages of at most
``2 × concurrency`` fan-out calls in flight.

Pagination stop rule: a stream stops after an empty page, and additionally after a short page
(``stop: short_page``) or once the records received reach the response's total
(``stop: total``); a ``next_url`` stream stops when an answer names no next page. Loop guard:
a page identical to an earlier one of the same stream (same length, first and last record), or
a next-page URL seen before, raises ``PaginationError`` before any of its records is yielded;
so does needing more than ``max_pages`` pages.

Answer shapes: every answer goes through its stream's (or look-up's) ``Expect`` inside the
transport's retry loop, so a wrong shape (``{}``, ``null``, ``[]`` where ``{"users": [...]}``
belongs) is a retried ``BadResponse`` and then a failed run, never zero records. A look-up
error the spec ignores marks the record ``INCOMPLETE`` for that look-up (see ``engine.mapper``).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from engine.errors import BadResponse, PaginationError, RemoteError
from engine.spec import FanOut, Join, Lookup, Spec, SpecSet, Stream
from engine.spec._model import NEXT_URL_PARAM, Prepare

__all__ = ["INCOMPLETE", "STAND_IN", "NEW_ONLY", "GROUP_KEY", "RunContext", "iter_stream", "iter_enriched", "window_map"]

_END = object()
_IGNORED = object()
#: Key of an enriched record listing the look-ups whose error the spec ignored for it: the
#: fields those look-ups feed keep their stored values (``engine.mapper``).
INCOMPLETE = "_incomplete"
#: Key of an enriched record listing the enrichments a DELTA run skipped (``delta.skip``): the
#: answers stored with the record stand in for them (``engine.mapper``).
STAND_IN = "_stand_in"
#: Key of a record read by a ``delta.reads`` entry with ``new_only``: dropped when its remote id
#: is stored (``engine.mapper``).
NEW_ONLY = "_new_only"
#: Key of a grouped record holding its group key (``engine.mapper`` reuses it as the remote id
#: when the spec's ``remote_id`` is the same expression).
GROUP_KEY = "_group_key"


@dataclass
class RunContext:
    """State shared by the streams of one sync run (or one preview)."""

    specset: SpecSet
    call: Callable[[str, dict[str, Any]], Any]
    settings: dict[str, Any] = field(default_factory=dict)
    integration_info: dict[str, Any] = field(default_factory=dict)  # exposed to fields as `_integration`
    since: int | None = None
    delta: bool = False
    max_pages: int | None = None  # an extra cap (per-model tests read a sample)
    _parents: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    _sources: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _joins: dict[int, dict[str, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    warnings: list[str] = field(default_factory=list)
    parent_override: dict[str, list[Any]] = field(default_factory=dict)  # model → parents, already projected
    # call(name, params, accept): ``accept`` checks the answer's shape inside the transport's
    # retry loop (a BadResponse is retried); without it the answer is checked once
    call_accepting: Callable[[str, dict[str, Any], Callable[[Any], Any]], Any] | None = None

    def warn(self, message: str) -> None:
        """Record a run warning (thread-safe)."""
        with self._lock:
            self.warnings.append(message)

    def source_records(self, model: str) -> list[dict[str, Any]]:
        """The (filtered) source records of *model*, read once per run and kept."""
        if model not in self._sources:
            self._sources[model] = list(iter_stream(self, self.specset.specs[model].source))
        return self._sources[model]

    def parents(self, fan: FanOut) -> list[Any]:
        """The parent list of a fan-out, projected by ``keep`` (cached per run)."""
        if fan.over in self.parent_override:
            return self.parent_override[fan.over]
        key = (fan.over or f"<{fan.stream.where}>", fan.keep.source if fan.keep else "@")
        if key not in self._parents:
            keep = fan.keep
            records = self._sources.get(fan.over) if fan.over else None
            if records is None:
                stream = fan.stream if fan.stream else self.specset.specs[fan.over].source
                records = iter_stream(self, stream)
            self._parents[key] = [keep(r) if keep else r for r in records]
        return self._parents[key]

    def join_index(self, join: Join) -> dict[str, Any]:
        """The join's stream read once and indexed by its key."""
        if id(join) not in self._joins:
            index: dict[str, Any] = {}
            duplicates = 0
            for rec in iter_stream(self, join.stream):
                k = join.key(rec)
                if k is None:
                    continue
                k = str(k)
                if k in index:
                    duplicates += 1
                    continue
                index[k] = join.keep(rec) if join.keep else rec
            if duplicates:
                self.warn(f"{join.stream.where}: {duplicates} records repeated a join key; the first was kept")
            self._joins[id(join)] = index
        return self._joins[id(join)]

    def tapped(self, model: str, records: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Pass *records* (the source of *model*) through, keeping what later streams of this
        run will need from them (fan-out parents, ``from`` reuse), so they are not read twice."""
        keeps, whole = self._consumers(model)
        if not keeps and not whole:
            yield from records
            return
        projected: dict[tuple[str, str], list[Any]] = {key: [] for key in keeps}
        kept: list[dict[str, Any]] = []
        for rec in records:
            for key, keep in keeps.items():
                projected[key].append(keep(rec) if keep else rec)
            if whole:
                kept.append(rec)
            yield rec
        self._parents.update(projected)
        if whole:
            self._sources[model] = kept

    def _consumers(self, model: str) -> tuple[dict[tuple[str, str], Any], bool]:
        keeps: dict[tuple[str, str], Any] = {}
        whole = False
        for spec in self.specset.specs.values():
            for stream in spec.streams():
                fan = stream.fan_out
                if fan and fan.over == model:
                    keeps[(model, fan.keep.source if fan.keep else "@")] = fan.keep
                whole = whole or stream.from_ == model
        return keeps, whole

    def fetch(self, name: str, params: dict[str, Any], accept: Callable[[Any], Any]) -> Any:
        """``accept(answer)`` of one call (its records or result); shape errors are retried
        like other ``BadResponse`` when the context has ``call_accepting``."""
        if self.call_accepting is not None:
            return self.call_accepting(name, params, accept)
        return accept(self.call(name, params))

    def call_of(self, stream: Stream) -> str:
        """The remote function a stream's records came from (following ``from``)."""
        while stream.from_:
            if stream.from_ not in self.specset.specs:  # a spec previewed on its own
                return stream.from_
            stream = self.specset.specs[stream.from_].source
        return stream.call or "?"


def _extract(stream: Stream, response: Any) -> list[dict[str, Any]]:
    """The records of one answer; ``BadResponse`` if its shape is not the expected one."""
    return stream.expect.take(stream.call, response)


def _accepting(stream: Stream, pairs: bool = False) -> Callable[[Any], Any]:
    """The shape check of *stream*'s answers; with *pairs*, ``(answer, records)``."""
    if pairs:
        return lambda response: (response, _extract(stream, response))
    return functools.partial(_extract, stream)


def _page_digest(records: list[dict[str, Any]]) -> str:
    ends = json.dumps([len(records), records[0], records[-1]], sort_keys=True, default=str)
    return hashlib.blake2b(ends.encode(), digest_size=16).hexdigest()


def _paged(ctx: RunContext, stream: Stream, parent: Any, params=None) -> Iterator[dict[str, Any]]:
    template = params or stream.params
    pag = stream.pagination
    context: dict[str, Any] = {"parent": parent, "settings": ctx.settings, "since": ctx.since, "page": None}
    if pag.type == "none":
        # One answer may hold a whole table (every user): hand its records over one at a time
        # from a private copy of the list, so each is freed once consumed, not at the end.
        pending = list(ctx.fetch(stream.call, template.render(context), _accepting(stream)))
        pending.reverse()
        while pending:
            yield pending.pop()
        return
    if pag.type == "next_url":
        yield from _followed(ctx, stream, template.render(context))
        return
    max_pages = min(pag.max_pages, ctx.max_pages or pag.max_pages)
    offset = number = pag.start
    received = pages = 0
    seen: set[str] = set()
    accept = _accepting(stream, pairs=True)
    ahead: Future | None = None  # the next page, fetched while this one's records are consumed
    pool: ThreadPoolExecutor | None = None
    try:
        while True:
            if ahead is not None:
                response, records = ahead.result()
                ahead = None
            else:
                context["page"] = {"offset": offset, "limit": pag.limit, "number": number}
                response, records = ctx.fetch(stream.call, template.render(context), accept)
            pages += 1
            if records:
                digest = _page_digest(records)
                if digest in seen:
                    raise PaginationError(
                        f"{stream.where}: page {pages} (offset {offset}) repeats an earlier page; stopped so no record is read twice"
                    )
                seen.add(digest)
            received += len(records)
            verdict = _after_page(ctx, stream, response, records, received, pages, max_pages)
            if verdict is None:
                offset += len(records)
                number += 1
                context["page"] = {"offset": offset, "limit": pag.limit, "number": number}
                pool = pool or ThreadPoolExecutor(max_workers=1, thread_name_prefix="lmsync-page")
                ahead = pool.submit(ctx.fetch, stream.call, template.render(context), accept)
            yield from records
            if verdict is _STOP:
                return
            if isinstance(verdict, Exception):
                raise verdict
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


_STOP = object()


def _after_page(ctx: RunContext, stream: Stream, response: Any, records: list[dict[str, Any]], received: int,
                pages: int, max_pages: int) -> object | Exception | None:
    """After a page: ``None`` (read the next one), ``_STOP``, or the error that ends the read
    (raised once this page's records are consumed, as a read that stops there would)."""
    pag = stream.pagination
    if not records or (pag.stop == "short_page" and len(records) < pag.limit):
        return _STOP
    if pag.stop == "total":
        total = pag.total(response) if pag.total else None
        if not isinstance(total, int) or isinstance(total, bool):
            return BadResponse(f"{stream.where}: total expression {pag.total.source!r} gave {total!r}, expected an integer",
                               call=stream.call)
        if received >= total:
            return _STOP
    if pages >= max_pages:
        if ctx.max_pages and pages >= ctx.max_pages:
            return _STOP
        return PaginationError(f"{stream.where}: more than max_pages={pag.max_pages} pages; stopped (runaway pagination)")
    return None


def _followed(ctx: RunContext, stream: Stream, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """next_url pagination: each answer names the next page's URL, which is called as given
    (``{NEXT_URL_PARAM: url}``); a URL that comes back is a loop and fails the read."""
    pag = stream.pagination
    max_pages = min(pag.max_pages, ctx.max_pages or pag.max_pages)
    seen: set[str] = set()
    digests: set[str] = set()
    pages = 0
    while True:
        response, records = ctx.fetch(stream.call, params, _accepting(stream, pairs=True))
        pages += 1
        if records:
            digest = _page_digest(records)
            if digest in digests:
                raise PaginationError(f"{stream.where}: page {pages} repeats an earlier page; stopped so no record is read twice")
            digests.add(digest)
        yield from records
        url = pag.next(response) if pag.next is not None else None
        if not url:
            return
        if not isinstance(url, str):
            raise BadResponse(f"{stream.where}: next expression {pag.next.source!r} gave {url!r}, expected a URL", call=stream.call)
        if url in seen:
            raise PaginationError(f"{stream.where}: page {pages + 1} would repeat an earlier page URL; stopped so no record is read twice")
        if pages >= max_pages:
            if ctx.max_pages and pages >= ctx.max_pages:
                return
            raise PaginationError(f"{stream.where}: more than max_pages={pag.max_pages} pages; stopped (runaway pagination)")
        seen.add(url)
        params = {NEXT_URL_PARAM: url}


def window_map(
    fn: Callable[[Any], Any],
    items: Iterable[Any],
    concurrency: int,
    *,
    when: Callable[[Any], Any] | None = None,
    window: int | None = None,
) -> Iterator[tuple[Any, Any]]:
    """``(item, fn(item))`` in input order, computed on a pool of *concurrency* threads.

    Items for which ``when(item)`` is falsy get ``None`` without a call. At most
    ``2 × concurrency`` calls are in flight and at most *window* items (default
    ``2 × concurrency``) are read ahead of the one being yielded.
    """
    if concurrency <= 1:
        for item in items:
            yield item, fn(item) if when is None or when(item) else None
        return
    limit = 2 * concurrency
    window = window or limit
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="lmsync-pool")
    pending: deque = deque()  # (item, future or None), in input order
    it = iter(items)
    in_flight = 0
    exhausted = False

    def fill() -> None:
        nonlocal in_flight, exhausted
        while not exhausted and in_flight < limit and len(pending) < window:
            item = next(it, _END)
            if item is _END:
                exhausted = True
            elif when is None or when(item):
                pending.append((item, pool.submit(fn, item)))
                in_flight += 1
            else:
                pending.append((item, None))

    try:
        fill()
        while pending:
            item, future = pending.popleft()
            result = None
            if future is not None:
                result = future.result()
                in_flight -= 1
            fill()  # keep the calls going while the consumer works on this item
            yield item, result
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def iter_stream(ctx: RunContext, stream: Stream, params=None) -> Iterator[dict[str, Any]]:
    """The records of *stream*, fanned out, filtered and grouped (after its ``prepare`` calls)."""
    _made(ctx, stream.prepare)
    if stream.from_:
        records: Iterable[dict[str, Any]] = ctx.source_records(stream.from_)
    elif stream.fan_out:
        records = _fan_out(ctx, stream, stream.fan_out, params)
    else:
        records = _paged(ctx, stream, None, params)
    keep = stream.filter
    if keep is not None:
        records = (rec for rec in records if keep(rec))
    if stream.group is not None:
        records = _grouped(stream, records)
    yield from records


def _grouped(stream: Stream, records: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Adjacent records with one group key as one record (``engine.spec.Group``)."""
    key_of, name = stream.group.key, stream.group.as_
    ended: set[Any] = set()
    first: dict[str, Any] | None = None
    current: Any = _END
    rows: list[dict[str, Any]] = []
    for rec in records:
        k = key_of(rec)
        if k is None or isinstance(k, dict | list):
            raise BadResponse(f"{stream.where}: group key {key_of.source!r} gave {k!r} for a record; filter such records out first",
                              call=stream.call)
        if k != current:
            if first is not None:
                ended.add(current)
                yield {**first, name: rows, GROUP_KEY: current}  # a new dict: the rows hold the first record itself
            if k in ended:
                raise PaginationError(f"{stream.where}: records with group key {k!r} are not adjacent; "
                                      "the source must be sorted by the group key (nothing was stored)")
            first, current, rows = rec, k, []
        rows.append(rec)
    if first is not None:
        yield {**first, name: rows, GROUP_KEY: current}


def _fan_out(ctx: RunContext, stream: Stream, fan: FanOut, params) -> Iterator[dict[str, Any]]:
    def fetch(parent: Any) -> list[dict[str, Any]]:
        return list(_paged(ctx, stream, parent, params))

    for parent, records in window_map(fetch, ctx.parents(fan), fan.concurrency):
        for rec in records:
            if fan.as_:
                rec[fan.as_] = parent
            yield rec


def _lookup_call(ctx: RunContext, step: Lookup, record: dict[str, Any]) -> Any:
    params = step.params.render({"record": record, "settings": ctx.settings, "since": ctx.since})
    try:
        return ctx.fetch(step.call, params, functools.partial(step.expect.take, step.call))
    except RemoteError as exc:
        if exc.code in step.ignore_errors:
            return _IGNORED
        raise


def iter_enriched(ctx: RunContext, spec: Spec, chunk: int = 512) -> Iterator[dict[str, Any]]:
    """The spec's source records with every enrichment attached (joins indexed first).

    Enrichment steps are chained lazily, in spec order, so look-up calls overlap the source's
    own calls and never drain between batches; *chunk* bounds how far a look-up step reads
    ahead of the record it is waiting for."""
    # ``delta.when`` is settled per integration by ``SpecSet.for_settings`` (false: no reads here)
    if ctx.delta and spec.delta_reads and ctx.since is not None:
        source = ctx.tapped(spec.model, _delta_reads(ctx, spec))
    else:
        params = spec.source.params.merged(spec.delta_params) if ctx.delta and spec.delta_params else None
        source = ctx.tapped(spec.model, iter_stream(ctx, spec.source, params))
    skipped = spec.delta_skip if ctx.delta else frozenset()
    indexes = {id(step): ctx.join_index(step) for step in spec.enrich if isinstance(step, Join) and step.name not in skipped}
    records: Iterator[dict[str, Any]] = source
    for step in spec.enrich:
        if step.name in skipped:
            records = _stood_in(step, records)
        elif isinstance(step, Join):
            records = _with_join(step, indexes[id(step)], records)
        else:
            records = _with_lookup(ctx, step, records, chunk)
    yield from records


def _delta_reads(ctx: RunContext, spec: Spec) -> Iterator[dict[str, Any]]:
    """A DELTA's narrowed reads (``delta.reads``), in order, then its ``delta.after`` calls."""
    base = spec.source.params.merged(spec.delta_params) if spec.delta_params else spec.source.params
    for read in spec.delta_reads:
        stream = dataclasses.replace(spec.source, prepare=read.prepare)
        params = base.merged(read.params) if read.params else base
        for rec in iter_stream(ctx, stream, params):
            if read.new_only:
                rec[NEW_ONLY] = True
            yield rec
    _made(ctx, spec.delta_after)


def _made(ctx: RunContext, steps: tuple[Prepare, ...]) -> None:
    """Make calls whose answers are not used (``prepare``, ``delta.after``), in order."""
    for step in steps:
        ctx.call(step.call, step.params.render({"settings": ctx.settings, "since": ctx.since}))


def _stood_in(step: Join | Lookup, records: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """A DELTA's skipped enrichment: nothing read, the record marked so its stored answer stands
    in — unless the look-up's ``when`` is false for the record now (a FULL would not call it
    either: the record gets None, as there)."""
    when = step.when if isinstance(step, Lookup) else None
    for rec in records:
        rec[step.name] = None
        if when is None or when(rec):
            rec.setdefault(STAND_IN, []).append(step.name)
        yield rec


def _with_join(step: Join, index: dict[str, Any], records: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    name, match = step.name, step.match
    for rec in records:
        k = match(rec)
        rec[name] = index.get(str(k)) if k is not None else None
        yield rec


def _with_lookup(ctx: RunContext, step: Lookup, records: Iterator[dict[str, Any]], window: int) -> Iterator[dict[str, Any]]:
    """Attach *step*'s result to each record, in input order; ``when`` is checked before a call
    is made (a record that needs none gets None); *window* bounds the read-ahead."""
    call = functools.partial(_lookup_call, ctx, step)
    for rec, result in window_map(call, records, step.concurrency, when=step.when, window=window):
        if result is _IGNORED:
            result = None
            rec.setdefault(INCOMPLETE, []).append(step.name)
        rec[step.name] = result
        yield rec

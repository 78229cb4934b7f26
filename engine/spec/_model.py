"""The compiled form of a mapping spec (what the runner executes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.spec._expect import Expect
from engine.spec._jmes import Expr

#: The only parameter of a next_url page after the first: the URL the previous answer gave.
NEXT_URL_PARAM = "__url__"

__all__ = ["NEXT_URL_PARAM", "ParamTemplate", "Pagination", "FanOut", "Group", "Prepare", "DeltaRead", "Stream", "Join", "Lookup", "FieldMap", "Spec", "Expect"]


class ParamTemplate:
    """Call parameters with ``=expr`` leaves compiled; ``render(context)`` builds the params."""

    def __init__(self, tree: Any) -> None:
        self.tree = tree
        self.static = not _has_expr(tree)

    def render(self, context: dict[str, Any]) -> Any:
        """Evaluate every expression leaf against *context*."""
        return self.tree if self.static else _render(self.tree, context)

    def merged(self, other: "ParamTemplate") -> "ParamTemplate":
        """A template with *other*'s top-level keys overriding ours."""
        return ParamTemplate({**self.tree, **other.tree})


def _has_expr(node: Any) -> bool:
    if isinstance(node, Expr):
        return True
    if isinstance(node, dict):
        return any(_has_expr(v) for v in node.values())
    if isinstance(node, list):
        return any(_has_expr(v) for v in node)
    return False


def _render(node: Any, context: dict[str, Any]) -> Any:
    if isinstance(node, Expr):
        return node(context)
    if isinstance(node, dict):
        return {k: _render(v, context) for k, v in node.items()}
    if isinstance(node, list):
        return [_render(v, context) for v in node]
    return node


@dataclass(frozen=True)
class Pagination:
    """How a stream pages. ``type`` none/offset/page/next_url; see the spec schema for the stop rules."""

    type: str = "none"
    limit: int = 0
    start: int = 0
    stop: str = "empty_page"
    total: Expr | None = None
    max_pages: int = 100_000
    next: Expr | None = None  # next_url: where an answer says the next page is


@dataclass(frozen=True)
class FanOut:
    """Run a stream once per record of another model's source."""

    over: str | None
    stream: "Stream | None"
    keep: Expr | None
    as_: str | None
    concurrency: int


@dataclass(frozen=True)
class Group:
    """Merge adjacent records with the same ``key`` into one: the first, with every record of the
    group (itself included) under ``as_``. A key that comes back after its group ended means the
    source is not sorted by it: the read fails rather than keep two half records."""

    key: Expr
    as_: str


@dataclass(frozen=True)
class Prepare:
    """A call made once before a stream's first page (e.g. resetting server-side filters); its
    answer is not used."""

    call: str
    params: ParamTemplate


@dataclass(frozen=True)
class DeltaRead:
    """One narrowed read of a DELTA run (``delta.reads``): the source read again after its own
    ``prepare`` calls (instead of the source's) with ``params`` merged into the source's. With
    ``new_only`` its records whose remote id is stored (and not deleted) are dropped: such a
    read may see only part of a stored record (e.g. one of its grouped rows)."""

    prepare: tuple[Prepare, ...]
    params: ParamTemplate | None
    new_only: bool = False


@dataclass(frozen=True)
class Stream:
    """Where records come from. Exactly one of ``call`` / ``from_`` is set."""

    where: str
    call: str | None
    from_: str | None
    params: ParamTemplate
    records: Expr
    pagination: Pagination
    fan_out: FanOut | None
    filter: Expr | None
    expect: Expect | None = None  # the answer's shape; set by the loader (records must be a list)
    group: Group | None = None
    prepare: tuple[Prepare, ...] = ()


@dataclass(frozen=True)
class Join:
    """Index a second stream by ``key``; attach the entry matching ``match`` under ``name``."""

    name: str
    stream: Stream
    key: Expr
    match: Expr
    keep: Expr | None


@dataclass(frozen=True)
class Lookup:
    """One call per record where ``when`` holds; ``result`` of it attached under ``name``."""

    name: str
    call: str
    params: ParamTemplate
    when: Expr | None
    result: Expr
    ignore_errors: frozenset[str]
    concurrency: int
    expect: Expect | None = None  # the answer's shape; set by the loader (result must be present)
    feeds: frozenset[str] = frozenset()  # unified fields whose expressions read ``name``


@dataclass(frozen=True)
class FieldMap:
    """One unified field: its expression and, for id fields, the model the id points to."""

    name: str
    expr: Expr
    ref: str | None = None


@dataclass
class Spec:
    """A loaded, validated, compiled mapping spec."""

    model: str
    file: str
    description: str
    source: Stream
    enrich: list[Join | Lookup]
    remote_id: Expr
    fields: list[FieldMap]
    requires: list[str] = field(default_factory=list)
    delta_params: ParamTemplate | None = None
    delta_skip: frozenset[str] = frozenset()  # enrichments a DELTA does not read (stored answers stand in)
    delta_reads: tuple[DeltaRead, ...] = ()  # a DELTA reads these instead of the whole source
    delta_after: tuple[Prepare, ...] = ()  # calls a DELTA makes after its reads (e.g. clearing filters)
    delta_when: Expr | None = None  # ``{settings: …}`` → whether ``delta_reads`` are used
    defaults: dict[str, Any] = field(default_factory=dict)
    # a variant: used for the integrations whose settings make this true (``{settings: …}``);
    # a model's spec without ``when`` is its default
    when: Expr | None = None

    @property
    def functions(self) -> list[str]:
        """Every remote function this spec calls or declares, sorted (scope testing reads it)."""
        calls = set(self.requires)
        for stream in self.streams():
            if stream.call:
                calls.add(stream.call)
            calls.update(p.call for p in stream.prepare)
        calls.update(p.call for read in self.delta_reads for p in read.prepare)
        calls.update(p.call for p in self.delta_after)
        calls.update(step.call for step in self.enrich if isinstance(step, Lookup))
        return sorted(calls)

    def streams(self) -> list[Stream]:
        """The source stream, every join stream, and the inline parent streams of fan-outs."""
        out = []
        todo = [self.source, *(s.stream for s in self.enrich if isinstance(s, Join))]
        while todo:
            stream = todo.pop(0)
            out.append(stream)
            if stream.fan_out and stream.fan_out.stream:
                todo.append(stream.fan_out.stream)
        return out

    @property
    def depends_on(self) -> set[str]:
        """Models whose source records this spec reads (fan-out parents and ``from``)."""
        deps: set[str] = set()
        for stream in self.streams():
            if stream.from_:
                deps.add(stream.from_)
            if stream.fan_out and stream.fan_out.over:
                deps.add(stream.fan_out.over)
        return deps

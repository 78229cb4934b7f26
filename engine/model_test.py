"""Per-model tests: read one model on a small sample, map it, store nothing, report every step.

The authoring loop against a live site: for each remote call (a page) the report shows the
request (function and parameters; credentials never appear), an excerpt of the answer, how many
records the source stream extracted from it, and the records mapped from them with every
validation error; then a verdict (passed when no call failed and no record was invalid).

The sample: every paginated stream reads at most ``pages`` pages (``RunContext.max_pages``),
every fan-out only its first ``parents`` parents, and mapping stops after ``max_records``
records. Enrichments therefore only cover the sampled parents: a field built from a join may
show its "no match" value for records whose parent was not sampled.
"""

from __future__ import annotations

import contextlib
import json
import threading
from dataclasses import dataclass, field
from typing import Any

from engine.errors import LmsyncError, RecordError
from engine.mapper import RecordMapper
from engine.passthrough import redact_json
from engine.runner import RunContext, iter_enriched
from engine.spec import FanOut, Stream
from engine.store.base import Integration

__all__ = ["PageReport", "ModelTestReport", "run_model_test"]

_EXCERPT_CHARS = 1500
_RECORDS_PER_PAGE = 5
_ERRORS_PER_PAGE = 20


@dataclass
class PageReport:
    """One remote call of the sample and what came of it."""

    index: int
    call: str
    params: Any
    role: str  # "source" (the model's own records) or "enrichment" (parents, joins, look-ups)
    response_excerpt: str = ""
    records_in_response: int | None = None
    mapped: int = 0
    invalid: int = 0
    records: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class ModelTestReport:
    """The outcome of a per-model test."""

    integration_id: str
    model: str
    verdict: str = "passed"
    pages: list[PageReport] = field(default_factory=list)
    calls: int = 0
    extracted: int = 0
    mapped: int = 0
    invalid: int = 0
    truncated: bool = False
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    sample: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (``--json`` and the API)."""
        data = {k: v for k, v in self.__dict__.items() if k != "pages"}
        data["pages"] = [p.__dict__ for p in self.pages]
        return data


@dataclass
class _SampleContext(RunContext):
    """A run context whose fan-outs only visit their first ``max_parents`` parents."""

    max_parents: int = 3

    def parents(self, fan: FanOut) -> list[Any]:
        return super().parents(fan)[: self.max_parents]


def _root(specset: Any, stream: Stream) -> Stream:
    while stream.from_:
        stream = specset.specs[stream.from_].source
    return stream


class _Recorder:
    """Wraps the transport's ``call``: records each call as a page and tags source records."""

    def __init__(self, call: Any, redact: Any, source: Stream) -> None:
        self._call, self._redact, self._source = call, redact, source
        self.pages: list[PageReport] = []
        self.tags: dict[int, int] = {}
        self._keep: list[Any] = []  # keeps tagged records alive, so their ids stay unique
        self._lock = threading.Lock()

    def __call__(self, name: str, params: dict[str, Any]) -> Any:
        role = "source" if name == self._source.call else "enrichment"
        with self._lock:
            page = PageReport(len(self.pages), name, redact_json(params, self._redact), role)
            self.pages.append(page)
        try:
            response = self._call(name, params)
        except Exception as exc:
            page.error = self._redact(f"{exc.__class__.__name__}: {exc}")
            raise
        page.response_excerpt = self._redact(json.dumps(response, default=str, ensure_ascii=False)[:_EXCERPT_CHARS])
        if role == "source":
            self._tag(page, response)
        return response

    def _tag(self, page: PageReport, response: Any) -> None:
        try:
            records = self._source.records(response)
        except Exception:  # noqa: BLE001 - the run itself reports a broken records expression
            return
        if isinstance(records, list):
            page.records_in_response = len(records)
            with self._lock:
                self._keep.append(records)
                for rec in records:
                    self.tags[id(rec)] = page.index


def _map_sample(report: ModelTestReport, ctx: RunContext, spec: Any, integration: Integration, recorder: _Recorder, max_records: int) -> None:
    mapper = RecordMapper(spec, ctx, integration.id, list(integration.credentials.values()))
    orphan = PageReport(-1, "(records not traced to a call)", {}, "source")
    seen = 0
    with contextlib.closing(iter_enriched(ctx, spec)) as raws:
        for raw in raws:
            index = recorder.tags.get(id(raw))
            page = recorder.pages[index] if index is not None else orphan
            try:
                rec = mapper.map(raw)
            except RecordError as exc:
                page.invalid += 1
                if len(page.errors) < _ERRORS_PER_PAGE:
                    page.errors.append(str(exc))
            else:
                page.mapped += 1
                if len(page.records) < _RECORDS_PER_PAGE:
                    page.records.append({"id": rec.id, "remote_id": rec.remote_id, **rec.fields})
            seen += 1
            if seen >= max_records:
                report.truncated = True
                break
    if orphan.mapped or orphan.invalid:
        recorder.pages.append(orphan)


def run_model_test(engine: Any, integration: Integration, model: str, *, pages: int = 1, parents: int = 3,
                   max_records: int = 200) -> ModelTestReport:
    """Read *model* of *integration* on a sample (see the module docstring) without storing it.

    Raises ``LmsyncError`` for an unknown model; remote failures are reported, not raised.
    *engine* is a ``SyncEngine``."""
    specset = engine.specset_for(integration)
    if model not in specset.specs:
        raise LmsyncError(f"the {integration.connector} connector has no mapping for model {model!r} (known: {', '.join(specset.order())})")
    spec = specset.specs[model]
    report = ModelTestReport(integration.id, model, sample={"pages": pages, "parents": parents, "max_records": max_records})
    transport = engine.transport(integration)
    recorder = _Recorder(transport.call, transport.redact, _root(specset, spec.source))
    try:
        base = engine.context(integration, transport)
        ctx = _SampleContext(specset=specset, call=recorder, settings=base.settings, integration_info=base.integration_info,
                             max_pages=max(1, pages), max_parents=max(1, parents))
        _map_sample(report, ctx, spec, integration, recorder, max_records)
        report.warnings.extend(transport.redact(w) for w in ctx.warnings)
    except LmsyncError as exc:
        report.error = transport.redact(f"{exc.__class__.__name__}: {exc}")
    finally:
        transport.close()
    report.pages = recorder.pages
    report.calls = sum(1 for p in report.pages if p.index >= 0)
    report.extracted = sum(p.records_in_response or 0 for p in report.pages)
    report.mapped = sum(p.mapped for p in report.pages)
    report.invalid = sum(p.invalid for p in report.pages)
    if not report.mapped and not report.error:
        report.warnings.append("the sample produced no records")
    report.verdict = "failed" if report.error or report.invalid else "passed"
    return report

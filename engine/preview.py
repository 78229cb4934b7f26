"""Run one spec over saved answers: the authoring loop for people writing mappings.

Two inputs: a **capture** (``engine.capture``: every call of a model's sample, so fan-outs, joins
and look-ups run exactly as in a sync), or a **single answer** of the source call (a saved
response, or what ``lmsync passthrough`` printed, plain or ``--json``) whose enrichments are then
``null``. Besides invalid records, a preview warns where a mapping is silently wrong: a field that
is null in every record, and a bare name that is no key of any source record (``status: ACTIVE``
meant as the constant ``'ACTIVE'``).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from typing import Any

import jmespath

from engine.capture import Capture, map_all, replay_sample
from engine.errors import BadResponse, LmsyncError
from engine.mapper import RecordMapper
from engine.runner import RunContext, _extract
from engine.spec import Spec, SpecSet
from engine.spec._jmes import root_fields

__all__ = ["PreviewResult", "preview_response", "preview_capture", "unwrap_answer"]

_STATUS_LINE = re.compile(r"^\d{3} \S+\n")


@dataclass
class PreviewResult:
    """What a spec made of its input."""

    extracted: int = 0
    skipped: int = 0
    records: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    input_kind: str = "response"

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {"input": self.input_kind, "extracted": self.extracted, "skipped": self.skipped, "mapped": len(self.records),
                "records": self.records, "errors": self.errors, "warnings": self.warnings}


def unwrap_answer(text: str, data: Any | None) -> Any:
    """The remote answer inside what ``lmsync passthrough`` printed: ``--json`` output is
    ``{url, status, headers, data, warnings}``; plain output is a status line, the JSON, then
    ``warning:`` lines. Anything else is taken as the answer itself. *data* is *text* parsed,
    or None if it is not JSON."""
    if isinstance(data, dict) and {"url", "status", "data"} <= set(data) and "headers" in data:
        return data["data"]
    if data is not None:
        return data
    if _STATUS_LINE.match(text):
        body = "\n".join(line for line in text.split("\n")[1:] if not line.startswith("warning: "))
        return json.loads(body)
    raise ValueError("not JSON, a capture, or lmsync passthrough output")


def preview_response(spec: Spec, response: Any, *, base_url: str = "https://remote.example", integration_id: str = "preview:0") -> PreviewResult:
    """Extract the spec's source records from one *response*, apply its filter and map each one.

    Fan-out parents and enrichments are not fetched: they are ``null`` here, so fields built
    from them show what the mapping makes of a missing match (a capture runs them for real)."""
    ctx = RunContext(specset=SpecSet("preview", {spec.model: spec}), call=lambda *_: response,
                     integration_info={"id": integration_id, "base_url": base_url.rstrip("/"), "settings": {}})
    result = PreviewResult()
    stream = spec.source if not spec.source.from_ else None
    try:
        raws = _extract(stream, response) if stream else list(response if isinstance(response, list) else [])
    except BadResponse as exc:
        result.errors.append(str(exc))
        return result
    result.extracted = len(raws)
    if stream and stream.filter is not None:
        kept = [raw for raw in raws if stream.filter(raw)]
        result.skipped, raws = len(raws) - len(kept), kept
    for raw in raws:
        for step in spec.enrich:
            raw.setdefault(step.name, None)
    if spec.enrich:
        result.warnings.append(f"enrichments ({', '.join(s.name for s in spec.enrich)}) are null in a single-answer preview; "
                               f"capture the model (lmsync mappings capture {spec.model}) to run them")
    return _finish(result, spec, RecordMapper(spec, ctx, integration_id), raws)


def preview_capture(spec: Spec, specset: SpecSet, capture: Capture) -> PreviewResult:
    """Run *spec* over *capture* (its fan-outs, joins and look-ups answered from the file)."""
    result = PreviewResult(input_kind="capture")
    if capture.model != spec.model:
        result.warnings.append(f"the capture is of {capture.model}, the spec maps {spec.model}")
    if capture.error:
        result.warnings.append(f"the capture ended early: {capture.error}")
    try:
        raws, mapper = replay_sample(spec, specset, capture)
    except LmsyncError as exc:
        result.errors.append(str(exc))
        return result
    result.extracted = len(raws)
    return _finish(result, spec, mapper, raws)


def _finish(result: PreviewResult, spec: Spec, mapper: RecordMapper, raws: list[dict[str, Any]]) -> PreviewResult:
    result.records, errors = map_all(mapper, raws)
    result.errors.extend(errors)
    result.warnings.extend(silent_nulls(spec, result.records, len(raws)))
    result.warnings.extend(unknown_names(spec, raws, mapper.injected))
    return result


def _is_literal(source: str) -> bool:
    return _parsed(source).get("type") == "literal"


@functools.lru_cache(maxsize=1024)
def _parsed(source: str) -> dict[str, Any]:
    return jmespath.compile(source).parsed


def silent_nulls(spec: Spec, records: list[dict[str, Any]], attempted: int) -> list[str]:
    """A warning per mapped field (not a literal ``null``) that is null in every record."""
    if not records:
        return []
    out = []
    for fm in spec.fields:
        if not _is_literal(fm.expr.source) and all(rec.get(fm.name) is None for rec in records):
            out.append(f"fields.{fm.name}: null in all {len(records)} records (expression {fm.expr.source!r})")
    return out


def unknown_names(spec: Spec, raws: list[dict[str, Any]], injected: set[str]) -> list[str]:
    """A warning per bare name a field reads that no source record has as a key."""
    if not raws:
        return []
    keys = set(injected)
    for raw in raws:
        keys.update(raw)
    out = []
    for fm in spec.fields:
        for name in sorted(root_fields(fm.expr.source) - keys):
            hint = f"; for the constant write '{name}' (a raw string)" if name.isupper() or name.istitle() else ""
            out.append(f"fields.{fm.name}: no source record has a key {name!r} (expression {fm.expr.source!r}){hint}")
    return out

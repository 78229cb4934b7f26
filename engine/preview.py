"""Run one spec over a saved response: the authoring loop for people writing mappings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.errors import BadResponse, RecordError
from engine.mapper import RecordMapper
from engine.runner import RunContext, _extract
from engine.spec import Spec, SpecSet

__all__ = ["PreviewResult", "preview_response"]


@dataclass
class PreviewResult:
    """What a spec made of one response."""

    extracted: int = 0
    skipped: int = 0
    records: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {"extracted": self.extracted, "skipped": self.skipped, "records": self.records, "errors": self.errors}


def preview_response(spec: Spec, response: Any, *, base_url: str = "https://remote.example", integration_id: str = "preview:0") -> PreviewResult:
    """Extract the spec's source records from *response*, apply its filter and map each one.

    Fan-out parents and enrichments are not fetched: they are ``null`` in the preview, so
    fields that depend on them show what the mapping makes of a missing match.
    """
    ctx = RunContext(specset=SpecSet("preview", {spec.model: spec}), call=lambda *_: response,
                     integration_info={"id": integration_id, "base_url": base_url.rstrip("/"), "settings": {}})
    result = PreviewResult()
    stream = spec.source if not spec.source.from_ else None
    try:
        records = _extract(stream, response) if stream else list(response if isinstance(response, list) else [])
    except BadResponse as exc:
        result.errors.append(str(exc))
        return result
    mapper = RecordMapper(spec, ctx, integration_id)
    for raw in records:
        result.extracted += 1
        if stream and stream.filter is not None and not stream.filter(raw):
            result.skipped += 1
            continue
        for step in spec.enrich:
            raw.setdefault(step.name, None)
        try:
            rec = mapper.map(raw)
        except RecordError as exc:
            result.errors.append(str(exc))
            continue
        result.records.append({"id": rec.id, "remote_id": rec.remote_id, **rec.fields})
    return result

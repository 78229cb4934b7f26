"""Enriched raw record → validated ``MappedRecord`` (or a ``RecordError`` saying why not).

Per-model state (the JSON Schema validator, the ref fields, the remote_data keys) is prepared
once in ``RecordMapper.__init__``; ``map()`` does only per-record work.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from typing import Any

import jmespath.exceptions

from engine.errors import RecordError
from engine.ids import record_id
from engine.runner import RunContext, iter_enriched
from engine.spec import Join, Spec
from engine.store.base import MappedRecord
from schemas._loader import fast_model_check, model_validator

__all__ = ["RecordMapper", "canonical_hash", "iter_mapped"]

_dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def canonical_hash(value: Any) -> str:
    """A short hex digest of *value*'s canonical JSON (sorted keys, no spaces)."""
    return _digest(_dumps(value))


def _remote_id(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value)
    return text or None


class RecordMapper:
    """Maps the records of one spec for one integration."""

    def __init__(self, spec: Spec, ctx: RunContext, integration_id: str, secrets: Iterable[str] = ()) -> None:
        self.spec = spec
        self.integration_id = integration_id
        self.validator = model_validator(spec.model)
        self.check = fast_model_check(spec.model)
        self.secrets = [s for s in secrets if s]
        self.source_key = ctx.call_of(spec.source)
        self.integration_info = ctx.integration_info
        fan = spec.source.fan_out
        self.injected = {"_integration", *((fan.as_,) if fan and fan.as_ else ())}
        self.extra_keys: list[tuple[str, str]] = []  # (attached name, remote_data key)
        for step in spec.enrich:
            self.injected.add(step.name)
            key = ctx.call_of(step.stream) if isinstance(step, Join) else step.call
            if key == self.source_key or key in dict(self.extra_keys).values():
                key = f"{key}#{step.name}"
            self.extra_keys.append((step.name, key))

    def map(self, raw: dict[str, Any]) -> MappedRecord:
        """Map one enriched record; raise ``RecordError`` with field, value and remote id."""
        spec = self.spec
        raw["_integration"] = self.integration_info
        try:
            rid = _remote_id(spec.remote_id(raw))
        except jmespath.exceptions.JMESPathError as exc:
            raise RecordError(f"remote_id expression {spec.remote_id.source!r} failed: {exc}", model=spec.model, remote_id=None) from None
        if rid is None:
            raise RecordError(f"remote_id expression {spec.remote_id.source!r} gave no id", model=spec.model, remote_id=None, value=raw.get("id"))
        fields: dict[str, Any] = {}
        for fm in spec.fields:
            try:
                value = fm.expr(raw)
            except jmespath.exceptions.JMESPathError as exc:
                raise RecordError(f"expression {fm.expr.source!r} failed: {exc}", model=spec.model, remote_id=rid, field=fm.name) from None
            except (ValueError, TypeError, OverflowError) as exc:
                raise RecordError(f"expression {fm.expr.source!r} failed: {exc}", model=spec.model, remote_id=rid, field=fm.name) from None
            if fm.ref is not None:
                target = _remote_id(value)
                value = record_id(self.integration_id, fm.ref, target) if target is not None else None
            fields[fm.name] = value
        fields.update(spec.defaults)
        if not self.check(fields):
            # the reference validator has the last word and writes the message
            error = next(iter(self.validator.iter_errors(fields)), None)
            if error is not None:
                name = ".".join(str(p) for p in error.absolute_path) or "(record)"
                raise RecordError(error.message, model=spec.model, remote_id=rid, field=name, value=error.instance)
        remote_data, raw_hash = self._remote_data(raw)
        return MappedRecord(
            id=record_id(self.integration_id, spec.model, rid),
            remote_id=rid,
            fields=fields,
            remote_data=remote_data,
            content_hash=canonical_hash(fields),
            raw_hash=raw_hash,
        )

    def _remote_data(self, raw: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """The record's ``remote_data`` (secrets redacted) and its canonical hash (encoded once)."""
        own = {k: v for k, v in raw.items() if k not in self.injected}
        data = {self.source_key: own}
        for name, key in self.extra_keys:
            if raw.get(name) is not None:
                data[key] = raw[name]
        text = _dumps(data)
        if any(s in text for s in self.secrets):
            for s in self.secrets:
                text = text.replace(s, "[REDACTED]")
            data = json.loads(text)
            return data, canonical_hash(data)
        return data, _digest(text)


def iter_mapped(ctx: RunContext, spec: Spec, integration_id: str, secrets: Iterable[str] = ()) -> Iterator[MappedRecord | RecordError]:
    """Every record of *spec*, mapped; invalid ones are yielded as ``RecordError`` (never
    dropped silently). A remote id seen twice in one stream is yielded once, with a warning."""
    mapper = RecordMapper(spec, ctx, integration_id, secrets)
    seen: set[str] = set()
    duplicates = 0
    for raw in iter_enriched(ctx, spec):
        try:
            rec = mapper.map(raw)
        except RecordError as exc:
            yield exc
            continue
        if rec.id in seen:
            duplicates += 1
            continue
        seen.add(rec.id)
        yield rec
    if duplicates:
        ctx.warn(f"{spec.model}: {duplicates} records repeated a remote id within one read; each was kept once")

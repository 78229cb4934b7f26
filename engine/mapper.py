"""Enriched raw record → validated ``MappedRecord`` (or a ``RecordError`` saying why not).

Per-model state (the JSON Schema validator, the ref fields, the remote_data keys) is prepared
once in ``RecordMapper.__init__``; ``map()`` does only per-record work.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import jmespath.exceptions
import orjson

from engine.errors import RecordError
from engine.ids import record_id
from engine.runner import GROUP_KEY, INCOMPLETE, NEW_ONLY, STAND_IN, RunContext, iter_enriched
from engine.scope_config import ScopeConfig
from engine.secrets import redact_value, secret_pattern
from engine.spec import Join, Lookup, Spec
from engine.spec._jmes import root_fields
from engine.store.base import MappedRecord, StoredRecord
from schemas._loader import fast_model_check, model_validator

__all__ = ["RecordMapper", "StoredReader", "canonical_hash", "canonical_json", "iter_mapped"]

#: Reads stored records by lmsync id (``Store.get_many`` of one integration and model).
StoredReader = Callable[[Sequence[str]], dict[str, StoredRecord]]
_KEEP_BATCH = 256
_REF_CACHE = 65_536  # ref ids remembered per target model (~10 MB at most)

#: The canonical JSON of the hashes: stored hashes were computed from this text, so it must never change.
_dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode
# orjson writes the same bytes for plain JSON values (same escapes, same key order, same
# numbers) except floats between 1e-10 and 1e-4 (stdlib 1e-05 and 1e-07, orjson 0.00001 and
# 1e-7: _stdlib_float_form finds them, and at worst a string that looks alike) and NaN/Infinity
# (null); subclasses, datetimes and dataclasses are refused by _refuse
_CANONICAL_OPTIONS = (orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATETIME
                      | orjson.OPT_PASSTHROUGH_DATACLASS)
_SHORT_EXPONENT = re.compile(rb"[0-9]e-[1-9](?![0-9])")


def _stdlib_float_form(text: bytes) -> bool:
    """Whether *text* may hold a float the stdlib writes differently (substring tests first:
    the regex alone scans every position)."""
    return b"0.0000" in text or (b"e-" in text and _SHORT_EXPONENT.search(text) is not None)


def _refuse(value: Any) -> Any:
    raise TypeError


def canonical_json(value: Any) -> bytes:
    """*value*'s canonical JSON (sorted keys, no spaces, UTF-8): byte for byte the stdlib
    ``_dumps`` text. orjson writes it when that is provably the same text: it accepted the value
    with every non-JSON type refused, no float needs the stdlib's exponent form, and the text
    reads back equal to *value* (no NaN/Infinity, tuple, enum or UUID slipped through);
    otherwise the stdlib encoder writes it."""
    try:
        text = orjson.dumps(value, default=_refuse, option=_CANONICAL_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError: a type, key or integer it does not take as is
        return _dumps(value).encode()
    if not _stdlib_float_form(text) and orjson.loads(text) == value:
        return text
    return _dumps(value).encode()


def _digest(text: bytes) -> str:
    return hashlib.blake2b(text, digest_size=16).hexdigest()


def canonical_hash(value: Any) -> str:
    """A short hex digest of *value*'s canonical JSON (sorted keys, no spaces)."""
    return _digest(canonical_json(value))


def _remote_id(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value)
    return text or None


class RecordMapper:
    """Maps the records of one spec for one integration."""

    def __init__(self, spec: Spec, ctx: RunContext, integration_id: str, secrets: Iterable[str] = (),
                 scope: ScopeConfig | None = None) -> None:
        self.spec = spec
        self.integration_id = integration_id
        self.validator = model_validator(spec.model)
        self.check = fast_model_check(spec.model)
        self.secrets = [s for s in secrets if s]
        self.secret_pattern = secret_pattern(self.secrets)
        self.source_key = ctx.call_of(spec.source)
        self.integration_info = ctx.integration_info
        fan = spec.source.fan_out
        self.injected = {"_integration", INCOMPLETE, STAND_IN, NEW_ONLY, GROUP_KEY, *((fan.as_,) if fan and fan.as_ else ())}
        self.group_as = spec.source.group.as_ if spec.source.group is not None else None
        # the group key is the remote id when both are one expression: computed once per record
        self.key_is_id = spec.source.group is not None and spec.source.group.key.source == spec.remote_id.source
        self.feeds = {step.name: step.feeds for step in spec.enrich if isinstance(step, Lookup)}
        # (name, evaluate, ref model, expression) per field: the per-record loop skips the
        # attribute look-ups and ``Expr.__call__``'s extra frame
        self._fields = [(fm.name, fm.expr.evaluate, fm.ref, fm.expr) for fm in spec.fields]
        self._ref_ids: dict[str, dict[str, str]] = {fm.ref: {} for fm in spec.fields if fm.ref is not None}
        self.extra_keys: list[tuple[str, str]] = []  # (attached name, remote_data key)
        for step in spec.enrich:
            self.injected.add(step.name)
            key = ctx.call_of(step.stream) if isinstance(step, Join) else step.call
            if key == self.source_key or key in dict(self.extra_keys).values():
                key = f"{key}#{step.name}"
            self.extra_keys.append((step.name, key))
        # scope config: disabled fields are not evaluated (null); the source keys and look-ups
        # their expressions read are left out of remote_data (all of it without store_remote_data)
        self.disabled = scope.disabled_fields(spec.model) if scope is not None else frozenset()
        self.store_raw = scope is None or scope.store_remote_data
        withheld = frozenset().union(*(root_fields(fm.expr.source) for fm in spec.fields if fm.name in self.disabled))
        self.hidden = self.injected | withheld
        self._fields = [f for f in self._fields if f[0] not in self.disabled]
        self.disabled_nulls = dict.fromkeys(self.disabled)  # after spec.defaults too
        self.extra_keys_kept = [(name, key) for name, key in self.extra_keys if name not in withheld]

    def map(self, raw: dict[str, Any]) -> MappedRecord:
        """Map one enriched record; raise ``RecordError`` with field, value and remote id."""
        spec = self.spec
        raw["_integration"] = self.integration_info
        try:
            rid = _remote_id(raw[GROUP_KEY] if self.key_is_id and GROUP_KEY in raw else spec.remote_id(raw))
        except jmespath.exceptions.JMESPathError as exc:
            raise RecordError(f"remote_id expression {spec.remote_id.source!r} failed: {exc}", model=spec.model, remote_id=None) from None
        if rid is None:
            raise RecordError(f"remote_id expression {spec.remote_id.source!r} gave no id", model=spec.model, remote_id=None, value=raw.get("id"))
        fields: dict[str, Any] = {}
        for name, evaluate, ref, expr in self._fields:
            try:
                value = evaluate(raw)
            except jmespath.exceptions.JMESPathError as exc:
                raise RecordError(f"expression {expr.source!r} failed: {exc}", model=spec.model, remote_id=rid, field=name) from None
            except (ValueError, TypeError, OverflowError) as exc:
                raise RecordError(f"expression {expr.source!r} failed: {exc}", model=spec.model, remote_id=rid, field=name) from None
            if ref is not None:
                value = self._ref_id(ref, value)
            fields[name] = value
        fields.update(spec.defaults)
        if self.disabled:
            fields.update(self.disabled_nulls)
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

    def _ref_id(self, ref: str, value: Any) -> str | None:
        """The lmsync id of the *ref* record whose remote id is *value* (None without one);
        remembered per target, as many records point at the same few (a course's progressions)."""
        target = _remote_id(value)
        if target is None:
            return None
        known = self._ref_ids[ref]
        rid = known.get(target)
        if rid is None:
            if len(known) >= _REF_CACHE:
                known.clear()
            rid = known[target] = record_id(self.integration_id, ref, target)
        return rid

    def keep_stored(self, raw: dict[str, Any], rec: MappedRecord, old: StoredRecord | None) -> MappedRecord:
        """*rec* for a record some of whose look-ups failed with an ignored error (absence of
        data is not a change) or whose enrichments a DELTA skipped. The stored answer (in *old*'s
        remote_data) stands in and the fields are mapped again, so fresh data still decides where
        it does (a suspension); for a failed look-up without a stored answer, the fields it feeds
        keep their stored values."""
        if old is None:
            return rec
        names = raw.get(INCOMPLETE) or []
        keys = dict(self.extra_keys)
        prior = {n: (old.remote_data or {}).get(keys[n]) for n in [*names, *(raw.get(STAND_IN) or [])]}
        if any(v is not None for v in prior.values()):
            raw.update({n: v for n, v in prior.items() if v is not None})
            try:
                rec = self.map(raw)
            except RecordError:  # the stored answer no longer maps: keep the stored fields
                raw.update(dict.fromkeys(prior))
        kept = {f for n in names if raw.get(n) is None for f in self.feeds.get(n, ())
                if f in old.fields and f not in self.disabled}
        if not kept:
            return rec
        fields = {**rec.fields, **{f: old.fields[f] for f in kept}}
        return dataclasses.replace(rec, fields=fields, content_hash=canonical_hash(fields))

    def _remote_data(self, raw: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """The record's ``remote_data`` (secrets redacted, scope-withheld keys left out) and its
        canonical hash (encoded once)."""
        if not self.store_raw:
            return {}, _digest(b"{}")
        hidden = self.hidden
        if self.group_as is not None:  # a grouped record is its rows: keep them once, not the first twice
            rows = [] if self.group_as in hidden else raw[self.group_as]
            own = {self.group_as: [{k: v for k, v in row.items() if k not in hidden} for row in rows]}
        else:
            own = {k: v for k, v in raw.items() if k not in hidden}
        data = {self.source_key: own}
        for name, key in self.extra_keys_kept:
            if raw.get(name) is not None:
                data[key] = raw[name]
        text = canonical_json(data)
        if self.secret_pattern is not None and self.secret_pattern.search(text.decode()):
            data = redact_value(json.loads(text), self.secret_pattern)  # per string, inside longer ones too
            return data, canonical_hash(data)
        return data, _digest(text)


def _mapped(mapper: RecordMapper, raws: Iterable[dict[str, Any]], stored: StoredReader | None) -> Iterator[MappedRecord | RecordError]:
    """Map *raws*; records with an ignored look-up error are held in small batches and given
    their stored values (``RecordMapper.keep_stored``) when *stored* can read them."""
    held: list[tuple[dict[str, Any], MappedRecord]] = []
    for raw in raws:
        try:
            rec = mapper.map(raw)
        except RecordError as exc:
            yield exc
            continue
        if stored is None or not (raw.get(INCOMPLETE) or raw.get(STAND_IN) or raw.get(NEW_ONLY)):
            yield rec
            continue
        held.append((raw, rec))
        if len(held) >= _KEEP_BATCH:
            yield from _release(mapper, held, stored)
            held = []
    yield from _release(mapper, held, stored)


def _release(mapper: RecordMapper, held: list[tuple[dict[str, Any], MappedRecord]], stored: StoredReader) -> Iterator[MappedRecord]:
    old = stored([rec.id for _, rec in held]) if held else {}
    for raw, rec in held:
        prior = old.get(rec.id)
        if raw.get(NEW_ONLY) and prior is not None and prior.remote_deleted_at is None:
            continue  # a ``new_only`` delta read saw a stored record, perhaps in part: a FULL reads it whole
        yield mapper.keep_stored(raw, rec, prior)


def iter_mapped(ctx: RunContext, spec: Spec, integration_id: str, secrets: Iterable[str] = (),
                stored: StoredReader | None = None, scope: ScopeConfig | None = None) -> Iterator[MappedRecord | RecordError]:
    """Every record of *spec*, mapped; invalid ones are yielded as ``RecordError`` (never
    dropped silently). A remote id seen twice in one stream is yielded once, with a warning.

    *stored* reads the stored records: with it, a record whose look-up failed with an ignored
    error keeps what is stored for the fields that look-up feeds (``RecordMapper.keep_stored``).
    *scope* (``engine.scope_config``) leaves disabled fields unmapped and trims ``remote_data``."""
    mapper = RecordMapper(spec, ctx, integration_id, secrets, scope)
    seen: set[str] = set()
    duplicates = 0
    for rec in _mapped(mapper, iter_enriched(ctx, spec), stored):
        if isinstance(rec, RecordError):
            yield rec
            continue
        if rec.id in seen:
            duplicates += 1
            continue
        seen.add(rec.id)
        yield rec
    if duplicates and not (ctx.delta and spec.delta_reads):  # narrowed delta reads may overlap
        ctx.warn(f"{spec.model}: {duplicates} records repeated a remote id within one read; each was kept once")

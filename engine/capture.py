"""Captures: every remote call one model's sample needs, saved so a spec can be previewed offline.

``lmsync mappings capture MODEL`` reads the model on the same sample as a per-model test (the
first pages of each stream, the first parents of each fan-out, the first records) and saves each
call's function, parameters and whole answer (credentials redacted) in one JSON file:

    {"lmsync_capture": 1, "connector": ..., "model": ..., "base_url": ..., "settings": {...},
     "sample": {"pages": 1, "parents": 3, "max_records": 200}, "calls": [{"call", "params", "response"}]}

``lmsync mappings preview SPEC --input FILE`` then replays it: the spec runs through the real
runner (pagination, fan-out, joins, look-ups) with each call answered from the file, so an edited
spec is tried without the site. A call the capture does not hold is an error naming it.
"""

from __future__ import annotations

import contextlib
import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from engine import errors
from engine.errors import LmsyncError, RecordError, RemoteError
from engine.mapper import RecordMapper
from engine.model_test import _SampleContext
from engine.passthrough import redact_json
from engine.runner import RunContext, iter_enriched
from engine.spec import Spec, SpecSet
from engine.store.base import Integration

__all__ = ["CAPTURE_VERSION", "CaptureMiss", "Capture", "is_capture", "run_capture", "replay_sample"]

CAPTURE_VERSION = 1


class CaptureMiss(LmsyncError):
    """A replayed spec asked for a call the capture does not hold."""


def _key(name: str, params: Any) -> str:
    return name + " " + json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)


def is_capture(data: Any) -> bool:
    """True if *data* (parsed JSON) is a capture file's content."""
    return isinstance(data, dict) and "lmsync_capture" in data


@dataclass
class Capture:
    """The content of a capture file."""

    connector: str
    model: str
    base_url: str
    settings: dict[str, Any] = field(default_factory=dict)
    sample: dict[str, int] = field(default_factory=lambda: {"pages": 1, "parents": 3, "max_records": 200})
    calls: list[dict[str, Any]] = field(default_factory=list)
    captured_at: str = ""
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The file's JSON object."""
        return {"lmsync_capture": CAPTURE_VERSION, **self.__dict__}

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "capture") -> "Capture":
        """Read a capture file's object; ``LmsyncError`` naming what is wrong."""
        if data.get("lmsync_capture") != CAPTURE_VERSION:
            raise LmsyncError(f"{where}: unsupported capture version {data.get('lmsync_capture')!r} (expected {CAPTURE_VERSION})")
        missing = [k for k in ("connector", "model", "base_url", "calls") if k not in data]
        if missing:
            raise LmsyncError(f"{where}: not a complete capture (missing {', '.join(missing)})")
        if not isinstance(data["calls"], list) or not all(isinstance(c, dict) and "call" in c and ("response" in c or "error" in c) for c in data["calls"]):
            raise LmsyncError(f"{where}: calls must be a list of {{call, params, response}} objects")
        return cls(**{k: v for k, v in data.items() if k != "lmsync_capture" and k in cls.__dataclass_fields__})

    def answers(self) -> "_Replay":
        """A ``call(name, params)`` answering from this capture."""
        return _Replay(self)


class _Replay:
    def __init__(self, capture: Capture) -> None:
        self._answers = {_key(c["call"], c.get("params", {})): c for c in capture.calls}
        self._model = capture.model

    def __call__(self, name: str, params: dict[str, Any]) -> Any:
        try:
            entry = self._answers[_key(name, params)]
        except KeyError:
            shown = json.dumps(params, sort_keys=True, default=str)
            raise CaptureMiss(f"the capture holds no answer for {name} {shown}; the spec calls something the "
                              f"capture did not (capture it again: lmsync mappings capture {self._model})") from None
        if entry.get("error"):
            e = entry["error"]
            cls = getattr(errors, str(e.get("type")), RemoteError)
            cls = cls if isinstance(cls, type) and issubclass(cls, RemoteError) else RemoteError
            raise cls(e.get("message") or "", call=name, code=e.get("code"), details=e.get("details"))
        return json.loads(json.dumps(entry["response"]))  # a fresh copy: the runner annotates records


class _Taker:
    """Wraps a transport's ``call``: keeps every call and its whole answer."""

    def __init__(self, call: Any) -> None:
        self._call = call
        self.calls: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def __call__(self, name: str, params: dict[str, Any]) -> Any:
        entry: dict[str, Any] = {"call": name, "params": json.loads(json.dumps(params, default=str))}
        try:
            response = self._call(name, params)
        except RemoteError as exc:  # a remote's own error is an answer too (specs may ignore it)
            entry.update(response=None, error={"type": type(exc).__name__, "code": exc.code, "message": exc.remote_message, "details": exc.details})
            raise
        else:
            entry["response"] = json.loads(json.dumps(response, default=str))  # before the runner annotates it
        finally:
            if "response" in entry:
                with self._lock:
                    self.calls.append(entry)
        return response


def _sample_context(specset: SpecSet, call: Any, settings: dict[str, Any], info: dict[str, Any], sample: dict[str, int]) -> RunContext:
    return _SampleContext(specset=specset, call=call, settings=settings, integration_info=info,
                          max_pages=max(1, sample["pages"]), max_parents=max(1, sample["parents"]))


def _drain(ctx: RunContext, spec: Spec, limit: int) -> list[dict[str, Any]]:
    """The first *limit* enriched source records of *spec*."""
    raws: list[dict[str, Any]] = []
    with contextlib.closing(iter_enriched(ctx, spec)) as records:
        for raw in records:
            raws.append(raw)
            if len(raws) >= limit:
                break
    return raws


def run_capture(engine: Any, integration: Integration, model: str, *, pages: int = 1, parents: int = 3, max_records: int = 200) -> Capture:
    """Read *model*'s sample from *integration*, keeping every call (nothing is stored).

    A remote failure ends the capture early and is kept in ``Capture.error`` with the calls
    made until then. *engine* is a ``SyncEngine``."""
    specset = engine.specset_for(integration)
    if model not in specset.specs:
        raise LmsyncError(f"the {integration.connector} connector has no mapping for model {model!r} (known: {', '.join(specset.order())})")
    transport = engine.transport(integration)
    taker = _Taker(transport.call)
    base = engine.context(integration, transport)
    sample = {"pages": pages, "parents": parents, "max_records": max_records}
    capture = Capture(integration.connector, model, integration.base_url.rstrip("/"), base.settings, sample,
                      captured_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    try:
        _drain(_sample_context(specset, taker, base.settings, base.integration_info, sample), specset.specs[model], max_records)
    except LmsyncError as exc:
        capture.error = f"{exc.__class__.__name__}: {exc}"
    finally:
        transport.close()
    capture.calls = taker.calls
    return Capture(**redact_json(capture.__dict__, transport.redact))


def replay_sample(spec: Spec, specset: SpecSet, capture: Capture) -> tuple[list[dict[str, Any]], RecordMapper]:
    """The enriched raw records *spec* reads from *capture* (the connector's other specs in
    *specset* serve fan-out parents and ``from`` streams) and a mapper for them."""
    specs = {**specset.specs, spec.model: spec}
    info = {"id": "preview:0", "base_url": capture.base_url, "settings": capture.settings}
    ctx = _sample_context(SpecSet(specset.connector, specs), capture.answers(), capture.settings, info, capture.sample)
    raws = _drain(ctx, spec, int(capture.sample.get("max_records", 200)))
    return raws, RecordMapper(spec, ctx, "preview:0")


def map_all(mapper: RecordMapper, raws: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """``(records, errors)`` of mapping *raws*."""
    records, errors = [], []
    for raw in raws:
        try:
            rec = mapper.map(raw)
        except RecordError as exc:
            errors.append(str(exc))
            continue
        records.append({"id": rec.id, "remote_id": rec.remote_id, **rec.fields})
    return records, errors

"""The deletion and regression guard: absence is not deletion.

A remote that answers an empty or short list once (a token that lost a capability, a
half-broken plugin) must not wipe the store. After a FULL run, for each model:

* records still referenced by a live record written in the same run (a ref field, see
  ``engine.models``) are kept (``kept_referenced``), even if their own stream omitted them;
* if the absent records (referenced ones included) are more than ``share`` of the model's live
  records and more than ``minimum`` records — or all of them — the remaining deletions are
  **held**: not applied, counted as ``held_deletions``, their ids stored (``held_changes``) for
  ``lmsync deletions confirm``.

While a model is written, a mass status regression (``engine.models.REGRESSIONS``, e.g. a
progression COMPLETED → anything, DROPPED → ENROLLED) over the same thresholds is held the same
way: those records keep their stored row and their new mapped record is stored for confirmation.

Thresholds: ``delete_guard_share`` / ``delete_guard_min`` in the integration's settings, else
``$LMSYNC_DELETE_GUARD_SHARE`` / ``$LMSYNC_DELETE_GUARD_MIN``, else 0.2 and 10; a share of 1
turns the guard off.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.errors import LmsyncError
from engine.models import MODELS, REGRESSIONS
from engine.store.base import Integration, MappedRecord, ModelWriter, Store, SyncRun

__all__ = ["GuardLimits", "limits_for", "exceeds", "apply_deletions", "RegressionFilter", "confirm", "held_counts", "confirmed"]

log = logging.getLogger("lmsync.guard")

_CHUNK = 5000


@dataclass(frozen=True)
class GuardLimits:
    """Hold changes above ``share`` (0..1) of a model's live records and above ``minimum``."""

    share: float = 0.2
    minimum: int = 10


def _number(value: Any, name: str, kind: type) -> Any:
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise LmsyncError(f"{name}: expected a number, got {value!r}") from None


def limits_for(integration: Integration) -> GuardLimits:
    """The guard thresholds of *integration* (its settings, then the environment, then defaults)."""
    settings = integration.settings or {}
    share = settings.get("delete_guard_share", os.environ.get("LMSYNC_DELETE_GUARD_SHARE", 0.2))
    minimum = settings.get("delete_guard_min", os.environ.get("LMSYNC_DELETE_GUARD_MIN", 10))
    share = _number(share, "delete_guard_share", float)
    if not 0 <= share <= 1:
        raise LmsyncError(f"delete_guard_share: expected a share between 0 and 1, got {share}")
    return GuardLimits(share, _number(minimum, "delete_guard_min", int))


def exceeds(n: int, live: int, limits: GuardLimits) -> bool:
    """True when *n* changes out of *live* records are too many to apply unconfirmed."""
    if limits.share >= 1:  # the guard is off
        return False
    return n > 0 and (n >= live or (n > limits.share * live and n > limits.minimum))


def _confirm_hint(run: SyncRun) -> str:
    return f"confirm with `lmsync deletions confirm {run.id}`"


def _referenced(store: Store, integration_id: str, model: str, gone: set[str], seen: dict[str, set[str]]) -> set[str]:
    """Those of *gone* that a record written in this run points at through a ref field."""
    kept: set[str] = set()
    ids = sorted(gone)
    for other, ids_seen in seen.items():
        for ref_field, target in MODELS[other].refs.items():
            if target != model:
                continue
            for start in range(0, len(ids), _CHUNK):
                for row in store.children(integration_id, other, ref_field, ids[start:start + _CHUNK]):
                    if row.id in ids_seen and row.remote_deleted_at is None:
                        kept.add(row.fields.get(ref_field))
    return kept & gone


def apply_deletions(store: Store, integration: Integration, run: SyncRun, seen: dict[str, set[str]], now: datetime) -> None:
    """Mark deleted what a complete FULL run did not see, unless referenced or held (see module)."""
    limits = limits_for(integration)
    for model, ids in seen.items():
        stats = run.stats[model]
        live = store.live_ids(integration.id, model)
        absent = live - ids
        kept = _referenced(store, integration.id, model, absent, seen) if absent else set()
        gone = absent - kept
        if kept:
            stats["kept_referenced"] = len(kept)
            run.warnings.append(f"kept referenced: {model} {len(kept):,} records absent from their list"
                                " are still referenced by live records; not marked deleted")
        # the decision counts every absent record, referenced ones too: a list that lost all
        # of its records lost them all, however many of them something still points at
        if gone and exceeds(len(absent), len(live), limits):
            store.hold(run.id, integration.id, model, "delete", [(rid, None) for rid in sorted(gone)])
            stats["held_deletions"] = len(gone)
            run.warnings.append(f"deletions held: {model} {len(gone):,} of {len(live):,} (over the "
                                f"{limits.share:.0%} guard); {_confirm_hint(run)}")
            log.warning("run %s of %s: %s", run.id, integration.id, run.warnings[-1])
        elif gone:
            stats["deleted"] = store.mark_ids_deleted(integration.id, model, sorted(gone), now, run_id=run.id)


class RegressionFilter:
    """Keeps mass status regressions of one model out of its writer (see module docstring).

    ``filter`` takes a batch and returns the records to write now; ``finish`` (still inside the
    writer) writes the set-aside regressions if they are few, or holds them. ``held_ids`` are
    the held records (they count as seen: their stored row stays live).
    """

    def __init__(self, store: Store, integration: Integration, model: str, run: SyncRun) -> None:
        self.store, self.integration, self.model, self.run = store, integration, model, run
        self.rules = REGRESSIONS.get(model, {})
        self.limits = limits_for(integration) if self.rules else GuardLimits()
        self.aside: list[tuple[MappedRecord, str]] = []
        self.held_ids: set[str] = set()

    def _regression(self, old: dict[str, Any], new: dict[str, Any]) -> str | None:
        for name, pairs in self.rules.items():
            before, after = old.get(name), new.get(name)
            if before != after and any(before == a and b in ("*", after) for a, b in pairs):
                return f"{before}→{after}"
        return None

    def filter(self, batch: list[MappedRecord], writer: ModelWriter | None = None) -> list[MappedRecord]:
        """The records of *batch* to write now (regressions are set aside). With *writer*, only
        the records it says may have changed are read back (``ModelWriter.maybe_changed``)."""
        if not self.rules or not batch:
            return batch
        candidates = writer.maybe_changed(batch) if writer is not None else batch
        if not candidates:
            return batch
        stored = self.store.get_many(self.integration.id, self.model, [r.id for r in candidates], with_remote_data=False)
        keep: list[MappedRecord] = []
        for rec in batch:
            old = stored.get(rec.id)
            change = self._regression(old.fields, rec.fields) if old and old.remote_deleted_at is None else None
            if change:
                self.aside.append((rec, change))
            else:
                keep.append(rec)
        return keep

    def finish(self, writer: ModelWriter, now: datetime) -> Any:
        """Write or hold the set-aside regressions; the write counts of what was written (or None)."""
        if not self.aside:
            return None
        live = self.store.count(self.integration.id, self.model)
        if not exceeds(len(self.aside), live, self.limits):
            return writer.write([rec for rec, _ in self.aside], now)
        self.store.hold(self.run.id, self.integration.id, self.model, "regress",
                        [(rec.id, dataclasses.asdict(rec)) for rec, _ in self.aside])
        self.held_ids = {rec.id for rec, _ in self.aside}
        kinds: dict[str, int] = {}
        for _, change in self.aside:
            kinds[change] = kinds.get(change, 0) + 1
        what = ", ".join(f"{n:,} {c}" for c, n in sorted(kinds.items()))
        self.run.warnings.append(f"regressions held: {self.model} {len(self.aside):,} of {live:,} ({what}); "
                                 f"{_confirm_hint(self.run)}")
        log.warning("run %s of %s: %s", self.run.id, self.integration.id, self.run.warnings[-1])
        return None


def confirm(store: Store, run_id: str, now: datetime) -> dict[str, int]:
    """Apply the held changes of *run_id*; ``{model: applied}``. Refuses (``LmsyncError``)
    unless the run is still the integration's latest successful run."""
    run = store.get_run(run_id)
    if run is None:
        raise LmsyncError(f"no run {run_id!r}")
    held = store.held(run_id)
    if not held:
        raise LmsyncError(f"run {run_id} has no held changes")
    latest = next((r for r in store.list_runs(run.integration_id, limit=200) if r.status == "succeeded"), None)
    if latest is None or latest.id != run.id:
        raise LmsyncError(f"a newer run ({latest.id if latest else '?'}) of {run.integration_id} exists: "
                          "re-run the sync and confirm its held changes instead")
    applied: dict[str, int] = {}
    for model in MODELS:
        deletes = [rid for m, rid, kind, _ in held if m == model and kind == "delete"]
        records = [MappedRecord(**rec) for m, _, kind, rec in held if m == model and kind == "regress" and rec]
        if not deletes and not records:
            continue
        stats = run.stats.setdefault(model, {})
        if records:
            with store.writer(run.integration_id, model) as writer:
                writer.write(records, now)
            stats["confirmed_regressions"], stats["held_regressions"] = len(records), 0
        if deletes:
            marked = store.mark_ids_deleted(run.integration_id, model, deletes, now)
            stats["deleted"] = stats.get("deleted", 0) + marked
            stats["confirmed_deletions"], stats["held_deletions"] = marked, 0
        applied[model] = len(records) + len(deletes)
    run.warnings.append(f"held changes confirmed at {now.isoformat(timespec='seconds')}")
    store.update_run_stats(run.id, run.stats, run.warnings)
    store.clear_held(run.id)
    return applied


def held_counts(run: SyncRun) -> dict[str, int]:
    """``{model: held deletions + held regressions}`` of *run* (models with none left out)."""
    out = {m: int(s.get("held_deletions", 0)) + int(s.get("held_regressions", 0)) for m, s in run.stats.items()}
    return {m: n for m, n in out.items() if n}


def confirmed(run: SyncRun) -> bool:
    """True when held changes of *run* were confirmed."""
    return any("confirmed_deletions" in s or "confirmed_regressions" in s for s in run.stats.values())


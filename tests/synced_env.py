"""What every simulator test environment (``tests/moodle/simenv.py``,
``tests/canvas/canvas_simenv.py``) offers over its store, engine and one integration."""

from __future__ import annotations

from typing import Any

from engine.ids import record_id
from engine.models import MODEL_ORDER, MODELS
from engine.store.base import Integration, Query, Store
from engine.sync import SyncEngine

__all__ = ["SyncedEnv", "readable", "state"]


class SyncedEnv:
    """Mixin of a dataclass with ``store``, ``engine`` and ``integration_id`` fields."""

    store: Store
    engine: SyncEngine
    integration_id: str

    def sync(self, kind: str = "FULL", models=None):
        """Run a sync of the integration."""
        return self.engine.sync(self.integration_id, kind, models)

    def rows(self, model: str, include_deleted: bool = False):
        """Every stored record of *model*."""
        out, after = [], None
        while True:
            page = self.store.query(Query(integration_id=self.integration_id, model=model, limit=250, after_id=after,
                                          include_deleted=include_deleted))
            out.extend(page)
            if len(page) < 250:
                return out
            after = page[-1].id

    def by_remote(self, model: str, include_deleted: bool = False) -> dict[str, Any]:
        """Stored records of *model* by remote id."""
        return {r.remote_id: r for r in self.rows(model, include_deleted)}

    def rid(self, model: str, remote_id: Any) -> str:
        """The lmsync id of a remote record."""
        return record_id(self.integration_id, model, str(remote_id))

    def integration(self) -> Integration:
        """The stored integration."""
        return self.store.get_integration(self.integration_id)


def readable(store: Store, iid: str) -> dict:
    """Every model of *iid* as ``{remote_id: fields}`` with ids resolved to remote ids (ids differ
    per integration), deleted ones marked: two integrations of one site compare equal."""
    back, out = {}, {}
    rows = {m: store.query(Query(integration_id=iid, model=m, limit=100_000, include_deleted=True)) for m in MODELS}
    for model, records in rows.items():
        back.update({r.id: f"{model}:{r.remote_id}" for r in records})
    for model, info in MODELS.items():
        out[model] = {r.remote_id: {**{k: back.get(v, v) if k in info.refs else v for k, v in r.fields.items()},
                                    "deleted": r.remote_deleted_at is not None}
                      for r in rows[model]}
    return out


def state(env: SyncedEnv) -> dict:
    """Live and deleted counts per model and the status of every live record that has one (what
    the fault corpora compare before and after a wrong answer)."""
    out = {}
    for m in MODEL_ORDER:
        rows = env.rows(m, include_deleted=True)
        out[m] = {"live": sum(r.remote_deleted_at is None for r in rows),
                  "deleted": sum(r.remote_deleted_at is not None for r in rows),
                  "status": {r.remote_id: r.fields.get("status") for r in rows if r.remote_deleted_at is None}}
    return out

"""A Canvas simulator on loopback plus a store and a sync engine pointed at it (test helper)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from connectors.canvas.simulator import ADMIN_TOKEN, CanvasApp, CanvasSite, create_app, run_in_thread, tiny_canvas_site
from engine.ids import record_id
from engine.store.base import Integration, Query, Store
from engine.store.sqlite import SQLiteStore
from engine.sync import SyncEngine
from engine.transport import RetryPolicy

__all__ = ["CanvasEnv", "canvas_env"]


@dataclass
class CanvasEnv:
    """A running simulator site, a store and an engine with one Canvas integration on that site."""

    site: CanvasSite
    app: CanvasApp
    base_url: str
    store: Store
    engine: SyncEngine
    integration_id: str = "canvas:TestIntegration00000000000"

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


@contextlib.contextmanager
def canvas_env(tmp_path, site: CanvasSite | None = None, token: str = ADMIN_TOKEN, settings: dict | None = None,
               policy: RetryPolicy | None = None):
    """Start a simulator for *site* (default ``tiny_canvas_site()``) and yield a ``CanvasEnv``."""
    site = site or tiny_canvas_site()
    store = SQLiteStore(tmp_path / "lmsync.sqlite3")
    store.migrate()
    app = create_app(site)
    with run_in_thread(app) as base_url:
        engine = SyncEngine(store, policy=policy or RetryPolicy(base_delay=0.01, max_delay=0.05))
        env = CanvasEnv(site, app, base_url, store, engine)
        store.add_integration(Integration(id=env.integration_id, connector="canvas", base_url=base_url,
                                          credentials={"token": token}, settings=dict(settings or {})))
        yield env

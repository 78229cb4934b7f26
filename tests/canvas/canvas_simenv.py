"""A Canvas simulator on loopback plus a store and a sync engine pointed at it (test helper)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from connectors.canvas.simulator import ADMIN_TOKEN, CanvasApp, CanvasSite, create_app, run_in_thread, tiny_canvas_site
from engine.store.base import Integration, Store
from engine.store.sqlite import SQLiteStore
from engine.sync import SyncEngine
from engine.transport import RetryPolicy
from tests.synced_env import SyncedEnv

__all__ = ["CanvasEnv", "canvas_env"]


@dataclass
class CanvasEnv(SyncedEnv):
    """A running simulator site, a store and an engine with one Canvas integration on that site."""

    site: CanvasSite
    app: CanvasApp
    base_url: str
    store: Store
    engine: SyncEngine
    integration_id: str = "canvas:TestIntegration00000000000"


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

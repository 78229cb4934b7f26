"""A Moodle simulator on loopback plus a store and a sync engine pointed at it (test helper)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from connectors.moodle.simulator import ADMIN_TOKEN, MoodleSite, SimControl, create_app, run_in_thread, tiny_site
from engine.ids import record_id
from engine.store.base import Integration, Query, Store
from engine.store.sqlite import SQLiteStore
from engine.sync import SyncEngine
from engine.transport import RetryPolicy

MODELS = ("users", "skills", "courses", "course_revisions", "revision_skills", "course_progressions")


@dataclass
class MoodleEnv:
    """A running simulator site, a store and an engine with one integration on that site."""

    site: MoodleSite
    control: SimControl
    base_url: str
    store: Store
    engine: SyncEngine
    integration_id: str = "moodle:TestIntegration00000000000"

    def sync(self, kind: str = "FULL", models=None):
        return self.engine.sync(self.integration_id, kind, models)

    def rows(self, model: str, include_deleted: bool = False):
        out, after = [], None
        while True:
            page = self.store.query(Query(integration_id=self.integration_id, model=model, limit=250, after_id=after, include_deleted=include_deleted))
            out.extend(page)
            if len(page) < 250:
                return out
            after = page[-1].id

    def by_remote(self, model: str, include_deleted: bool = False) -> dict[str, Any]:
        return {r.remote_id: r for r in self.rows(model, include_deleted)}

    def rid(self, model: str, remote_id: Any) -> str:
        return record_id(self.integration_id, model, str(remote_id))


@contextlib.contextmanager
def moodle_env(tmp_path, site: MoodleSite | None = None, token: str = ADMIN_TOKEN, store: Store | None = None, **app_kwargs):
    """Start a simulator for *site* (default ``tiny_site()``) and yield a ``MoodleEnv``."""
    site = site or tiny_site()
    control = app_kwargs.pop("control", None) or SimControl()
    if store is None:
        store = SQLiteStore(tmp_path / "lmsync.sqlite3")
    store.migrate()
    with run_in_thread(create_app(site, control, **app_kwargs)) as base_url:
        env = MoodleEnv(site, control, base_url, store, SyncEngine(store, policy=RetryPolicy(base_delay=0.01, max_delay=0.05)))
        store.add_integration(Integration(id=env.integration_id, connector="moodle", base_url=base_url, credentials={"token": token}))
        yield env



"""A Moodle simulator on loopback plus a store and a sync engine pointed at it (test helper)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from connectors.moodle.simulator import ADMIN_TOKEN, MoodleSite, SimControl, create_app, run_in_thread, tiny_site
from engine.store.base import Integration, Store
from engine.store.sqlite import SQLiteStore
from engine.sync import SyncEngine
from engine.transport import RetryPolicy
from tests.synced_env import SyncedEnv

MODELS = ("users", "skills", "courses", "course_revisions", "revision_skills", "course_progressions")


@dataclass
class MoodleEnv(SyncedEnv):
    """A running simulator site, a store and an engine with one integration on that site."""

    site: MoodleSite
    control: SimControl
    base_url: str
    store: Store
    engine: SyncEngine
    integration_id: str = "moodle:TestIntegration00000000000"


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



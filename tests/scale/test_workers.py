"""Many integrations synced by several Celery worker processes on Redis into PostgreSQL."""

from __future__ import annotations

import base64
import json
import re

import pytest

from connectors.moodle.simulator import SimControl
from engine.store.base import Integration
from engine.store.sqlite import SQLiteStore
from engine.sync import SyncEngine
from engine.worker import CelerySyncQueue
from scale_helpers import add_integration, simulators, small_site, snapshot, wait_for

pytestmark = [pytest.mark.scale, pytest.mark.postgres, pytest.mark.slow]


def _reference(tmp_path, integration: Integration) -> dict:
    """The data a direct single-process sync of *integration* stores."""
    ref = SQLiteStore(tmp_path / f"ref-{integration.id.replace(':', '_')}.sqlite3")
    ref.migrate()
    ref.add_integration(Integration(id=integration.id, connector="moodle", base_url=integration.base_url,
                                    credentials=dict(integration.credentials)))
    assert SyncEngine(ref).sync(integration.id).status == "succeeded"
    data = snapshot(ref, integration.id)
    ref.close()
    return data


def _succeeded(store, iid: str, after: set[str] = frozenset()):
    return next((r for r in store.list_runs(iid, 10) if r.status == "succeeded" and r.id not in after), None)


def test_twenty_integrations_spread_over_workers(store, workers, scale_env, tmp_path):
    names = ["a", "b", "c"]
    for name in names:
        workers.start(name)
    sites = [small_site(seed) for seed in range(20)]
    with simulators(sites) as urls:
        integrations = [add_integration(store, f"moodle:Scale{n:02d}xxxxxxxxxxxxxxxxx", url) for n, url in enumerate(urls)]
        queue = CelerySyncQueue(store)
        ids = {}
        for integration in integrations:
            sync_id, already = queue.force_sync(integration.id, "FULL")
            assert not already
            ids[integration.id] = sync_id
        again, already = queue.force_sync(integrations[0].id, "FULL")
        assert already and again == ids[integrations[0].id]

        runs = wait_for(lambda: [_succeeded(store, i.id) for i in integrations]
                        if all(_succeeded(store, i.id) for i in integrations) else None, 75, "20 successful syncs")
        assert {r.id for r in runs} == set(ids.values())  # the id force-sync answered is the run's id
        for integration in integrations:
            got = snapshot(store, integration.id)
            assert got == _reference(tmp_path, integration)
            assert sum(len(rows) for rows in got.values()) > 20
        # once finished, a new force-sync is queued afresh
        fresh, already = queue.force_sync(integrations[0].id, "DELTA")
        assert not already and fresh != ids[integrations[0].id]
        wait_for(lambda: _succeeded(store, integrations[0].id, {ids[integrations[0].id]}), 30, "the DELTA sync")
        queue.close()
    done = {n: len(re.findall(r"Task lmsync\.sync\[[^\]]+\] succeeded", workers.log(n))) for n in names}
    assert sum(done.values()) == 21
    assert sum(1 for v in done.values() if v) >= 2, done  # the syncs were spread over workers


def test_killed_worker_is_recovered_by_another(store, workers, scale_env, tmp_path):
    site = small_site(99, users=60, courses=8)
    control = SimControl(latency_ms=40)
    with simulators([site], control) as (url,):
        integration = add_integration(store, "moodle:Killedxxxxxxxxxxxxxxxxxx", url)
        control.latency_ms = 0
        first = SyncEngine(store).sync(integration.id)  # the data exists before the killed run
        assert first.status == "succeeded"
        before = snapshot(store, integration.id)
        control.latency_ms = 40

        workers.start("doomed")
        queue = CelerySyncQueue(store)
        sync_id, _ = queue.force_sync(integration.id, "FULL")
        wait_for(lambda: (r := store.get_run(sync_id)) and r.status == "running"
                 and control.calls.total() > 10 + sum(first.stats[m]["calls"] for m in first.stats), 30,
                 "the sync to be under way")
        workers.kill("doomed")
        assert store.get_run(sync_id).status == "running"  # nobody finished it
        assert snapshot(store, integration.id) == before  # nothing lost or marked deleted meanwhile

        workers.start("rescuer")
        recovered = wait_for(lambda: _succeeded(store, integration.id, {first.id}), 60, "the rescued sync")
        assert recovered.kind == "FULL"
        dead = store.get_run(sync_id)
        assert dead.status == "failed" and "abandoned" in dead.error
        assert "taking over" in workers.log("rescuer")
        after = snapshot(store, integration.id)
        assert after == before
        assert not any(deleted for rows in after.values() for (_r, _f, deleted) in rows.values())
        control.latency_ms = 0
        assert after == _reference(tmp_path, integration)
        queue.close()


def test_api_force_sync_goes_to_celery_when_a_broker_is_set(store, scale_env):
    import httpx

    from engine.api import create_api_key, serve_in_thread
    from engine.cli._sync import api_app
    from engine.jobs import make_sync_queue

    assert isinstance(make_sync_queue(SyncEngine(store)), CelerySyncQueue)
    integration = add_integration(store, "moodle:Apixxxxxxxxxxxxxxxxxxxxx", "http://127.0.0.1:9")
    key = create_api_key(store, "t", [integration.id])
    headers = {"Authorization": f"Bearer {key}", "X-Integration-Id": integration.id}
    with serve_in_thread(api_app(store, SyncEngine(store))) as base:
        first = httpx.post(f"{base}/v1/force-sync", headers=headers, json={"type": "DELTA"}).json()["data"]
        second = httpx.post(f"{base}/v1/force-sync", headers=headers, json={"type": "DELTA"}).json()["data"]
    assert first["already_queued"] is False and first["type"] == "DELTA"
    assert second == {**first, "already_queued": True}
    import redis

    client = redis.Redis.from_url(scale_env["LMSYNC_BROKER_URL"])
    [message] = [json.loads(m) for m in client.lrange(scale_env["LMSYNC_QUEUE"], 0, -1)]
    assert message["headers"]["task"] == "lmsync.sync"
    assert json.loads(base64.b64decode(message["body"]))[0] == [integration.id, "DELTA", first["sync_id"]]

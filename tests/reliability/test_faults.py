"""Faults: transient failures are retried to the same result; permanent ones fail cleanly and
lose nothing; a killed sync leaves a consistent store and the next sync recovers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from connectors.moodle.simulator import ADMIN_TOKEN, FAULT_KINDS, MoodleSite, SimControl, create_app, run_in_thread
from engine.models import MODEL_ORDER
from engine.store.base import Integration, Query
from engine.store.sqlite import SQLiteStore
from engine.sync import SyncEngine
from engine.transport import RetryPolicy

sys.path.insert(0, str(Path(__file__).parents[1] / "moodle"))
from simenv import moodle_env  # noqa: E402

FAST_RETRY = RetryPolicy(attempts=8, base_delay=0.005, max_delay=0.02, max_retry_after=0.05, timeout=1.0)


def snapshot(env) -> dict:
    """Every stored record (fields, remote_data, alive), with the simulator's URL neutralised."""
    data = {m: {r.remote_id: [r.fields, r.remote_data, r.remote_deleted_at is None] for r in env.rows(m, include_deleted=True)} for m in MODEL_ORDER}
    return json.loads(json.dumps(data).replace(env.base_url, "{site}"))


def _site() -> MoodleSite:
    return MoodleSite.generate(seed=11, users=60, courses=6, enrolments_per_course=12)


def test_five_percent_transient_faults_give_exactly_the_fault_free_result(tmp_path):
    with moodle_env(tmp_path / "clean", _site()) as clean:
        assert clean.sync().status == "succeeded"
        expected = snapshot(clean)
    control = SimControl(fault_rate=0.05, fault_kinds=FAULT_KINDS, seed=5, timeout_s=1.5, retry_after=0)
    with moodle_env(tmp_path / "faulty", _site(), control=control) as faulty:
        faulty.engine.policy = FAST_RETRY
        run = faulty.sync()
        assert run.status == "succeeded", run.error
        got = snapshot(faulty)
    assert sum(s["retries"] for s in run.stats.values()) >= 3  # faults really happened
    assert got == expected


def test_permanent_failure_mid_sync_marks_nothing_deleted(tmp_path):
    with moodle_env(tmp_path, _site()) as env:
        env.sync()
        before = snapshot(env)
        env.site.delete_user(max(u for u in env.site.users if not env.site.users[u].deleted))
        env.control.fail_function("core_enrol_get_users_courses", "dmlreadexception", after_n_calls=10)
        env.engine.policy = FAST_RETRY
        run = env.sync()
        assert run.status == "failed"
        assert "dmlreadexception" in run.error
        after = snapshot(env)
        # users were committed (the deletion is not marked: the run failed), progressions untouched
        assert all(alive for _, _, alive in after["users"].values())
        assert after["course_progressions"] == before["course_progressions"]
        runs = env.store.list_runs(env.integration_id)
        assert runs[0].status == "failed" and runs[1].status == "succeeded"


def test_moodle_that_stays_down_fails_cleanly(tmp_path):
    with moodle_env(tmp_path, _site()) as env:
        env.sync()
        before = snapshot(env)
        env.control.fault_rate, env.control.fault_kinds = 1.0, ("http503",)
        env.control.retry_after = 0
        env.engine.policy = FAST_RETRY
        run = env.sync()
        assert run.status == "failed" and "HTTP 503" in run.error
        assert snapshot(env) == before


def _count(store, iid, model):
    return len(store.query(Query(integration_id=iid, model=model, limit=250, include_deleted=True)))


@pytest.mark.slow
def test_sigkill_mid_sync_leaves_a_consistent_store_and_the_next_sync_recovers(tmp_path):
    site = MoodleSite.generate(seed=2, users=150, courses=15, enrolments_per_course=15)
    control = SimControl(latency_ms=15)
    db = tmp_path / "lmsync.sqlite3"
    env = {**os.environ, "LMSYNC_DATABASE_URL": f"sqlite:///{db}",
           "LMSYNC_HEARTBEAT_S": "0.2", "LMSYNC_STALE_AFTER_S": "1"}
    with run_in_thread(create_app(site, control)) as base:
        store = SQLiteStore(db)
        store.migrate()
        store.add_integration(Integration(id="moodle:KillTest000000000000000000", connector="moodle", base_url=base, credentials={"token": ADMIN_TOKEN}))
        proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "sync", "--json"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.time() + 30
        while time.time() < deadline and control.calls["core_enrol_get_users_courses"] < 20:
            time.sleep(0.05)
        assert control.calls["core_enrol_get_users_courses"] >= 20, proc.stderr.read() if proc.poll() is not None else "slow"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        # the killed run: earlier models committed, progressions rolled back, nothing deleted
        iid = "moodle:KillTest000000000000000000"
        live_users = [u for u in site.users.values() if not u.deleted and u.username != "guest"]
        assert _count(store, iid, "users") == len(live_users)
        assert _count(store, iid, "course_progressions") == 0
        assert store.list_runs(iid)[0].status == "running"
        time.sleep(1.5)
        control.latency_ms = 0
        run = SyncEngine(store, heartbeat_s=0.3, stale_after_s=1).sync(iid)
        assert run.status == "succeeded", run.error
        runs = store.list_runs(iid)
        assert runs[1].status == "failed" and "abandoned" in runs[1].error
        assert _count(store, iid, "course_progressions") > 100

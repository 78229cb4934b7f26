"""Operability of ``lmsync sync`` / ``demo`` / ``serve``: a stable demo target, refused model
names, cancellation, non-blocking webhooks, busy ports, 80-column output. Real subprocesses
where processes, ports or signals matter."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.cli._target import demo_integration, site_reachable
from engine.store import open_store

REPO = Path(__file__).resolve().parents[2]
LMSYNC = [sys.executable, "-m", "engine.cli"]


@pytest.fixture
def env(tmp_path):
    return {**os.environ, "LMSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 's.sqlite3'}", "COLUMNS": "80",
            "LMSYNC_HEARTBEAT_S": "1"}


def lmsync(env, *args, timeout=60):
    return subprocess.run([*LMSYNC, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout)


def store_of(env):
    store = open_store(env["LMSYNC_DATABASE_URL"])
    store.migrate()
    return store


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def totals(run: dict) -> tuple[int, int]:
    return (sum(s["created"] for s in run["stats"].values()), sum(s["updated"] for s in run["stats"].values()))


def test_demo_resync_writes_nothing_and_keeps_its_url(env):
    first = lmsync(env, "sync", "--json")
    assert first.returncode == 0, first.stderr
    second = lmsync(env, "sync", "--json")
    assert second.returncode == 0, second.stderr
    run1, run2 = json.loads(first.stdout), json.loads(second.stdout)
    assert totals(run1)[0] > 0
    assert totals(run2) == (0, 0)
    assert run2["started_at"].endswith("Z") and "T" in run2["started_at"]


def test_sync_does_not_repoint_a_running_demo(env):
    store = store_of(env)
    with demo_integration(store) as demo:
        url = demo.base_url
        done = lmsync(env, "sync", "--model", "users", "--json")
        assert done.returncode == 0, done.stderr
        assert store.get_integration(demo.id).base_url == url
        assert site_reachable(url)


def test_unknown_model_is_refused_with_a_guess(env):
    done = lmsync(env, "sync", "--model", "progressions")
    assert done.returncode == 2
    assert "did you mean course_progressions" in done.stderr and "Traceback" not in done.stderr


def test_table_and_help_are_readable_at_80_columns(env):
    done = lmsync(env, "sync", "--model", "course_progressions", "--model", "course_revisions")
    assert done.returncode == 0, done.stderr
    table = done.stdout
    assert "course_progressions" in table and "course_revisions" in table
    assert "…" not in table and "None" not in table
    assert all(len(line) <= 80 for line in table.splitlines())
    helptext = lmsync(env, "sync", "--help").stdout
    options = [line for line in helptext.splitlines() if "--json" in line or "--model" in line or "--store" in line]
    assert len(options) == 3 and not any("<bool>" in o or "<list[str]>" in o or "<str>" in o for o in options)
    sim = lmsync(env, "moodle-sim", "--help")
    assert sim.returncode == 0 and "--latency-ms" in sim.stdout


@pytest.fixture
def slow_site(env):
    port = free_port()
    sim = subprocess.Popen([*LMSYNC, "moodle-sim", "--port", str(port), "--latency-ms", "300"], env=env, cwd=REPO,
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    sim.stdout.readline()
    token = sim.stdout.readline().split(":", 1)[1].strip()
    while not site_reachable(f"http://127.0.0.1:{port}"):
        time.sleep(0.05)
    added = lmsync(env, "integrations", "add", "moodle", "--url", f"http://127.0.0.1:{port}", "--token", token, "--json")
    assert added.returncode == 0, added.stderr
    yield json.loads(added.stdout)["id"]
    sim.terminate()
    sim.wait(10)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_cancelled_sync_releases_the_lock(env, slow_site, sig):
    store = store_of(env)
    proc = subprocess.Popen([*LMSYNC, "sync"], env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while not store.list_runs(slow_site, limit=1):
        assert proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    assert "cancelled" in stderr and "Traceback" not in stderr
    assert store.list_runs(slow_site, limit=1)[0].status == "cancelled"
    again = lmsync(env, "sync", "--model", "users")
    assert again.returncode == 0, again.stderr


def test_lock_refusal_says_by_what_and_until_when(env, slow_site):
    store = store_of(env)
    from datetime import UTC, datetime
    run = store.start_run(slow_site, "FULL", datetime.now(UTC), stale_after_s=60)
    done = lmsync(env, "sync", "--model", "users")
    assert done.returncode == 1
    assert run.id in done.stderr and "heartbeat" in done.stderr and "stale" in done.stderr


def test_unreachable_webhook_does_not_hold_the_command(env):
    added = lmsync(env, "webhooks", "add", f"http://127.0.0.1:{free_port()}/hook")
    assert added.returncode == 0, added.stderr
    done = lmsync(env, "sync", "--model", "users", timeout=30)
    assert done.returncode == 0, done.stderr
    assert "webhook deliveries pending (lmsync webhooks deliveries)" in done.stdout
    pending = store_of(env).list_deliveries(status="pending")
    assert pending and all(d.next_attempt_at is not None and d.attempts == 1 for d in pending)


@pytest.mark.parametrize("command", ["demo", "serve"])
def test_busy_port_is_one_line_before_any_sync(env, command):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = lmsync(env, command, "--port", str(port), timeout=30)
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: port {port} is in use; choose another with --port"
    assert "curl" not in done.stdout + done.stderr
    assert not store_of(env).list_runs(limit=1)


def test_progress_is_reported_while_a_model_runs(tmp_path):
    from connectors.moodle.simulator import ADMIN_TOKEN, SimControl, create_app, run_in_thread, tiny_site
    from engine.cli._admin import new_integration
    from engine.sync import SyncEngine

    store = open_store(f"sqlite:///{tmp_path / 'p.sqlite3'}")
    store.migrate()
    with run_in_thread(create_app(tiny_site(), SimControl(latency_ms=300))) as url:
        integration = new_integration("moodle", url, {"token": ADMIN_TOKEN}, {})
        store.add_integration(integration)
        engine = SyncEngine(store)
        engine.progress_every_s = 0.01
        seen = []
        run = engine.sync(integration.id, "FULL", ["users"], on_progress=lambda p: seen.append((p.done, p.calls)))
    assert run.status == "succeeded"
    running = [calls for done, calls in seen if not done]
    assert len(running) >= 3 and seen[-1][0]  # the start, live ticks during the 300 ms call, the end


def test_runs_fits_80_columns_with_the_json_timestamps(env):
    assert lmsync(env, "sync", "--model", "users").returncode == 0
    table = lmsync(env, "runs").stdout
    data = json.loads(lmsync(env, "runs", "--json").stdout)
    assert "…" not in table and all(len(line) <= 80 for line in table.splitlines())
    assert data[0]["id"] in table and data[0]["started_at"] in table and data[0]["started_at"].endswith("Z")
    assert "Only the runs of this integration." in lmsync(env, "runs", "--help").stdout

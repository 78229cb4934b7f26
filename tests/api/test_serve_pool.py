"""`lmsync serve` (the real command, in a child process) keeps its store connections bounded."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from engine.api import create_api_key
from engine.secrets import generate_key
from engine.store import open_store
from engine.store.base import Integration

from .conftest import A, seed

ROOT = Path(__file__).resolve().parents[2]
POOL = 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fds_on(pid: int, prefix: str) -> int:
    n = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            n += os.readlink(fd).startswith(prefix)
        except OSError:
            pass
    return n


def _wait_ready(proc: subprocess.Popen, base: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read()
        try:
            if httpx.get(f"{base}/v1/openapi.json", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError("lmsync serve did not start")


def test_lmsync_serve_keeps_store_connections_within_the_pool_under_concurrent_rounds(tmp_path, monkeypatch):
    db = tmp_path / "serve.sqlite3"
    monkeypatch.setenv("LMSYNC_SECRET_KEY", generate_key())
    store = open_store(f"sqlite://{db}")
    store.migrate()
    store.add_integration(Integration(id=A, connector="moodle", base_url="https://lms.example.org", credentials={}))
    seed(store, A, n_users=40)
    headers = {"Authorization": f"Bearer {create_api_key(store, 't', [A])}", "X-Integration-Id": A}
    store.close()
    port = _free_port()
    env = {**os.environ, "LMSYNC_DB_POOL_SIZE": str(POOL), "LMSYNC_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "serve", "--port", str(port), "--no-scheduler",
                             "--store", f"sqlite://{db}"], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(proc, base)
        peak = 0
        for _ in range(3):
            clients = [httpx.Client(base_url=base, headers=headers, timeout=30) for _ in range(16)]
            with ThreadPoolExecutor(16) as pool:
                codes = list(pool.map(lambda c: [c.get("/v1/lms/users", params={"page_size": 5}).status_code
                                                 for _ in range(5)], clients))
            peak = max(peak, _fds_on(proc.pid, str(db)))
            for c in clients:
                c.close()
            assert codes == [[200] * 5] * 16
        assert peak <= POOL * 2 + 1  # main file + WAL per connection, one shared -shm
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_the_server_outlasts_client_keep_alive_pools():
    # uvicorn's default (5 s) equals httpx's pool expiry: a client reusing a connection as the
    # server closes it saw "Server disconnected" (2 of 3,419 requests under load).
    from starlette.applications import Starlette

    from engine.api._server import server_config

    assert server_config(Starlette()).timeout_keep_alive > max(5.0, 15.0)  # httpx, aiohttp

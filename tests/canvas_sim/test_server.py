"""The standalone server (`python -m connectors.canvas.simulator`, later `lmsync canvas-sim`)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx

from connectors.canvas.simulator import ADMIN_TOKEN


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_module_entry_serves_the_tiny_site_until_terminated():
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "connectors.canvas.simulator", "--tiny", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        assert banner.strip() == f"Canvas simulator: http://127.0.0.1:{port}/api/v1"
        assert proc.stdout.readline().strip() == f"admin token: {ADMIN_TOKEN}"
        deadline = time.monotonic() + 10
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/api/v1/users/self",
                                     headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.05)
        assert response.status_code == 200 and response.json()["name"] == "Admin User"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_help_lists_the_options():
    out = subprocess.run([sys.executable, "-m", "connectors.canvas.simulator", "--help"], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0
    for option in ("--port", "--users", "--courses", "--enrolments-per-course", "--seed", "--latency-ms",
                   "--no-throttle", "--tiny"):
        assert option in out.stdout

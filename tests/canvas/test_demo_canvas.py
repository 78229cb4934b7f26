"""``lmsync demo --connector canvas`` from nothing: the Canvas simulator is synced and served,
as a real subprocess; the printed key reads the synced users over HTTP; Ctrl-C stops it."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_demo_with_the_canvas_connector_syncs_and_serves(tmp_path):
    env = {**os.environ, "LMSYNC_HOME": str(tmp_path / "home"), "COLUMNS": "100"}
    env.pop("LMSYNC_DATABASE_URL", None)
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "demo", "--connector", "canvas", "--port", str(port)],
                            env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        printed = ""
        deadline = time.monotonic() + 120
        while "curl" not in printed and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None:
                break
            printed += line
        key = re.search(r"API key: (\S+)", printed)
        iid = re.search(r"Integration: (canvas:\S+)", printed)
        assert key and iid, printed
        for _ in range(50):
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/v1/lms/users", params={"page_size": 5},
                                   headers={"Authorization": f"Bearer {key.group(1)}", "X-Integration-Id": iid.group(1)})
                break
            except httpx.ConnectError:
                time.sleep(0.2)
        assert answer.status_code == 200, answer.text
        assert len(answer.json()["data"]["results"]) == 5
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    assert proc.returncode in (0, 130)


def test_an_unknown_demo_connector_is_a_usage_error(tmp_path):
    env = {**os.environ, "LMSYNC_HOME": str(tmp_path / "home")}
    env.pop("LMSYNC_DATABASE_URL", None)
    done = subprocess.run([sys.executable, "-m", "engine.cli", "demo", "--connector", "blackboard", "--port", str(_free_port())],
                          env=env, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "no such connector" in done.stderr and "canvas" in done.stderr

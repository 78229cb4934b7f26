"""The real ``lmsync`` command against the Canvas simulator: add, sync, scope-test, passthrough."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from connectors.canvas.simulator import ADMIN_TOKEN, create_app, run_in_thread, tiny_canvas_site


def _lmsync(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], env=env, capture_output=True, text=True, timeout=120)


def test_add_sync_scope_test_and_passthrough(tmp_path):
    env = {**os.environ, "LMSYNC_HOME": str(tmp_path / "home")}
    env.pop("LMSYNC_DATABASE_URL", None)
    with run_in_thread(create_app(tiny_canvas_site())) as base:
        added = _lmsync("integrations", "add", "canvas", "--url", base + "/api/v1/courses/1", "--token", ADMIN_TOKEN,
                        "--setting", "per_page=3", "--json", env=env)
        assert added.returncode == 0, added.stderr
        assert "using the site root" in added.stderr
        iid = json.loads(added.stdout)["id"]
        synced = _lmsync("sync", "--integration", iid, "--json", env=env)
        assert synced.returncode == 0, synced.stderr
        stats = json.loads(synced.stdout)["stats"]
        assert {m: s["created"] for m, s in stats.items()} == {
            "users": 10, "skills": 3, "courses": 5, "course_revisions": 5, "revision_skills": 3, "course_progressions": 13}
        scoped = _lmsync("scope-test", "--integration", iid, "--json", env=env)
        assert scoped.returncode == 0, scoped.stdout + scoped.stderr
        assert {e["status"] for e in json.loads(scoped.stdout)["entries"]} == {"OK"}
        raw = _lmsync("passthrough", "--integration", iid, "GET /api/v1/users/{user_id}/logins", "--param", "user_id=6",
                      "--json", env=env)
        assert raw.returncode == 0, raw.stderr
        assert json.loads(raw.stdout)["data"][0]["workflow_state"] == "suspended"
        for out in (added, synced, scoped, raw):
            assert ADMIN_TOKEN not in out.stdout + out.stderr

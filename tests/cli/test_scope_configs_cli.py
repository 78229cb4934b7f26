"""``lmsync scope-configs create|list|bind`` through the real `lmsync` (subprocesses) on one
SQLite store; what they did is read back from the store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.store import open_store
from engine.store.base import Integration

REPO = Path(__file__).resolve().parents[2]
LMSYNC = [sys.executable, "-m", "engine.cli"]


@pytest.fixture
def env(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    return {**env, "LMSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'scope.sqlite3'}", "COLUMNS": "120"}


def lmsync(env, *args):
    return subprocess.run([*LMSYNC, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


def test_create_list_bind(env):
    store = open_store(env["LMSYNC_DATABASE_URL"])
    store.migrate()
    store.add_integration(Integration("moodle:Cli", "moodle", "https://lms.example.com", {"token": "x"}))
    done = lmsync(env, "scope-configs", "create", "private", "--disable-field", "users.work_email",
                  "--no-remote-data", "--disable-model", "skills", "--disable-action", "enroll", "--json")
    assert done.returncode == 0, done.stderr
    created = json.loads(done.stdout)
    assert created["fields"] == {"users.work_email": "DISABLED"} and created["store_remote_data"] is False
    listed = lmsync(env, "scope-configs", "list")
    assert listed.returncode == 0 and "private" in listed.stdout and "default" in listed.stdout
    bound = lmsync(env, "scope-configs", "bind", "moodle:Cli", "private")
    assert bound.returncode == 0, bound.stderr
    assert "moodle:Cli now uses scope config private" in bound.stdout
    scope = store.scope_config_of("moodle:Cli")
    assert scope.id == created["id"] and not scope.model_enabled("skills") and not scope.action_enabled("enroll")
    store.close()


def test_invalid_config_and_unknown_names_fail_with_one_line(env):
    bad = lmsync(env, "scope-configs", "create", "x", "--disable-field", "users.email")
    assert bad.returncode == 2
    assert "fields.users.email: users has no field 'email'; did you mean 'work_email'?" in bad.stderr
    assert "Traceback" not in bad.stderr
    missing = lmsync(env, "scope-configs", "bind", "moodle:Nope", "default")
    assert missing.returncode == 1 and "integration moodle:Nope does not exist" in missing.stderr


def test_a_config_with_optional_items_binds_a_new_connection(env):
    """OPTIONAL models, fields and actions from the CLI; a Connect link from the CLI names the config."""
    from test_connect_cli import stored

    done = lmsync(env, "scope-configs", "create", "choices", "--optional-model", "skills", "--optional-field",
                  "users.work_email", "--optional-action", "enroll", "--json")
    assert done.returncode == 0, done.stderr
    created = json.loads(done.stdout)
    assert (created["models"], created["fields"], created["actions"]) == (
        {"skills": "OPTIONAL"}, {"users.work_email": "OPTIONAL"}, {"enroll": "OPTIONAL"})
    link = lmsync(env, "connect", "create-link", "--email", "ada@school.example", "--org", "L", "--scope-config",
                  "choices", "--json")
    assert link.returncode == 0, link.stderr
    assert stored(env, json.loads(link.stdout)["link"]).scope_config_id == created["id"]
    unknown = lmsync(env, "connect", "create-link", "--email", "ada@school.example", "--org", "L", "--scope-config", "nope")
    assert unknown.returncode == 2 and "error: --scope-config: no scope config 'nope'" in unknown.stderr, unknown.stderr

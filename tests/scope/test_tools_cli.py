"""``lmsync passthrough``, ``scope-test`` and ``test-model`` from the command line (--json)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from connectors.moodle.simulator import ADMIN_TOKEN
from engine.cli import app


def _run(env, *args: str):
    url = f"sqlite://{env.store.path}" if hasattr(env.store, "path") else None
    result = CliRunner().invoke(app, [*args, "--integration", env.integration_id, "--json", *(["--store", url] if url else [])])
    assert ADMIN_TOKEN not in result.output
    return result


def test_cli_passthrough(admin_env):
    result = _run(admin_env, "passthrough", "core_user_get_users", "--param", 'criteria=[{"key": "id", "value": "5"}]')
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [u["id"] for u in data["data"]["users"]] == [5]


def test_cli_scope_test_and_test_model(admin_env):
    result = _run(admin_env, "scope-test")
    assert result.exit_code == 0, result.output
    assert {e["status"] for e in json.loads(result.stdout)["entries"]} == {"OK"}
    result = _run(admin_env, "test-model", "users", "--pages", "2")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["verdict"] == "passed"

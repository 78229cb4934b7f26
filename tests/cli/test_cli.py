"""The command line: conventions (--json on stdout, exit 0/1/2), integrations, sync, runs, keys."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connectors.moodle.simulator import ADMIN_TOKEN, create_app, run_in_thread, tiny_site
from engine.cli import app

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.setenv("LMSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    runner = CliRunner()
    return lambda *args, **kw: runner.invoke(app, list(args), **kw)


def test_integration_lifecycle_never_prints_the_token(cli):
    added = cli("integrations", "add", "moodle", "--url", "https://moodle.example/", "--token", ADMIN_TOKEN, "--setting", "student_role_id=5", "--json")
    assert added.exit_code == 0, added.output
    data = json.loads(added.stdout)
    assert re.fullmatch(r"moodle:[1-9A-HJ-NP-Za-km-z]{24}", data["id"])
    assert data["base_url"] == "https://moodle.example" and data["settings"] == {"student_role_id": 5}
    listed = cli("integrations", "list", "--json")
    assert [i["id"] for i in json.loads(listed.stdout)] == [data["id"]]
    assert ADMIN_TOKEN not in added.output + listed.output
    assert cli("integrations", "remove", data["id"], "--yes").exit_code == 0
    assert cli("integrations", "remove", data["id"], "--yes").exit_code == 1


@pytest.mark.parametrize(
    "args",
    [
        ["integrations", "add", "moodle", "--url", "ftp://x", "--token", "t"],
        ["integrations", "add", "moodle", "--url", "https://u:p@x", "--token", "t"],
        ["integrations", "add", "nosuch", "--url", "https://x", "--token", "t"],
        ["integrations", "add", "moodle", "--url", "https://x", "--token", "t", "--setting", "novalue"],
        ["sync", "--kind", "SOMETIMES"],
        ["sync", "--integration", "moodle:NoSuchIntegration000000000"],
        ["no-such-command"],
    ],
)
def test_usage_errors_exit_2(cli, args):
    assert cli(*args).exit_code == 2


def test_sync_against_a_site_then_runs(cli):
    with run_in_thread(create_app(tiny_site())) as base:
        added = json.loads(cli("integrations", "add", "moodle", "--url", base, "--token", ADMIN_TOKEN, "--json").stdout)
        result = cli("sync", "--json")
        assert result.exit_code == 0, result.output
        run = json.loads(result.stdout)
        assert run["status"] == "succeeded" and run["integration_id"] == added["id"]
        assert run["stats"]["users"]["created"] == 9
        again = json.loads(cli("sync", "--json", "--integration", added["id"], "--kind", "delta").stdout)
        assert again["kind"] == "DELTA" and again["stats"]["users"]["unchanged"] == 9
    runs = json.loads(cli("runs", "--json").stdout)
    assert [r["kind"] for r in runs] == ["DELTA", "FULL"]
    failed = cli("sync", "--json")  # the site is gone now
    assert failed.exit_code == 1 and json.loads(failed.stdout)["status"] == "failed"


def test_sync_without_integrations_uses_the_embedded_simulator(cli):
    result = cli("sync", "--json", "--model", "users")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["stats"]["users"]["created"] > 100


def test_api_key_is_shown_once(cli):
    out = json.loads(cli("api-keys", "create", "--name", "ci", "--json").stdout)
    assert out["api_key"].startswith("lms_")


def test_mappings_preview(cli, tmp_path):
    spec = REPO / "mappings" / "moodle" / "users.yaml"
    response = REPO / "tests" / "moodle" / "recorded" / "core_user_get_users.json"
    ok = cli("mappings", "preview", str(spec), "--input", str(response), "--json")
    assert ok.exit_code == 0, ok.output
    assert [r["remote_id"] for r in json.loads(ok.stdout)["records"]] == ["2", "5"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"users": [{"id": 9, "username": "x", "firstname": ["not", "text"], "suspended": False}]}))
    failed = cli("mappings", "preview", str(spec), "--input", str(bad), "--json")
    assert failed.exit_code == 1
    assert "users record '9': first_name" in json.loads(failed.stdout)["errors"][0]
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    assert cli("mappings", "preview", str(spec), "--input", str(garbage)).exit_code == 1

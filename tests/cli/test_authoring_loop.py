"""The authoring loop: capture a model, preview a spec offline (fan-out, joins, look-ups replayed),
preview what ``lmsync passthrough`` prints, warnings for silent nulls, and the operator's own specs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connectors.moodle.simulator import ADMIN_TOKEN, create_app, run_in_thread, tiny_site
from engine.cli import app

REPO = Path(__file__).resolve().parents[2]
SPECS = REPO / "mappings" / "moodle"


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.setenv("LMSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    monkeypatch.setenv("LMSYNC_MAPPINGS_DIR", str(tmp_path / "my-mappings"))
    runner = CliRunner()
    return lambda *args: runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def site(cli):
    with run_in_thread(create_app(tiny_site())) as base:
        assert cli("integrations", "add", "moodle", "--url", base, "--token", ADMIN_TOKEN).exit_code == 0
        yield base


def _stored(model):
    from engine.cli._common import get_store
    from engine.store.base import Query

    store = get_store(None)
    integration = store.list_integrations()[0]
    return store.query(Query(integration.id, model, limit=10_000))


def _preview(cli, spec, source):
    result = cli("mappings", "preview", spec, "--input", source, "--json")
    return result, json.loads(result.stdout) if result.stdout.strip().startswith("{") else None


def test_a_capture_previews_fan_out_joins_and_look_ups_as_a_sync_maps_them(cli, site, tmp_path):
    capture = tmp_path / "cp.json"
    assert cli("mappings", "capture", "course_progressions", "-o", capture).exit_code == 0
    saved = json.loads(capture.read_text())
    assert {c["call"] for c in saved["calls"]} >= {"core_enrol_get_enrolled_users", "core_enrol_get_users_courses",
                                                 "core_completion_get_course_completion_status"}
    assert ADMIN_TOKEN not in capture.read_text()
    result, data = _preview(cli, SPECS / "course_progressions.yaml", capture)
    assert result.exit_code == 0, result.output
    assert data["input"] == "capture" and data["errors"] == [] and data["mapped"] > 0

    synced = json.loads(cli("sync", "--json").stdout)
    assert synced["status"] == "succeeded"
    stored = {r.remote_id: r for r in _stored("course_progressions")}
    # records whose enrichment parents were all in the sample map exactly as the sync stored them
    completed = [r for r in data["records"] if r["status"] == "COMPLETED"]
    assert completed, "the sample holds completed progressions (their time comes from the look-up)"
    for rec in completed:
        assert stored[rec["remote_id"]].fields["status"] == "COMPLETED"
        assert stored[rec["remote_id"]].fields["completed_at"] == rec["completed_at"]


def test_an_edited_spec_that_calls_something_else_names_the_missing_call(cli, site, tmp_path):
    capture = tmp_path / "users.json"
    assert cli("mappings", "capture", "users", "-o", capture).exit_code == 0
    edited = tmp_path / "users.yaml"
    edited.write_text((SPECS / "users.yaml").read_text().replace("  call: core_user_get_users\n", "  call: core_user_get_users_by_field\n"))
    result, data = _preview(cli, edited, capture)
    assert result.exit_code == 1
    assert "the capture holds no answer for core_user_get_users_by_field" in data["errors"][0]


@pytest.mark.parametrize("flags", [[], ["--json"]], ids=["plain", "json"])
def test_passthrough_output_previews_as_it_was_printed(cli, site, tmp_path, flags):
    out = cli("passthrough", "core_user_get_users", "--param", "criteria[0][key]=email", "--param", "criteria[0][value]=%", *flags)
    assert out.exit_code == 0
    saved = tmp_path / "answer.txt"
    saved.write_text(out.stdout)
    result, data = _preview(cli, SPECS / "users.yaml", saved)
    assert result.exit_code == 0, result.output
    assert data["extracted"] == 10 and data["skipped"] == 1 and data["mapped"] == 9  # the tiny site's users, guest filtered
    assert data["warnings"] == []


def test_silent_nulls_and_bare_names_are_warned_about(cli, tmp_path):
    answer = tmp_path / "answer.json"
    answer.write_text(json.dumps({"users": [{"id": 7, "username": "a", "firstname": "Ann", "lastname": "Lee", "email": "a@x.org",
                                             "suspended": False, "confirmed": True, "deleted": 0}], "warnings": []}))
    typo = tmp_path / "users.yaml"
    text = (SPECS / "users.yaml").read_text()
    assert "  first_name: firstname\n" in text
    text = text.replace("  first_name: firstname\n", "  first_name: fistname\n")
    text = "\n".join("  status: ACTIVE" if line.startswith("  status:") else line for line in text.split("\n"))
    typo.write_text(text)
    result, data = _preview(cli, typo, answer)
    assert result.exit_code == 0
    assert any(w.startswith("fields.first_name: no source record has a key 'fistname'") for w in data["warnings"])
    assert any(w.startswith("fields.status: no source record has a key 'ACTIVE'") and "'ACTIVE'" in w for w in data["warnings"])
    clean, data = _preview(cli, SPECS / "users.yaml", answer)
    assert clean.exit_code == 0 and not [w for w in data["warnings"] if "first_name" in w or "status" in w]


def test_zero_records_mapped_exits_1_and_says_why(cli, tmp_path):
    empty, wrong = tmp_path / "empty.json", tmp_path / "wrong.json"
    empty.write_text(json.dumps({"users": [], "warnings": []}))
    wrong.write_text(json.dumps({"courses": [{"id": 2}]}))
    result = cli("mappings", "preview", SPECS / "users.yaml", "--input", empty)
    assert result.exit_code == 1
    assert "0 records mapped" in result.output and "'users' found none" in result.output
    result = cli("mappings", "preview", SPECS / "users.yaml", "--input", wrong)
    assert result.exit_code == 1 and "answer has no list at `users` (got an object with keys: courses)" in result.output


def test_a_file_that_is_neither_json_nor_passthrough_output_is_refused(cli, tmp_path):
    junk = tmp_path / "junk.txt"
    junk.write_text("hello\nworld\n")
    result = cli("mappings", "preview", SPECS / "users.yaml", "--input", junk)
    assert result.exit_code == 1 and "not JSON, a capture, or lmsync passthrough output" in result.output


def test_own_mapping_directory_overrides_a_model_for_sync(cli, site, tmp_path):
    mine = tmp_path / "my-mappings" / "moodle"
    exported = cli("mappings", "export", "moodle", "users")
    assert exported.exit_code == 0, exported.output
    spec = mine / "users.yaml"
    spec.write_text(spec.read_text().replace("  first_name: firstname\n", "  first_name: lastname\n"))
    assert cli("mappings", "export", "moodle", "users").exit_code == 2  # no silent overwrite
    listed = json.loads(cli("mappings", "list", "moodle", "--json").stdout)
    origins = {r["model"]: r["origin"] for r in listed["specs"]}
    assert origins["users"] == "user" and origins["courses"] == "package"
    assert cli("sync", "--model", "users").exit_code == 0
    users = _stored("users")
    assert users and all(u.fields["first_name"] == u.remote_data["core_user_get_users"].get("lastname") for u in users)


def test_two_own_specs_for_one_model_are_refused_naming_both(cli, site, tmp_path):
    mine = tmp_path / "my-mappings" / "moodle"
    mine.mkdir(parents=True)
    for name in ("a.yaml", "b.yaml"):
        (mine / name).write_text((SPECS / "users.yaml").read_text())
    env = {**os.environ, "LMSYNC_MAPPINGS_DIR": str(tmp_path / "my-mappings")}
    result = subprocess.run([sys.executable, "-m", "engine.cli", "sync", "--model", "users"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr  # one line, no traceback
    assert "b.yaml:1: a second spec for model 'users'" in result.stderr and "a.yaml" in result.stderr

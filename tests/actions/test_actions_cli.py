"""The write-action commands of the CLI against the Moodle simulator (one shared store file)."""

from __future__ import annotations

import json

import pytest
from action_helpers import item
from typer.testing import CliRunner

from engine.cli import app

runner = CliRunner()


def _run(menv, *args: str, as_json: bool = True):
    store = f"sqlite://{menv.store.path}"
    return runner.invoke(app, [*args, "--integration", menv.integration_id, "--store", store, *(["--json"] if as_json else [])])


def test_cli_actions(menv, tmp_path):
    items = tmp_path / "items.json"
    items.write_text(json.dumps({"items": [item("cli-1", "From the CLI"), item("cli-bad", course_url="ftp://x")]}))
    res = _run(menv, "courses", "upsert", str(items))
    assert res.exit_code == 1  # one item failed
    out = json.loads(res.stdout)
    assert [r["status"] for r in out["data"]["data"]] == ["SUCCEEDED", "FAILED"]
    assert [c for c in menv.site.courses.values() if c.idnumber == "cli-1"]

    res = _run(menv, "courses", "deactivate", "remote:3")
    assert res.exit_code == 0 and json.loads(res.stdout)["data"]["revisions"][0]["status"] == "INACTIVE"

    res = _run(menv, "enroll", "--user", "remote:9", "--course-revision", menv.rid("course_revisions", 5))
    assert res.exit_code == 0 and json.loads(res.stdout)["data"]["remote_id"] == "5:9"

    res = _run(menv, "complete", "remote:2:9", "--score", "70", "--completed-at", "2024-04-15")
    assert res.exit_code == 0, res.output
    assert any("cron" in w["message"] for w in json.loads(res.stdout)["warnings"])
    assert menv.site.grades[(menv.site.cms[4].gradeitemid, 9)].rawgrade == 70.0

    res = _run(menv, "complete", "remote:5:9", "--score", "70")
    assert res.exit_code == 1 and res.stderr.startswith("error: PLATFORM.INPUT_INVALID")
    assert len(res.stderr.strip().splitlines()) == 1  # one line, no traceback

    res = _run(menv, "complete", "remote:2:9", "--score", "700")
    assert res.exit_code == 2
    items.write_text("{not json")
    assert _run(menv, "courses", "upsert", str(items)).exit_code == 2


def test_cli_upsert_mixed_human_output(menv, tmp_path):
    items = tmp_path / "items.json"
    items.write_text(json.dumps([item("mix-1"), item("mix-2", course_url="ftp://nowhere"), item("mix-3")]))
    res = _run(menv, "courses", "upsert", str(items), as_json=False)
    assert res.exit_code == 1
    text = " ".join(res.stdout.split())
    assert "2 of 3 courses upserted, 1 failed" in text
    assert "COMPLETED" not in text
    assert "mix-2" in text and "FAILED" in text and "PLATFORM.INPUT_INVALID" in text
    assert text.count("SUCCEEDED") == 2


def test_cli_upsert_all_succeeded(menv, tmp_path):
    items = tmp_path / "items.json"
    items.write_text(json.dumps([item("ok-1"), item("ok-2")]))
    res = _run(menv, "courses", "upsert", str(items), as_json=False)
    assert res.exit_code == 0, res.output
    assert "2 of 2 courses upserted" in " ".join(res.stdout.split()) and "failed" not in res.stdout


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "not JSON: Expecting property name enclosed in double quotes: line 1 column 2"),
    ('"a string"', "expected a list of items or {\"items\": [...]}"),
    ('{"things": []}', "expected a list of items"),
    ("[]", "no items to upsert"),
    (json.dumps([item("x-1"), "x-2"]), "items[1]: expected an object"),
    (json.dumps([item("x-1"), {"origin_id": "x-2"}]), "items[1] (origin_id 'x-2'): 'course' is a required property"),
    (json.dumps([{"course": item("x")["course"]}]), "items[0]: 'origin_id' is a required property"),
    (json.dumps([item("x-1"), {"origin_id": "x-2", "course": {"type": "EXTERNAL", "title": "T"}}]),
     "items[1] (origin_id 'x-2'): course: 'course_url' is a required property"),
    (json.dumps([item("x-1", duration=0)]), "items[0] (origin_id 'x-1'): course/duration: 0 is less than or equal"),
])
def test_cli_upsert_bad_items_file(menv, tmp_path, content, message):
    items = tmp_path / "items.json"
    items.write_text(content)
    before = len(menv.site.courses)
    res = _run(menv, "courses", "upsert", str(items))
    assert res.exit_code == 2
    line = " ".join(res.stderr.split())
    assert line.startswith(f"error: {items}: ") and message in line, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and res.stdout == ""
    assert len(menv.site.courses) == before  # nothing sent


def test_cli_upsert_missing_file(menv, tmp_path):
    res = _run(menv, "courses", "upsert", str(tmp_path / "absent.json"))
    assert res.exit_code == 2 and "absent.json: cannot read: No such file or directory" in res.stderr


def test_cli_help_documents_items_and_exit_codes():
    text = " ".join(runner.invoke(app, ["courses", "upsert", "--help"]).stdout.split())
    assert '"origin_id": "course-1"' in text and "course.course_url" in text and "Exit codes: 0" in text
    for cmd in (["enroll"], ["complete"], ["courses", "deactivate"]):
        assert "Exit codes: 0" in " ".join(runner.invoke(app, [*cmd, "--help"]).stdout.split()), cmd

"""The write-action commands of the CLI against the Moodle simulator (one shared store file)."""

from __future__ import annotations

import json

from action_helpers import item
from typer.testing import CliRunner

from engine.cli import app

runner = CliRunner()


def _run(menv, *args: str):
    store = f"sqlite://{menv.store.path}"
    return runner.invoke(app, [*args, "--integration", menv.integration_id, "--store", store, "--json"])


def test_cli_actions(menv, tmp_path):
    items = tmp_path / "items.json"
    items.write_text(json.dumps({"items": [item("cli-1", "From the CLI"), {"origin_id": "cli-bad"}]}))
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
    assert res.exit_code == 1 and "PLATFORM.INPUT_INVALID" in res.stderr

    res = _run(menv, "complete", "remote:2:9", "--score", "700")
    assert res.exit_code == 2
    items.write_text("{not json")
    assert _run(menv, "courses", "upsert", str(items)).exit_code == 2

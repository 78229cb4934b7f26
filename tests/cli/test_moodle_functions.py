"""`lmsync moodle functions` lists what the specs and actions call, and the guide for a real
Moodle lists exactly the same functions."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from engine.cli import app

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "connect-moodle.md"


def test_functions_match_the_specs_and_the_guide():
    result = CliRunner().invoke(app, ["moodle", "functions", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    listed = set(data["functions"] if isinstance(data, dict) else data)
    assert {"core_user_get_users", "core_webservice_get_site_info", "enrol_manual_enrol_users"} <= listed
    section = GUIDE.read_text().split("## 4.", 1)[1].split("## 5.", 1)[0]
    in_guide = set(re.findall(r"`([a-z]+_[a-z_]+)`", section))
    assert in_guide == listed

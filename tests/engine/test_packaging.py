"""A wheel carries the mappings and schemas (an installed lmsync must find them)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_wheel_contains_mappings_schemas_and_simulator_data(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), str(REPO)], check=True, timeout=300)
    wheel = next(tmp_path.glob("lmsync-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "schemas/mapping-spec.schema.json",
        "schemas/user.schema.json",
        "schemas/course-progression.schema.json",
        "mappings/moodle/users.yaml",
        "mappings/moodle/course_progressions.yaml",
        "connectors/moodle/simulator/functions.json",
        "engine/api/openapi-lms.json",
    ):
        assert required in names, required
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "lmsync = engine.cli:main" in text and "moodle = connectors.moodle.plugin" in text

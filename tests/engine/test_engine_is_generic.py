"""The engine never names an LMS: no connector's name appears in engine/ (code, comments, help)."""

from __future__ import annotations

import re
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[2] / "engine"
NAMES = re.compile(r"moodle|canvas|blackboard|brightspace", re.IGNORECASE)


def test_no_lms_is_named_in_the_engine():
    found = [f"{path.relative_to(ENGINE.parent)}:{n}: {line.strip()}"
             for path in sorted(ENGINE.rglob("*.py"))
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1) if NAMES.search(line)]
    assert found == []

"""Golden tests: each model synced from the fixed tiny site equals the expected unified records.

``golden/tiny.json`` is written for people to read: ids that point at other records are shown
as ``<model>:<remote id>`` and the simulator's port is replaced by ``{site}``. Regenerate it
after an intended change with ``LMSYNC_REGOLD=1 pytest tests/moodle/test_golden.py`` and read
the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from engine.models import MODELS

GOLDEN = Path(__file__).parent / "golden" / "tiny.json"


def readable(env) -> dict:
    """Every model as ``{remote_id: fields}`` with refs resolved to ``model:remote_id``."""
    back = {}
    for model in MODELS:
        for row in env.rows(model, include_deleted=True):
            back[row.id] = f"{model}:{row.remote_id}"
    out = {}
    for model, info in MODELS.items():
        records = {}
        for row in env.rows(model, include_deleted=True):
            fields = dict(row.fields)
            for ref in info.refs:
                fields[ref] = back.get(fields[ref], f"MISSING {fields[ref]}")
            if fields.get("remote_url"):
                fields["remote_url"] = fields["remote_url"].replace(env.base_url, "{site}")
            fields["deleted"] = row.remote_deleted_at is not None
            records[row.remote_id] = fields
        out[model] = dict(sorted(records.items(), key=lambda kv: [int(p) if p.isdigit() else p for p in kv[0].split(":")]))
    return out


def test_tiny_site_golden(tiny):
    run = tiny.sync()
    assert run.status == "succeeded", run.error
    assert run.warnings == []
    got = readable(tiny)
    if os.environ.get("LMSYNC_REGOLD"):
        GOLDEN.write_text(json.dumps(got, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    expected = json.loads(GOLDEN.read_text(encoding="utf-8"))
    for model in MODELS:
        assert got[model] == expected[model], model


def test_tiny_site_call_counts(tiny):
    run = tiny.sync()
    calls = {m: s["calls"] for m, s in run.stats.items()}
    # users 1; skills: frameworks 1 + one page per framework (2); courses 1; revisions reuse
    # the courses answer; revision skills one per course (4); progressions: per course one
    # page of enrolments and one of suspended enrolments (2 x 4), users_courses per user (9
    # non-guest users) + completion status for completed or hidden-course enrolments.
    assert calls["users"] == 1
    assert calls["skills"] == 3
    assert calls["courses"] == 1
    assert calls["course_revisions"] == 0
    assert calls["revision_skills"] == 4
    completion_lookups = tiny.control.calls["core_completion_get_course_completion_status"]
    assert calls["course_progressions"] == 8 + 9 + completion_lookups
    assert completion_lookups == 2  # user 5's ENG101 completion and user 5's hidden BUS220 enrolment


@pytest.fixture
def expected():
    return json.loads(GOLDEN.read_text(encoding="utf-8"))


def test_edge_cases_are_in_the_golden_file(expected):
    users, courses = expected["users"], expected["course_revisions"]
    progress = expected["course_progressions"]
    assert "1" not in users and "11" not in users  # guest skipped, deleted user absent
    assert users["4"]["status"] == "INACTIVE"  # suspended account
    assert courses["3"]["status"] == "INACTIVE"  # hidden course
    assert "1" not in expected["courses"]  # the site course
    assert not [k for k in expected["revision_skills"] if k.startswith("4:")]  # course without competencies
    assert not [k for k in progress if k.startswith("5:")]  # course without enrolments
    assert progress["2:5"]["status"] == "COMPLETED" and progress["2:5"]["completed_at"]
    assert progress["3:6"]["status"] == "DROPPED"  # suspended enrolment
    assert progress["2:9"]["status"] == "ENROLLED"  # not started
    assert progress["2:6"]["status"] == "IN_PROGRESS"
    assert {k for k in progress if k.endswith(":5")} == {"2:5", "3:5", "4:5"}  # one user, many courses

"""Fixtures of the write-action tests: a synced tiny Moodle simulator and an ActionService."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "moodle"))

from simenv import moodle_env  # noqa: E402

from engine.actions import ActionService  # noqa: E402


@pytest.fixture
def menv(tmp_path):
    """The tiny site, fully synced, plus ``menv.actions`` (an ActionService on its engine)."""
    with moodle_env(tmp_path) as env:
        assert env.sync().status == "succeeded"
        env.actions = ActionService(env.engine)
        yield env
        env.actions.close()


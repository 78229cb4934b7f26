"""Fixtures of the scope / passthrough / per-model test area: a simulator site + store + engine."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "moodle"))

from simenv import moodle_env  # noqa: E402

from connectors.moodle.simulator import ADMIN_TOKEN  # noqa: E402


@pytest.fixture
def admin_env(tmp_path):
    with moodle_env(tmp_path, token=ADMIN_TOKEN) as env:
        yield env

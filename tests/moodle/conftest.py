"""Fixtures of the Moodle connector tests."""

from __future__ import annotations

import pytest
from simenv import moodle_env


@pytest.fixture
def tiny(tmp_path):
    with moodle_env(tmp_path) as env:
        yield env

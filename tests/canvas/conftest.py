"""Fixtures of the Canvas connector tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from canvas_simenv import canvas_env  # noqa: E402


@pytest.fixture
def tiny(tmp_path):
    """The tiny Canvas site, synced by nobody yet."""
    with canvas_env(tmp_path) as env:
        yield env
